"""The stock verbs every storefront keeps: Shopify, WooCommerce and the test shop, one contract.

Each test runs against each storefront, its platform served by a tiny backend behind
``responses`` (``stock_backends.py``) from one shop state, and states what it expects in
canonical terms only: catalog entries, levels, changed levels, stock events, stock taken,
and each write ``written`` / ``observed`` / ``refused``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

import pytest
import responses

from connectors.shopify.throttle import REGISTRY
from connectors.storefront import Storefront, storefront_for
from connectors.storefront.stock import Listed, StockWrite, StockWriter, WriteOutcome, WriteResult
from core.errors import Retryable
from tests.contract.storefront.stock_backends import BACKENDS, WRITTEN_AT, Backend, Item

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MARKED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def items() -> list[Item]:
    """Three simple listings and two variations of one parent (ids distinct across kinds)."""
    return [
        Item("A-1", 5, T0, product=101, variant=1001, item=5001),
        Item("A-2", 8, T0, product=102, variant=1002, item=5002),
        Item("A-3", 0, T0, product=103, variant=1003, item=5003),
        Item("V-1", 4, T0, product=200, variant=2001, item=5004),
        Item("V-2", 6, T0, product=200, variant=2002, item=5005),
    ]


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    made = BACKENDS[request.param]()
    if made.platform == "testshop":  # the test shop's listings are products only
        made.items = [Item(i.sku, i.stock, i.updated, product=i.item) for i in items()]
    elif made.platform == "shopify":
        made.items = items()
    else:  # WooCommerce: simple products have no variant
        made.items = [
            i if i.sku.startswith("V") else Item(i.sku, i.stock, i.updated, i.product) for i in items()
        ]
    REGISTRY.forget()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        made.install(mocked)
        yield made
    REGISTRY.forget()


def shop(backend: Backend) -> Storefront:
    return storefront_for(backend.access())


def listed(backend: Backend) -> dict[str, Listed]:
    """The listings as a catalog import links them (key: the SKU)."""
    catalog = shop(backend).catalog()
    return {
        e.sku: Listed(
            e.sku, e.product_id, e.variant_id, e.inventory_item_id, catalog.location_id or e.location_id
        )
        for e in catalog.entries
        if e.sku
    }


def write(link: Listed, target: int, current: int | None) -> StockWrite:
    assert isinstance(link.key, str)
    return StockWrite(0, link.key, MARKED, target, current, link.product_id, link.variant_id,
                      link.inventory_item_id, link.location_id)  # fmt: skip


def slot() -> AbstractContextManager[None]:
    return nullcontext()


def drive(writer: StockWriter, writes: list[StockWrite]) -> dict[str, WriteResult]:
    """What the push does with a writer, without the ledger: every answer kept as JSON, as
    the effects ledger keeps it, before it is read."""
    out: list[WriteResult] = []
    observed, rest = writer.before(iter(writes))
    out += observed
    calls = deque(writer.prepare(rest))
    while calls:
        call = calls.popleft()
        answer = json.loads(json.dumps(writer.send(call, f"stock:test:{len(calls)}", slot)))
        results, again = writer.results(call, answer, slot)
        out += results
        calls.extend(writer.prepare(iter(again)))
    return {r.write.sku: r for r in out}


def test_the_catalog_lists_every_listing_with_its_level_and_time(backend: Backend) -> None:
    entries = {e.sku: e for e in shop(backend).catalog().entries}
    assert {sku: (e.tracked, e.available, e.level_at) for sku, e in entries.items()} == {
        i.sku: (True, i.stock, T0) for i in backend.items
    }


def test_levels_are_read_for_the_listings_the_catalog_names(backend: Backend) -> None:
    links = listed(backend)
    backend.find(sku="A-2").stock = 3
    levels = shop(backend).read_levels([links["A-2"], links["V-1"]])
    assert {k: (v.qty, v.at) for k, v in levels.items()} == {"A-2": (3, T0), "V-1": (4, T0)}


def test_levels_changed_since_a_time_are_the_later_ones_oldest_first(backend: Backend) -> None:
    links = listed(backend)
    for sku, stock, minutes in (("A-1", 2, 30), ("V-2", 9, 10)):
        item = backend.find(sku=sku)
        item.stock, item.updated = stock, T0 + timedelta(minutes=minutes)
    changed = shop(backend).levels_changed_since(T0 + timedelta(minutes=1), list(links.values()))
    assert [(c.key, c.quantity, c.at) for c in changed] == [
        ("V-2", 9, T0 + timedelta(minutes=10)),
        ("A-1", 2, T0 + timedelta(minutes=30)),
    ]


def test_a_stock_event_names_its_listing_and_level(backend: Backend) -> None:
    links = listed(backend)
    item = backend.find(sku="V-2")
    item.stock, item.updated = 11, T0 + timedelta(seconds=5)
    event = shop(backend).stock_event(backend.event(item))
    assert event is not None
    # A payload verb: the storefront's class reads it with no store, no credentials.
    assert type(shop(backend)).stock_event(backend.event(item)) == event
    assert (event.quantity, event.at) == (11, T0 + timedelta(seconds=5))
    link = links["V-2"]
    if event.by_item:
        assert (event.inventory_item_id, event.location_id) == (link.inventory_item_id, link.location_id)
    else:
        assert (event.product_id, event.variant_id) == (link.product_id, link.variant_id)


def test_a_stock_event_without_a_managed_level_reports_nothing(backend: Backend) -> None:
    assert shop(backend).stock_event(backend.levelless_event(backend.find(sku="A-1"))) is None


def test_the_stock_an_order_took_is_read_from_its_payload(backend: Backend) -> None:
    payload, order, at = backend.paid_order()
    assert shop(backend).stock_taken(payload, order).at == at


def test_writes_come_back_written_observed_or_refused(backend: Backend) -> None:
    links = listed(backend)
    backend.find(sku="A-2").stock = 7  # changed on the shop since we last knew it (8)
    backend.find(sku="V-1").refuse = "INVALID"
    writer = shop(backend).stock_writer()
    writes = [
        write(links["A-1"], 3, 5),
        write(links["A-2"], 6, 8),
        write(links["V-1"], 1, 4),
        write(links["V-2"], 2, 6),
    ]
    assert all(writer.accepts(w) for w in writes)
    results = drive(writer, writes)
    assert {sku: r.outcome for sku, r in results.items()} == {
        "A-1": WriteOutcome.WRITTEN,
        "A-2": WriteOutcome.OBSERVED,
        "V-1": WriteOutcome.REFUSED,
        "V-2": WriteOutcome.WRITTEN,
    }
    assert (results["A-1"].quantity, results["A-1"].at) == (3, WRITTEN_AT)
    assert (results["A-2"].quantity, results["A-2"].at) == (7, T0)
    assert "INVALID" in results["V-1"].reason
    shown = {i.sku: i.stock for i in backend.items}
    assert shown == {"A-1": 3, "A-2": 7, "A-3": 0, "V-1": 4, "V-2": 2}


def test_calls_carry_at_most_the_platform_batch_and_every_write_once(backend: Backend) -> None:
    links = listed(backend)
    writer = shop(backend).stock_writer()
    writes = [write(link, 1, None) for link in links.values()]
    calls = list(writer.prepare(iter(writes)))
    assert all(0 < len(c.writes) <= backend.batch for c in calls)
    assert sorted(w.sku for c in calls for w in c.writes) == sorted(links)
    assert len({json.dumps(c.content, sort_keys=True, default=str) for c in calls}) == len(calls)
    assert writer.in_flight >= 1 and writer.ahead >= 0


def test_a_write_the_platform_fails_to_answer_is_a_retryable_error(backend: Backend) -> None:
    links = listed(backend)
    writer = shop(backend).stock_writer()
    (call,) = list(writer.prepare(iter([write(links["A-1"], 3, 5)])))
    backend.down = True
    with pytest.raises(Retryable):
        writer.send(call, "stock:test:down", slot)
    assert backend.find(sku="A-1").stock == 5
