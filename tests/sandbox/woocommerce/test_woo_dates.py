"""Dates as a real store shows them: whole seconds everywhere, local and ``_gmt`` forms.

WordPress and HPOS store datetimes to the second, so two changes within one second
carry the same ``date_modified``; a date filter reads its value to the second too
(``WP_Date_Query::build_mysql_datetime`` formats ``Y-m-d H:i:s``) and compares strictly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.harness import FakeClock, serve
from sandbox.woocommerce import WooCommerceSimulator

# 1_800_000_000 is 2027-01-15T08:00:00Z; the clock starts three quarters into that second.
START = 1_800_000_000.75
SECOND_GMT, SECOND_LOCAL = "2027-01-15T08:00:00", "2027-01-15T05:00:00"
WHOLE_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


class Served:
    def __init__(self, sim: WooCommerceSimulator, url: str, ck: str, cs: str) -> None:
        self.sim, self.url, self.auth = sim, url, (ck, cs)

    def get(self, path: str, **params: str) -> Any:
        resp = requests.get(
            f"{self.url}/wp-json/wc/v3/{path}",
            params=params,
            auth=self.auth,
            headers={"X-Forwarded-Proto": "https"},
            timeout=5,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START)


@pytest.fixture
def served(clock: FakeClock) -> Iterator[Served]:
    sim = WooCommerceSimulator(clock=clock, utc_offset_hours=-3)
    with serve(sim) as server:
        sim.bind(server.url)
        ck, cs = sim.create_key()
        yield Served(sim, server.url, ck, cs)


def dates(doc: Any) -> Iterator[tuple[str, Any]]:
    """Every ``date_*`` field of a document, nested ones included."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key.startswith("date_"):
                yield key, value
            else:
                yield from dates(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from dates(item)


def test_two_changes_in_one_second_carry_the_same_whole_second(served: Served, clock: FakeClock) -> None:
    served.sim.add_product("Tee", sku="TEE", stock=5)
    order_id = served.sim.place_order([("TEE", 1)], status="processing")
    clock.advance(0.2)  # still the same second
    served.sim.edit_order(order_id, status="on-hold")
    one = served.get(f"orders/{order_id}")
    listed = served.get("orders")
    notes = served.get(f"orders/{order_id}/notes")
    pushed = served.sim.order(order_id)  # what an order.* webhook body carries
    found = list(dates([one, listed, notes, pushed]))
    assert found and all(v is None or WHOLE_SECONDS.match(v) for _, v in found), found
    assert (one["date_created_gmt"], one["date_modified_gmt"], one["date_paid_gmt"]) == (SECOND_GMT,) * 3
    assert (one["date_created"], one["date_modified"], one["date_paid"]) == (SECOND_LOCAL,) * 3
    assert one == listed[0] == pushed


def test_date_filters_read_their_value_to_the_second(served: Served, clock: FakeClock) -> None:
    early = served.sim.place_order([], status="pending")
    clock.advance(1)
    late = served.sim.place_order([], status="pending")
    # "…:00.9" is read as "…:00": the early order is not after it, nor before it.
    after = served.get("orders", modified_after=f"{SECOND_GMT}.9", dates_are_gmt="true")
    before = served.get("orders", modified_before=f"{SECOND_GMT}.9", dates_are_gmt="true")
    local = served.get("orders", modified_after=f"{SECOND_LOCAL}.999")
    assert [o["id"] for o in after] == [late]
    assert [o["id"] for o in before] == []
    assert [o["id"] for o in local] == [late]
    assert early != late
