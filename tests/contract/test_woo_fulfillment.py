"""WooCommerce write-back against the WooCommerce simulator served on loopback.

Writes are counted at the simulator (``sim.calls``) and the order is read back from its store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import NotFound
from connectors.netguard import AddressPolicy
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.fulfillment import (
    TRACKING_META,
    add_note,
    complete_with_tracking,
    set_status,
    tracking_note,
)
from core.errors import Retryable
from sandbox.harness import Faults, RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator

SHIPPED = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
URL = "https://track.easypost.com/trk_1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[WooCommerceSimulator, RunningServer]]:
    sim = WooCommerceSimulator(https=False)
    with serve(sim) as running:
        sim.bind(running.url)
        yield sim, running


@pytest.fixture
def woo(server: tuple[WooCommerceSimulator, RunningServer]) -> tuple[WooCommerceSimulator, WooClient, str]:
    sim, running = server
    sim.reset()
    sim.faults = Faults()
    sim.add_product("Canvas Tote", sku="TOTE-RED", stock=10)
    ck, cs = sim.create_key("read_write")
    order_id = sim.place_order([("TOTE-RED", 2)])
    return (
        sim,
        WooClient(running.url, ck, cs, timeout_s=5, policy=AddressPolicy(allow_loopback=True)),
        str(order_id),
    )


def _order(sim: WooCommerceSimulator, order_id: str) -> dict[str, Any]:
    return sim.store.orders[int(order_id)]


def _tracking(sim: WooCommerceSimulator, order_id: str) -> list[dict[str, Any]]:
    meta = [m for m in _order(sim, order_id)["meta_data"] if m["key"] == TRACKING_META]
    assert len(meta) <= 1
    return list(meta[0]["value"]) if meta else []


def _our_notes(sim: WooCommerceSimulator, order_id: str) -> list[dict[str, Any]]:
    return [n for n in sim.store.notes.values() if n["order_id"] == int(order_id) and "Tracking" in n["note"]]


def test_complete_with_tracking_stores_meta_completes_and_notifies(
    woo: tuple[WooCommerceSimulator, WooClient, str],
) -> None:
    sim, client, order_id = woo
    note_id = complete_with_tracking(
        client, order_id, "USPS", "9400100000000001", URL, True, shipped_at=SHIPPED
    )
    assert _order(sim, order_id)["status"] == "completed"
    [item] = _tracking(sim, order_id)
    assert item == {
        "tracking_provider": "usps",
        "custom_tracking_provider": "",
        "custom_tracking_link": URL,
        "tracking_number": "9400100000000001",
        "date_shipped": "1795188600",
        "tracking_id": item["tracking_id"],
    }
    [note] = _our_notes(sim, order_id)
    assert str(note["id"]) == note_id
    assert note["customer_note"] is True
    assert note["note"] == tracking_note("USPS", "9400100000000001", URL)
    assert URL in note["note"]


def test_a_carrier_without_a_provider_slug_is_stored_as_custom(
    woo: tuple[WooCommerceSimulator, WooClient, str],
) -> None:
    sim, client, order_id = woo
    complete_with_tracking(client, order_id, "CanadaPost", "CP123", URL, False, shipped_at=SHIPPED)
    [item] = _tracking(sim, order_id)
    assert (item["tracking_provider"], item["custom_tracking_provider"]) == ("", "CanadaPost")
    [note] = _our_notes(sim, order_id)
    assert note["customer_note"] is False


def test_retry_writes_nothing_twice(woo: tuple[WooCommerceSimulator, WooClient, str]) -> None:
    sim, client, order_id = woo
    first = complete_with_tracking(client, order_id, "UPS", "1Z999AA10000000001", URL, True)
    writes = (sim.calls["orders.update"], sim.calls["notes.create"])
    again = complete_with_tracking(client, order_id, "UPS", "1Z999AA10000000001", URL, True)
    assert again == first
    assert (sim.calls["orders.update"], sim.calls["notes.create"]) == writes == (1, 1)
    assert len(_tracking(sim, order_id)) == 1 and len(_our_notes(sim, order_id)) == 1


def test_retry_after_the_note_answer_was_lost_adds_no_second_note(
    woo: tuple[WooCommerceSimulator, WooClient, str],
) -> None:
    sim, client, order_id = woo
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("notes.create",))
    with pytest.raises(Retryable):
        complete_with_tracking(client, order_id, "UPS", "1Z1", URL, True)
    sim.faults = Faults()
    note_id = complete_with_tracking(client, order_id, "UPS", "1Z1", URL, True)
    [note] = _our_notes(sim, order_id)
    assert str(note["id"]) == note_id
    assert sim.calls["notes.create"] == 1 and sim.calls["orders.update"] == 1


def test_retry_after_the_meta_answer_was_lost_writes_only_the_note(
    woo: tuple[WooCommerceSimulator, WooClient, str],
) -> None:
    sim, client, order_id = woo
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("orders.update",))
    with pytest.raises(Retryable):
        complete_with_tracking(client, order_id, "UPS", "1Z2", URL, True)
    sim.faults = Faults()
    complete_with_tracking(client, order_id, "UPS", "1Z2", URL, True)
    assert sim.calls["orders.update"] == 1
    assert len(_tracking(sim, order_id)) == 1 and len(_our_notes(sim, order_id)) == 1


def test_second_parcel_is_added_beside_the_first_and_the_order_completes_last(
    woo: tuple[WooCommerceSimulator, WooClient, str],
) -> None:
    sim, client, order_id = woo
    complete_with_tracking(client, order_id, "USPS", "P1", URL, True, complete=False)
    assert _order(sim, order_id)["status"] == "processing"
    complete_with_tracking(client, order_id, "FedEx", "P2", None, True)
    assert [i["tracking_number"] for i in _tracking(sim, order_id)] == ["P1", "P2"]
    assert _order(sim, order_id)["status"] == "completed"
    assert [n["note"] for n in _our_notes(sim, order_id)] == [
        tracking_note("USPS", "P1", URL),
        "Your order has shipped with FedEx. Tracking number: P2.",
    ]


def test_5xx_is_retryable_and_wrote_nothing(woo: tuple[WooCommerceSimulator, WooClient, str]) -> None:
    sim, client, order_id = woo
    sim.faults = Faults(error_rate=1.0)
    with pytest.raises(Retryable):
        complete_with_tracking(client, order_id, "UPS", "1Z3", URL, True)
    sim.faults = Faults()
    assert _tracking(sim, order_id) == [] and _our_notes(sim, order_id) == []


def test_add_note_and_set_status(woo: tuple[WooCommerceSimulator, WooClient, str]) -> None:
    sim, client, order_id = woo
    note_id = add_note(client, order_id, "Held for review: score 55")
    assert isinstance(note_id, int)
    assert (sim.store.notes[note_id]["note"], sim.store.notes[note_id]["customer_note"]) == (
        "Held for review: score 55",
        False,
    )
    set_status(client, order_id, "on-hold")
    assert _order(sim, order_id)["status"] == "on-hold"
    set_status(client, order_id, "cancelled")
    assert _order(sim, order_id)["status"] == "cancelled"


def test_unknown_order_is_not_found(woo: tuple[WooCommerceSimulator, WooClient, str]) -> None:
    _, client, _ = woo
    with pytest.raises(NotFound):
        complete_with_tracking(client, "999999", "UPS", "1Z4", URL, True)
