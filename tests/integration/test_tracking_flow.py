"""Tracking through the real receiver, inbox, queue and database (both backends).

EasyPost tracker Events (the recorded body's shape) reach ``/webhooks/easypost``; the
WooCommerce store is the write contract's fake behind ``responses`` (the outside edge),
EasyPost's tracker retrieval likewise. Waybill's clock (``rt.now``) is fixed per test.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import func, select

from connectors.easypost.webhooks import sign
from connectors.notify import FileNotifier
from core.money import Money
from core.shipping import Label
from core.transit import Source, gaps_between, stall_threshold, usual_gap
from db.accounts import get_or_create_account
from db.models import (
    DeadLetter,
    DeliveryException,
    Effect,
    EffectState,
    InboxEvent,
    Shipment,
    Store,
    StoreState,
    TimelineEntry,
    TrackingScan,
)
from db.models import Order as OrderRow
from sync.tracking.refresh import gap_policy, refresh_tracking, route_key, thresholds_for
from tests.conftest import drain
from tests.contract.storefront.writes_backends import ORDER, WOO, WooFake
from tests.integration.test_review_api import canonical

SECRET = "tracking-webhook-secret"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "easypost" / "tracker-event.json"
NOW = datetime(2024, 8, 2, 20, 0, tzinfo=UTC)
_events = itertools.count(1)
EXTRA = [  # after the recorded seven: out for delivery, then delivered
    ("2024-08-05T08:10:00Z", "out_for_delivery", "out_for_delivery", "Out for delivery"),
    ("2024-08-05T14:30:00Z", "delivered", "arrived_at_destination", "Delivered"),
]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def tracking() -> dict[str, Any]:
    return {}


@pytest.fixture
def config(config: dict[str, Any], outbox: Path, tracking: dict[str, Any]) -> dict[str, Any]:
    config["easypost"] = {"api_key": "EZTK-tracking-test", "webhook_secret": SECRET}
    config["notifier"] = {"backend": "file", "file_dir": str(outbox)}
    config["tracking"] = tracking
    return config


@pytest.fixture
def clock(rt: Any) -> Clock:
    fixed = Clock()
    rt.now = fixed
    return fixed


class Woo(WooFake):
    """The write contract's WooCommerce fake; ``lacks`` names statuses the store does not have."""

    lacks: frozenset[str] = frozenset()

    def answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"null")
        if request.method == "PUT" and isinstance(body, dict) and body.get("status") in self.lacks:
            error = {
                "code": "rest_invalid_param",
                "message": "Invalid parameter(s): status",
                "data": {"status": 400},
            }
            return 400, {}, json.dumps(error)
        return super().answer(request)


@pytest.fixture
def woo() -> Iterator[Woo]:
    fake = Woo()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        yield fake


def parcel(rt: Any, *, email: str | None = "ada@example.com", state: str = "purchased") -> int:
    """A WooCommerce order (``ORDER``) with one parcel whose label and tracker (trk_1) are bought."""
    with rt.session() as s:
        account = get_or_create_account(s, "North Wind")
        creds = {"consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40}
        store = Store(
            account_id=account.id,
            platform="woocommerce",
            domain=WOO,
            state=StoreState.active,
            credentials=rt.vault.encrypt_json(creds),
        )
        s.add(store)
        s.flush()
        row = OrderRow(
            account_id=account.id,
            store_id=store.id,
            platform="woocommerce",
            platform_order_id=ORDER,
            number="#1001",
            email=email,
            stage="label_purchased",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=NOW,
            data=canonical(ORDER),
        )
        s.add(row)
        s.flush()
        label = Label(
            "shp_1", "1", "FedEx", "FEDEX_GROUND", "https://x/l.png", Money(Decimal("9.10"), "USD"), "trk_1"
        )
        sh = Shipment(
            account_id=account.id,
            store_id=store.id,
            order_id=row.id,
            package=1,
            state=state,
            parcel={"items": [{"line_id": "11"}]},
            easypost_id="shp_1",
            label=label.to_dict(),
            tracking_code="1",
            tracker_id="trk_1",
            carrier="FedEx",
            service="FEDEX_GROUND",
            route_class="domestic",
            shipped_at=NOW - timedelta(days=3),
        )
        s.add(sh)
        s.flush()
        return int(sh.id)


def tracker(upto: int = 7, **changes: Any) -> dict[str, Any]:
    """The recorded tracker with its first ``upto`` details (8, 9: out for delivery, delivered)."""
    result: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text(encoding="utf-8"))["result"])
    details = result["tracking_details"]
    for at, status, detail, message in EXTRA:
        details.append(
            {**details[-1], "datetime": at, "status": status, "status_detail": detail, "message": message}
        )
    result["tracking_details"] = details[:upto]
    last = result["tracking_details"][-1] if upto else {"status": "unknown", "status_detail": "unknown"}
    result.update(status=last["status"], status_detail=last["status_detail"], **changes)
    return result


def send(client: Any, result: dict[str, Any], topic: str = "tracker.updated") -> Any:
    body = json.dumps(
        {
            "id": f"evt_{next(_events)}",
            "object": "Event",
            "description": topic,
            "mode": "test",
            "result": result,
        }
    ).encode()
    return client.post(
        "/webhooks/easypost",
        data=body,
        headers={"X-Hmac-Signature": sign(SECRET, body), "Content-Type": "application/json"},
    )


def deliver(rt: Any, client: Any, *results: dict[str, Any]) -> None:
    for result in results:
        assert send(client, result).status_code == 200
    drain(rt)


def shipment(rt: Any, shipment_id: int) -> Shipment:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None
        s.expunge(sh)
        return sh


def scans(rt: Any, shipment_id: int) -> list[tuple[str, str]]:
    with rt.session() as s:
        rows = s.scalars(
            select(TrackingScan)
            .where(TrackingScan.shipment_id == shipment_id)
            .order_by(TrackingScan.happened_at)
        )
        return [(r.happened_at.isoformat(), r.status) for r in rows]


def trail(rt: Any, order_id: int, prefix: str = "") -> list[tuple[str, str | None]]:
    with rt.session() as s:
        return [
            (e.action, e.reason)
            for e in s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
            if e.action.startswith(prefix)
        ]


def inbox(rt: Any) -> list[tuple[str, str | None]]:
    with rt.session() as s:
        return [(str(e.state), e.last_error) for e in s.scalars(select(InboxEvent).order_by(InboxEvent.id))]


def exceptions_of(rt: Any, shipment_id: int) -> list[tuple[str, str]]:
    with rt.session() as s:
        rows = s.scalars(
            select(DeliveryException)
            .where(DeliveryException.shipment_id == shipment_id)
            .order_by(DeliveryException.id)
        )
        return [(r.kind, r.state) for r in rows]


# -- events in ------------------------------------------------------------------------------


def test_a_tracker_event_records_each_scan_once_and_moves_the_shipment(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt)
    deliver(rt, client, tracker(7))
    assert inbox(rt) == [("done", None)]
    assert len(scans(rt, sid)) == 7
    sh = shipment(rt, sid)
    assert sh.delivery_state == "in_transit"
    assert sh.est_delivery_at == datetime(2024, 8, 5, tzinfo=UTC)
    assert sh.last_scan_at == datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert sh.last_heard_at == NOW and sh.delivered_at is None
    steps = trail(rt, sh.order_id, "tracking.scan")
    assert len(steps) == 7
    assert steps[0] == ("tracking.scan", "parcel 1 pre_transit: Shipment information sent to FedEx")
    assert steps[-1] == ("tracking.scan", "parcel 1 in_transit: Arrived at FedEx location")
    assert exceptions_of(rt, sid) == []


def test_duplicated_and_reordered_events_converge(rt: Any, client: Any, clock: Clock) -> None:
    sid = parcel(rt)
    deliver(rt, client, tracker(9), tracker(3), tracker(5), tracker(9), tracker(8))
    assert [state for state, _ in inbox(rt)] == ["done"] * 5
    got = scans(rt, sid)
    assert len(got) == 9 and got == sorted(got)
    assert got[-1] == ("2024-08-05T14:30:00+00:00", "delivered")
    sh = shipment(rt, sid)
    assert sh.delivery_state == "delivered" and sh.delivered_at == datetime(2024, 8, 5, 14, 30, tzinfo=UTC)
    assert sh.last_scan_at == datetime(2024, 8, 5, 14, 30, tzinfo=UTC)
    assert len(trail(rt, sh.order_id, "tracking.scan")) == 9


def test_an_older_report_does_not_undo_the_estimate_of_a_newer_one(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt)
    deliver(rt, client, tracker(7, est_delivery_date="2024-08-06T00:00:00Z"), tracker(5))
    assert shipment(rt, sid).est_delivery_at == datetime(2024, 8, 6, tzinfo=UTC)


def test_an_event_for_no_parcel_of_ours_is_ignored_with_the_reason(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt)
    deliver(rt, client, tracker(7, id="trk_zzz", tracking_code="777"))
    assert inbox(rt) == [("ignored", "no parcel of ours has tracker trk_zzz (FedEx)")]
    assert scans(rt, sid) == [] and shipment(rt, sid).delivery_state is None


def test_a_parcel_is_found_by_its_tracking_code_and_carrier_without_a_tracker_id(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt)
    with rt.session() as s:
        row = s.get(Shipment, sid)
        assert row is not None
        row.tracker_id = None
    deliver(rt, client, tracker(2, id="trk_new", carrier="FEDEX"))
    sh = shipment(rt, sid)
    assert sh.tracker_id == "trk_new" and len(scans(rt, sid)) == 2


def test_a_malformed_event_is_refused_and_changes_nothing(rt: Any, client: Any, clock: Clock) -> None:
    sid = parcel(rt)
    broken = tracker(7)
    broken["tracking_details"][3]["datetime"] = "not a time"
    deliver(rt, client, broken)
    ((state, error),) = inbox(rt)
    assert state == "failed"
    assert error == "MappingError: tracker tracking_details[3].datetime: 'not a time' is not an ISO 8601 time"
    assert scans(rt, sid) == [] and shipment(rt, sid).last_heard_at is None
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1


# -- write-back -----------------------------------------------------------------------------


def written_back(rt: Any, sid: int) -> None:
    rt.enqueue("write_back_fulfillment", job_id=f"fulfil-{sid}", shipment_id=sid)
    drain(rt)
    assert shipment(rt, sid).state == "fulfilled"


def woo_status(woo: Woo) -> tuple[str | None, str | None]:
    (meta,) = [m for m in woo.order["meta_data"] if m["key"] == "_wc_shipment_tracking_items"]
    (item,) = meta["value"]
    return item.get("waybill_status"), item.get("waybill_status_at")


@pytest.mark.parametrize("tracking", [{"order_status": {"delivered": "delivered", "in_transit": "shipped"}}])
def test_each_status_change_is_written_back_once_and_the_order_ends_delivered(
    rt: Any, client: Any, clock: Clock, woo: Woo
) -> None:
    sid = parcel(rt)
    deliver(rt, client, tracker(7))  # before the write-back: nothing is told yet
    assert woo.writes == []
    written_back(rt, sid)
    # the fulfilment (tracking meta and completed in one request, its note), then picked up
    # (19:27) and in transit (22:35): two meta updates, no customer note; then the status
    assert woo.writes == ["PUT /", "POST /notes", "PUT /", "PUT /", "PUT /"]
    assert woo_status(woo) == ("in_transit", str(int(datetime(2024, 7, 31, 22, 35, tzinfo=UTC).timestamp())))
    assert woo.order["status"] == "shipped"
    deliver(rt, client, tracker(9))
    assert woo_status(woo)[0] == "delivered"
    notes = [n["note"] for n in woo.notes if n["customer_note"] and "[waybill event:" in n["note"]]
    assert len(notes) == 2
    assert notes[0].startswith("Your parcel 1 is out for delivery") and notes[1].startswith(
        "Your parcel 1 is delivered"
    )
    assert woo.order["status"] == "delivered"
    with rt.session() as s:
        row = s.get(OrderRow, shipment(rt, sid).order_id)
        assert row is not None and row.stage == "delivered"
        keys = sorted(s.scalars(select(Effect.key).where(Effect.kind == "tracking_event")))
        assert [k.split(":")[2] for k in keys] == sorted(
            ["picked_up", "in_transit", "out_for_delivery", "delivered"]
        )
    before = list(woo.writes)
    deliver(rt, client, tracker(9), tracker(8), tracker(7))  # replays: nothing written twice
    assert woo.writes == before
    assert len(trail(rt, shipment(rt, sid).order_id, "tracking.written")) == 4
    assert trail(rt, shipment(rt, sid).order_id, "order.delivered") == [
        ("order.delivered", "the carrier delivered 1 parcel(s)")
    ]


@pytest.mark.parametrize("tracking", [{"order_status": {"out_for_delivery": "out-for-delivery"}}])
def test_a_status_the_store_lacks_is_refused_once_and_noted(
    rt: Any, client: Any, clock: Clock, woo: Woo
) -> None:
    woo.lacks = frozenset({"out-for-delivery"})
    sid = parcel(rt)
    written_back(rt, sid)
    deliver(rt, client, tracker(8), tracker(8, updated_at="2024-08-05T08:11:00Z"))
    order_id = shipment(rt, sid).order_id
    refused = trail(rt, order_id, "tracking.order_status_refused")
    assert len(refused) == 1
    assert "woocommerce refused order status 'out-for-delivery' (does the store have it?)" in (
        refused[0][1] or ""
    )
    assert woo_status(woo)[0] == "out_for_delivery"  # the tracking event itself went
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
        states = list(s.scalars(select(Effect.state).where(Effect.kind == "order_status")))
        assert states == [EffectState.failed]


# -- refresh, late and stalled ---------------------------------------------------------------

TRACKER_URL = "https://api.easypost.com/v2/trackers/trk_1"


def limits_of(rt: Any, sid: int) -> Any:
    """The thresholds the refresh applies to the parcel's route now."""
    sh = shipment(rt, sid)
    key = route_key(sh.carrier, sh.service, sh.route_class)
    return thresholds_for(rt, [key])[key]


def test_refresh_retrieves_a_quiet_tracker_and_applies_it_like_an_event(rt: Any, clock: Clock) -> None:
    sid = parcel(rt, state="fulfilled")
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, TRACKER_URL, json=tracker(7))
        counts = refresh_tracking(rt)
        assert len(mocked.calls) == 1
    assert counts == {"checked": 1, "retrieved": 1, "opened": 0, "failed": 0}
    assert len(scans(rt, sid)) == 7 and shipment(rt, sid).last_heard_at == NOW
    last = shipment(rt, sid).last_scan_at
    assert last is not None
    usual = timedelta(seconds=limits_of(rt, sid).usual_gap_s)
    assert last + usual > NOW + usual / 4  # (the tracker's last scan is recent at NOW)
    clock.now = last + usual  # no new scan for the usual gap, not longer: not asked
    with responses.RequestsMock() as mocked:
        assert refresh_tracking(rt)["retrieved"] == 0
        assert len(mocked.calls) == 0
    clock.now = last + usual + timedelta(minutes=1)  # quiet past the usual gap, silent a while: asked
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, TRACKER_URL, json=tracker(7))
        assert refresh_tracking(rt)["retrieved"] == 1
        assert len(mocked.calls) == 1
    assert shipment(rt, sid).last_heard_at == clock.now
    with responses.RequestsMock() as mocked:  # heard just now: not asked again in the next run
        clock.now += timedelta(minutes=15)
        assert refresh_tracking(rt)["retrieved"] == 0
        assert len(mocked.calls) == 0


def test_thresholds_are_learned_from_the_routes_scans_and_default_without_history(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt, state="fulfilled")
    policy = gap_policy(rt.settings.tracking)
    unknown = route_key("NOBODY", "Slow", "domestic")
    assert thresholds_for(rt, [unknown])[unknown] == (
        thresholds_for(rt, [unknown])[unknown].__class__(policy.default_s / 2, policy.default_s, "default", 0)
    )
    deliver(rt, client, tracker(7))
    with rt.session() as s:
        times = sorted(s.scalars(select(TrackingScan.happened_at).where(TrackingScan.shipment_id == sid)))
    gaps = gaps_between(times)
    assert shipment(rt, sid).delivery_state not in ("delivered", "return_to_sender", "failure")
    quiet = (clock.now - times[-1]).total_seconds()  # still on its way: a gap not ended yet
    learned = stall_threshold(gaps, policy, [quiet])
    limits = limits_of(rt, sid)
    assert (limits.stall_s, limits.source, limits.samples) == (learned.seconds, "blended", len(gaps))
    assert limits.usual_gap_s == min(usual_gap(gaps, policy), learned.seconds / 2)
    assert limits.stall_s != policy.default_s  # what the route's scans taught moved it
    # Quiet for longer than any gap that ended: how long gaps on this route get is unknown
    # (1 of 7 is still going after the longest), so the default holds again.
    clock.now = times[-1] + timedelta(seconds=max(gaps) + 3600)
    assert stall_threshold(gaps, policy, [max(gaps) + 3600]).source is Source.DEFAULT
    limits = limits_of(rt, sid)
    assert (limits.stall_s, limits.source, limits.samples) == (policy.default_s, "default", len(gaps))


def test_a_failed_retrieval_is_counted_and_the_run_goes_on(rt: Any, clock: Clock) -> None:
    parcel(rt, state="fulfilled")
    with responses.RequestsMock() as mocked:
        mocked.add(
            responses.GET, TRACKER_URL, status=404, json={"error": {"code": "NOT_FOUND", "message": "x"}}
        )
        assert refresh_tracking(rt) == {"checked": 1, "retrieved": 0, "opened": 0, "failed": 1}


def _heard(rt: Any, sid: int, when: datetime) -> None:
    with rt.session() as s:
        row = s.get(Shipment, sid)
        assert row is not None
        row.last_heard_at = when


def test_a_stall_is_flagged_once_past_its_threshold_and_cleared_when_the_parcel_moves(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt, state="fulfilled")
    deliver(rt, client, tracker(7, est_delivery_date="2024-08-09T00:00:00Z"))
    last = datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert shipment(rt, sid).last_scan_at == last
    clock.now = last + timedelta(hours=30)  # quiet for longer than any of its 6 gaps that ended:
    limits = limits_of(rt, sid)  # the route's history cannot tell how long gaps get (the default)
    assert (limits.source, limits.samples) == ("default", 6)
    threshold = timedelta(seconds=limits.stall_s)
    clock.now = last + threshold  # at the threshold: not yet
    _heard(rt, sid, clock.now)
    assert refresh_tracking(rt)["opened"] == 0
    clock.now = last + threshold + timedelta(minutes=15)  # the next refresh, past it
    _heard(rt, sid, clock.now)
    assert refresh_tracking(rt)["opened"] == 1
    assert refresh_tracking(rt)["opened"] == 0  # flagged once
    with rt.session() as s:
        (exc,) = s.scalars(select(DeliveryException))
        assert (exc.kind, exc.state, exc.opened_at) == ("stalled", "open", clock.now)
        assert exc.data["threshold_s"] == limits.stall_s
        assert (exc.data["source"], exc.data["samples"]) == (limits.source, limits.samples)
        assert exc.data["last_scan_at"] == last.isoformat()
        quiet_h, usual_h = (clock.now - last).total_seconds() / 3600, limits.stall_s / 3600
        assert exc.reason == (
            f"No carrier scan for {quiet_h:.1f} h; "
            f"this carrier usually scans within {usual_h:.1f} h on this route"
        )
        assert exc.opened_at - (last + threshold) <= timedelta(seconds=900)
    drain(rt)
    deliver(rt, client, tracker(8, est_delivery_date="2024-08-09T00:00:00Z"))  # it moves again
    assert exceptions_of(rt, sid) == [("stalled", "cleared")]
    order_id = shipment(rt, sid).order_id
    assert trail(rt, order_id, "tracking.exception_cleared") == [
        ("tracking.exception_cleared", "stalled: the parcel moved again")
    ]


def test_a_late_parcel_is_flagged_after_the_grace_and_cleared_when_delivered(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt, state="fulfilled")
    deliver(rt, client, tracker(7))  # estimate 2024-08-05 00:00, grace 12 h
    for hours, opened in ((12, 0), (12.25, 1)):
        clock.now = datetime(2024, 8, 5, tzinfo=UTC) + timedelta(hours=hours)
        _heard(rt, sid, clock.now)
        with rt.session() as s:  # a scan recent enough not to stall
            row = s.get(Shipment, sid)
            assert row is not None
            row.last_scan_at = clock.now - timedelta(hours=1)
        assert refresh_tracking(rt)["opened"] == opened
    assert exceptions_of(rt, sid) == [("late", "open")]
    deliver(rt, client, tracker(9))
    assert exceptions_of(rt, sid) == [("late", "cleared")]
    assert shipment(rt, sid).delivery_state == "delivered"


def test_carrier_bad_news_opens_an_exception_that_clears_when_the_parcel_moves_on(
    rt: Any, client: Any, clock: Clock
) -> None:
    sid = parcel(rt)
    failed = tracker(8)
    failed["tracking_details"][7].update(
        status="failure", status_detail="delivery_exception", message="Damaged"
    )
    deliver(rt, client, failed)
    with rt.session() as s:
        (exc,) = s.scalars(select(DeliveryException))
        assert (exc.kind, exc.state, exc.reason, exc.action) == (
            "failure",
            "open",
            "The carrier reports a delivery failure: Damaged",
            "Contact the carrier and the customer; reship or refund",
        )
    deliver(rt, client, failed)  # the same news again: still one
    assert exceptions_of(rt, sid) == [("failure", "open")]
    moved = copy.deepcopy(failed)
    moved["tracking_details"].append({**moved["tracking_details"][6], "datetime": "2024-08-06T09:00:00Z"})
    deliver(rt, client, moved)
    assert exceptions_of(rt, sid) == [("failure", "cleared")]


# -- notices --------------------------------------------------------------------------------


def test_a_notice_goes_once_per_kind(rt: Any, client: Any, clock: Clock, outbox: Path) -> None:
    sid = parcel(rt)
    failed = tracker(8)
    failed["tracking_details"][7].update(status="failure", status_detail="delivery_exception")
    deliver(rt, client, failed)
    deliver(rt, client, failed)  # the same news again, after the notice went: no second one
    sent = FileNotifier(outbox).sent()
    assert [(m.to, m.subject, m.key) for m in sent] == [
        ("ada@example.com", "A problem with the delivery of order #1001", f"notice:{sid}:failure")
    ]
    assert "The carrier could not deliver it." in sent[0].body and "/t/" in sent[0].body
    assert sent[0].sender_name == "North Wind"


def test_an_order_without_an_address_gets_no_notice_and_its_timeline_says_so(
    rt: Any, client: Any, clock: Clock, outbox: Path
) -> None:
    sid = parcel(rt, email=None)
    failed = tracker(8)
    failed["tracking_details"][7].update(status="return_to_sender", status_detail="return")
    deliver(rt, client, failed, failed)
    assert FileNotifier(outbox).sent() == []
    assert trail(rt, shipment(rt, sid).order_id, "notice.") == [
        ("notice.not_sent", "return_to_sender: the order has no e-mail address")
    ]


def test_an_event_for_a_voided_label_is_ignored_with_the_reason(rt: Any, client: Any, clock: Clock) -> None:
    sid = parcel(rt, state="voided")
    deliver(rt, client, tracker(7))
    assert inbox(rt) == [("ignored", "the label of tracker trk_1 was voided")]
    assert scans(rt, sid) == []


@pytest.mark.parametrize("tracking", [{"merchants": {"North Wind": {"branded_page": True}}}])
def test_a_merchant_who_opts_in_gets_the_tracking_page_as_the_tracking_url(
    rt: Any, clock: Clock, woo: Woo
) -> None:
    from sync.tracking.links import tracking_page_url

    sid = parcel(rt)
    written_back(rt, sid)
    (meta,) = [m for m in woo.order["meta_data"] if m["key"] == "_wc_shipment_tracking_items"]
    (item,) = meta["value"]
    assert item["custom_tracking_link"] == tracking_page_url(rt, sid)
    assert "/t/" in item["custom_tracking_link"]


def test_a_person_acknowledges_and_resolves_an_exception_and_the_refresh_leaves_it_resolved(
    rt: Any, client: Any, clock: Clock
) -> None:
    from core.errors import Conflict, InvalidInput, NotFound
    from sync.tracking import desk, exceptions

    sid = parcel(rt, state="fulfilled")
    deliver(rt, client, tracker(7, est_delivery_date="2024-08-20T00:00:00Z"))
    clock.now = datetime(2024, 8, 2, 18, 50, tzinfo=UTC) + timedelta(hours=40)
    _heard(rt, sid, clock.now)
    assert refresh_tracking(rt)["opened"] == 1
    with rt.session() as s:
        (exc,) = exceptions.listed(s, shipment(rt, sid).account_id)
        account, exc_id = exc.account_id, exc.id
    with pytest.raises(NotFound):
        desk.acknowledge(rt, account + 1, exc_id, "Ops")
    with pytest.raises(InvalidInput, match="actor is required"):
        desk.acknowledge(rt, account, exc_id, "  ")
    desk.acknowledge(rt, account, exc_id, "Ops")
    with rt.session() as s:
        assert [e.state for e in exceptions.listed(s, account)] == ["acknowledged"]
    done = desk.resolve(rt, account, exc_id, "Ops", "trace opened, reshipped")
    assert (done["state"], done["note"], done["actor"]) == ("resolved", "trace opened, reshipped", "Ops")
    with rt.session() as s:
        row = s.get(DeliveryException, exc_id)
        assert row is not None and row.resolved_at == clock.now  # the tracking clock, rt.now
    with pytest.raises(Conflict, match="is already resolved"):
        desk.resolve(rt, account, exc_id, "Ops", "again")
    clock.now += timedelta(minutes=15)
    _heard(rt, sid, clock.now)
    assert refresh_tracking(rt)["opened"] == 0  # the same stall (same last scan) is not reopened
    assert exceptions_of(rt, sid) == [("stalled", "resolved")]
    assert [a for a, _ in trail(rt, shipment(rt, sid).order_id, "tracking.exception_")] == [
        "tracking.exception_opened",
        "tracking.exception_acknowledged",
        "tracking.exception_resolved",
    ]
