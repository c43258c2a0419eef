"""EasyPost trackers and tracker Events as core TrackerReports (connectors/easypost/mappers.py),
the Event topics the inbox maps to ``tracker_changed``, and the refusal of malformed bodies."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.easypost.mappers import event_tracker, to_scan, tracker_report
from connectors.readers.errors import MappingError
from connectors.storefront import EventKind, event_kind
from core.errors import Permanent
from core.tracking import DeliveryState, Place

# The recorded tracker.updated Event (reference/easypost/event-body.json), verbatim.
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "easypost" / "tracker-event.json"


def event() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return body


def test_the_recorded_event_maps_to_a_report() -> None:
    report = event_tracker(event())
    assert (report.tracker_id, report.tracking_code, report.carrier, report.service) == (
        "trk_1",
        "1",
        "FedEx",
        "FEDEX_GROUND",
    )
    assert (report.status, report.status_detail) == (DeliveryState.in_transit, "arrived_at_facility")
    assert report.est_delivery_at == datetime(2024, 8, 5, tzinfo=UTC)
    assert report.updated_at == datetime(2024, 8, 2, 19, 26, 51, tzinfo=UTC)
    assert report.public_url == "https://track.easypost.com/1"
    assert len(report.scans) == 7
    first, last = report.scans[0], report.scans[-1]
    assert (first.happened_at, first.status, first.detail, first.message) == (
        datetime(2024, 7, 31, 15, 0, tzinfo=UTC),
        DeliveryState.pre_transit,
        "label_created",
        "Shipment information sent to FedEx",
    )
    assert first.place == Place(None, None, "US", "32837")
    assert (last.happened_at, last.status, last.detail) == (
        datetime(2024, 8, 2, 18, 50, tzinfo=UTC),
        DeliveryState.in_transit,
        "arrived_at_facility",
    )
    assert last.place == Place("EDISON", "NJ", "US", "08817")
    assert len({s.key for s in report.scans}) == 7


@pytest.mark.parametrize(
    ("platform", "topic", "kind"),
    [
        ("easypost", "tracker.updated", EventKind.tracker_changed),
        ("easypost", "tracker.created", EventKind.tracker_changed),
        ("easypost", "refund.successful", None),
        ("easypost", "batch.updated", None),
        ("woocommerce", "tracker.updated", None),
    ],
)
def test_tracker_topics_are_one_kind(platform: str, topic: str, kind: EventKind | None) -> None:
    assert event_kind(platform, topic) == kind


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(event())
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["id"], "nope", "tracker event: the body is not an Event"),
        (["description"], "refund.successful", "tracker event: 'refund.successful' is not a tracker event"),
        (["result"], None, "tracker: the body is not a Tracker object"),
        (["result", "object"], "Shipment", "tracker: the body is not a Tracker object"),
        (["result", "id"], "shp_1", "tracker: id 'shp_1' is not a tracker id"),
        (["result", "id"], 7, "tracker: id 7 is not a tracker id"),
        (["result", "tracking_code"], "", "tracker: tracking_code and carrier must be non-empty strings"),
        (["result", "carrier"], None, "tracker: tracking_code and carrier must be non-empty strings"),
        (["result", "status"], "teleported", "tracker: status 'teleported' is not a tracker status"),
        (["result", "tracking_details"], {"a": 1}, "tracker: tracking_details must be a list of at most 500"),
        (["result", "tracking_details", 2], "x", r"tracker tracking_details\[2\] is not an object"),
        (
            ["result", "tracking_details", 1, "datetime"],
            "yesterday",
            r"tracker tracking_details\[1\].datetime: 'yesterday' is not an ISO 8601 time",
        ),
        (
            ["result", "tracking_details", 1, "datetime"],
            KeyError,
            r"tracking_details\[1\].datetime: time None",
        ),
        (
            ["result", "tracking_details", 0, "status"],
            "lost",
            r"tracker tracking_details\[0\]: status 'lost' is not a tracker status",
        ),
        (
            ["result", "est_delivery_date"],
            "soon",
            "tracker est_delivery_date: 'soon' is not an ISO 8601 time",
        ),
    ],
)
def test_a_malformed_event_is_refused_with_the_reason(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(MappingError, match=message) as caught:
        event_tracker(_broken(path, value))
    assert isinstance(caught.value, Permanent)


def test_too_many_details_are_refused() -> None:
    body = event()
    body["result"]["tracking_details"] = body["result"]["tracking_details"][:1] * 501
    with pytest.raises(MappingError, match="at most 500"):
        event_tracker(body)


def test_blank_optional_fields_read_as_absent() -> None:
    tracker = event()["result"]
    tracker.update(
        est_delivery_date=None, updated_at=None, public_url="", carrier_detail=None, tracking_details=[]
    )
    report = tracker_report(tracker)
    assert (report.est_delivery_at, report.updated_at, report.public_url, report.service, report.scans) == (
        None,
        None,
        None,
        None,
        (),
    )
    bare = {k: v for k, v in tracker.items() if k != "object"}
    assert tracker_report({**bare, "tracking_code": " 1 "}).tracking_code == "1"


def test_a_scan_reads_the_description_when_there_is_no_message_and_trims_words() -> None:
    scan = to_scan(
        {
            "datetime": "2024-08-01T10:00:00",
            "status": "out_for_delivery",
            "status_detail": None,
            "description": "  Out   for\ndelivery ",
            "tracking_location": {"city": "", "state": None, "country": None, "zip": None},
        },
        0,
    )
    assert scan.happened_at == datetime(2024, 8, 1, 10, 0, tzinfo=UTC)
    assert (scan.detail, scan.message, scan.place) == ("", "Out for delivery", None)
