"""The two parcels of a WooCommerce order written back at the same moment both reach the store.

WooCommerce keeps every parcel of an order in one meta list that each write replaces whole.
Drill R7 found an order of two parcels left with one tracking number: both write-backs read
the list before either wrote it, and the second write dropped the first parcel. The store
here (the write contract's fake behind ``responses``) holds each parcel's first read of the
order until the other parcel's read arrives too (or a few seconds pass): without a lock
per order both reads see the empty list; with it, the second waits for the first write.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import select

from db.models import Shipment
from sync.shipping.write_back import write_back
from tests.contract.storefront.writes_backends import WooFake
from tests.integration.test_tracking_flow import parcel

HOLD_S = 3.0


class ReadsAtOnce(WooFake):
    """Answers the first two reads of the order only once both have been read (or ``HOLD_S``
    passed): two write-backs running at once both see the order as it was before either."""

    def __init__(self) -> None:
        super().__init__()
        self.together = threading.Barrier(2, timeout=HOLD_S)
        self.lock = threading.Lock()
        self.held = 0

    def answer(self, request: requests.PreparedRequest) -> Any:
        tail = str(request.path_url).split("?")[0].rsplit("/orders/", 1)[1]
        with self.lock:
            reply = super().answer(request)
            hold = request.method == "GET" and tail.isdigit() and self.held < 2
            self.held += hold
        if hold:  # broken: the other read is not coming yet (it waits for this write-back)
            with contextlib.suppress(threading.BrokenBarrierError):
                self.together.wait()
        return reply


@pytest.fixture
def woo() -> Iterator[ReadsAtOnce]:
    fake = ReadsAtOnce()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        yield fake


def second_parcel(rt: Any, first: int) -> int:
    """A second purchased parcel of the first one's order, with a label of its own (tracking 2)."""
    with rt.session() as s:
        sh = s.get(Shipment, first)
        assert sh is not None
        label = {**sh.label, "shipment_id": "shp_2", "tracking_code": "2"}
        other = Shipment(
            account_id=sh.account_id,
            store_id=sh.store_id,
            order_id=sh.order_id,
            package=2,
            state="purchased",
            parcel={"items": [{"line_id": "11"}]},
            easypost_id="shp_2",
            label=label,
            tracking_code="2",
            tracker_id="trk_2",
            carrier=sh.carrier,
            service=sh.service,
            route_class=sh.route_class,
            shipped_at=sh.shipped_at,
        )
        s.add(other)
        s.flush()
        return int(other.id)


def test_two_parcels_written_back_at_once_both_reach_the_store(rt: Any, woo: ReadsAtOnce) -> None:
    first = parcel(rt)
    second = second_parcel(rt, first)
    failures: list[BaseException] = []

    def run(sid: int) -> None:
        try:
            write_back(rt, sid)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    (meta,) = [m for m in woo.order["meta_data"] if m["key"] == "_wc_shipment_tracking_items"]
    assert sorted(item["tracking_number"] for item in meta["value"]) == ["1", "2"]
    assert woo.order["status"] == "completed"
    with rt.session() as s:
        states = s.scalars(select(Shipment.state).where(Shipment.id.in_([first, second])))
        assert sorted(states) == ["fulfilled", "fulfilled"]
