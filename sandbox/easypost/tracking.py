"""Trackers that move on the simulator clock, scan by scan, with scripted outcomes.

Each tracker gets a plan at creation (:func:`sandbox.easypost.transit.normal_plan`, seeded
by the simulator's ``seed`` and the tracking code), turned into its scripted outcome by
:mod:`sandbox.easypost.scenarios` (``normal`` unless scripted, before or after creation,
by id or tracking code). :meth:`Tracking.tick` applies the scans that are due, using a
heap of next-scan times, so a tick costs only the trackers that move. EasyPost's test
tracking codes (``EZ1000000001`` ... ``EZ7000000007``) are created already at their fixed
status and never move, as in EasyPost's test mode.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from .common import IdMaker, Json, iso
from .scenarios import Params, apply, check, check_mix, pick
from .transit import DAY, HOUR, Route, Scan, address_place, estimate, gap_model, normal_plan, route_class

# EasyPost test-mode tracking codes: (outcome after out for delivery, scans already taken at creation).
TEST_CODES: dict[str, tuple[tuple[str, str, str], int]] = {
    "EZ1000000001": (("delivered", "arrived_at_destination", "delivered"), 1),
    "EZ2000000002": (("delivered", "arrived_at_destination", "delivered"), 3),
    "EZ3000000003": (("delivered", "arrived_at_destination", "delivered"), 4),
    "EZ4000000004": (("delivered", "arrived_at_destination", "delivered"), 5),
    "EZ5000000005": (("return_to_sender", "return", "returned"), 5),
    "EZ6000000006": (("failure", "delivery_exception", "exception"), 5),
    "EZ7000000007": (("unknown", "unknown", "unknown"), 1),
}
# Where standalone (and test-code) trackers travel, as EasyPost's test mode reports them.
TEST_ORIGIN: Json = {"city": "HOUSTON", "state": "TX", "country": None, "zip": "77063"}
TEST_DESTINATION: Json = {"city": "CHARLESTON", "state": "SC", "country": None, "zip": "29401"}
# The service carriers report for a standalone tracker (a label's tracker has its own).
DEFAULT_SERVICES = {"USPS": "First-Class Package Service", "UPS": "UPS Ground", "FedEx": "FEDEX_GROUND"}
FINAL = frozenset({"delivered", "return_to_sender", "failure"})
# The carrier's words for each kind of scan: USPS, UPS, FedEx.
MESSAGES: dict[str, tuple[str, str, str]] = {
    "label": (
        "Shipping Label Created, USPS Awaiting Item",
        "Shipper created a label, UPS has not received the package yet.",
        "Shipment information sent to FedEx",
    ),
    "pickup": ("USPS picked up item", "Pickup Scan", "Picked up"),
    "arrived": ("Arrived at USPS Regional Facility", "Arrived at Facility", "Arrived at FedEx location"),
    "departed": ("Departed USPS Regional Facility", "Departed from Facility", "Departed FedEx location"),
    "moving": ("In Transit to Next Facility", "On the Way", "On the way"),
    "out": ("Out for Delivery", "Out For Delivery Today", "On FedEx vehicle for delivery"),
    "delivered": ("Delivered, In/At Mailbox", "Delivered", "Delivered"),
    "attempt": (
        "Notice Left (No Authorized Recipient Available)",
        "The receiver was not available for delivery. We'll make a second attempt the next business day.",
        "Delivery attempted",
    ),
    "ready": (
        "Available for Pickup",
        "Delivered to UPS Access Point. Available for pickup.",
        "Ready for pickup",
    ),
    "collected": (
        "Delivered, Individual Picked Up at Post Office",
        "Picked up at UPS Access Point",
        "Picked up",
    ),
    "exception": ("Delivery exception: package damaged",) * 3,
    "return": ("Return to Sender Processed", "Returning to shipper", "Return tendered to FedEx"),
    "returning": ("In Transit to Sender", "Returning to shipper", "On the way"),
    "returned": ("Delivered to Sender", "Delivered to shipper", "Delivered to shipper"),
    "delay": ("Delayed due to weather", "Delay: weather conditions", "Delay - weather"),
    "unknown": ("Tracking information not yet available",) * 3,
}
FEDEX_CODES = {
    "label": "OC", "pickup": "PU", "arrived": "AR", "departed": "DP", "moving": "IT", "out": "OD",
    "delivered": "DL", "attempt": "DE", "ready": "HL", "collected": "DL", "exception": "DE",
    "return": "RS", "returning": "IT", "returned": "DL", "delay": "DE",
}  # fmt: skip
UPS_CODES = {"label": "M", "pickup": "P", "delivered": "D", "collected": "D", "returned": "D"}
UPS_EXCEPTIONS = frozenset({"attempt", "exception", "delay", "ready"})
AT_DESTINATION = frozenset({"out", "delivered", "attempt", "ready", "collected"})


def detect_carrier(code: str) -> str:
    """Carrier from the tracking code's shape, as EasyPost auto-detects it."""
    if code.startswith("1Z"):
        return "UPS"
    if code.isdigit() and len(code) in (12, 15):
        return "FedEx"
    return "USPS"


def _carrier_index(carrier: str) -> int:
    return {"USPS": 0, "UPS": 1, "FEDEX": 2}.get(carrier.upper(), 0)


def message(carrier: str, scan: Scan) -> str:
    if scan.kind == "delay" and scan.detail != "weather_delay":
        return "Delayed in transit"
    return MESSAGES.get(scan.kind, MESSAGES["moving"])[_carrier_index(carrier)]


def carrier_code(carrier: str, kind: str) -> str:
    upper = carrier.upper()
    if upper == "FEDEX":
        return FEDEX_CODES.get(kind, "IT")
    if upper == "UPS":
        return "X" if kind in UPS_EXCEPTIONS else UPS_CODES.get(kind, "I")
    return ""  # as EasyPost's recorded USPS details show


def _place_name(place: Json, carrier: str) -> str:
    """CarrierDetail's origin/destination words: ``ORLANDO FL US`` (FedEx), ``HOUSTON TX, 77063`` (USPS)."""
    city, state = place.get("city") or "", place.get("state") or ""
    if carrier.upper() == "FEDEX":
        return " ".join(p for p in (city, state, place.get("country") or "US") if p).upper()
    return f"{city} {state}, {place.get('zip') or ''}".strip().upper()


def location(place: Json | None) -> Json:
    place = place or {}
    return {
        "object": "TrackingLocation",
        "city": place.get("city"),
        "state": place.get("state"),
        "country": place.get("country"),
        "zip": place.get("zip"),
    }


def tracker_snapshot(tracker: Json) -> Json:
    """A copy of a tracker as it is now; the scans are shared (a TrackingDetail never changes)."""
    return {
        **tracker,
        "tracking_details": list(tracker["tracking_details"]),
        "carrier_detail": dict(tracker["carrier_detail"]),
        "fees": list(tracker["fees"]),
    }


@dataclass
class Plan:
    """One tracker's movement: the normal plan, its scripted version, progress and what was sent."""

    route: Route
    base: list[Scan]
    scans: list[Scan]
    scenario: str = "normal"
    params: Params = field(default_factory=dict)
    applied: int = 0
    frozen: bool = False
    version: int = 0
    lost: set[int] = field(default_factory=set)  # indexes of scans whose update is never sent
    updates: int = 0  # tracker.updated events emitted
    suppressed: int = 0  # updates not sent (lost_events)


@dataclass(frozen=True)
class Moved:
    """A tracker that moved on a tick: its state before, and whether its update is sent."""

    tracker: Json
    previous: Json
    send: bool
    scans: int


class Tracking:
    """Owns the trackers and their plans; :meth:`tick` applies the scans that are due."""

    def __init__(self, ids: IdMaker, seed: int = 0) -> None:
        self.ids = ids
        self.seed = seed
        self.trackers: dict[str, Json] = {}
        self.by_code: dict[tuple[str, str], str] = {}
        self.plans: dict[str, Plan] = {}
        self.scripts: dict[str, tuple[str, Params]] = {}  # code -> (scenario, params), not yet created
        self.mix: dict[str, tuple[float, Params]] = {}  # scenario -> (share, params) for new trackers
        self._due: list[tuple[float, int, str, int]] = []  # (scan time, seq, tracker id, plan version)
        self._seq = itertools.count()

    # -- creation
    def create(
        self, now: float, mode: str, code: str, carrier: str | None, **extra: Any
    ) -> tuple[Json, bool]:
        """The tracker for (code, carrier), creating it when new; the flag says whether it is new."""
        carrier = carrier or detect_carrier(code)
        existing = self.by_code.get((code, carrier.upper()))
        if existing is not None:
            return self.trackers[existing], False
        tracker_id = self.ids.new("trk")
        service = extra.get("service") or DEFAULT_SERVICES.get(carrier)
        origin = address_place(extra.get("origin") or TEST_ORIGIN)
        destination = address_place(extra.get("destination") or TEST_DESTINATION)
        if not extra.get("origin"):
            origin["country"] = None  # EasyPost's test trackers leave the country out
        if not extra.get("destination"):
            destination["country"] = None
        model = gap_model(carrier, service)
        route_kind = route_class(origin, destination)
        days = round(float(extra["span"]) / DAY) if extra.get("span") else model.days(route_kind)
        route = Route(now, max(1, days), model, route_kind, origin, destination)
        tracker = self._tracker_json(tracker_id, now, mode, code, carrier, service, extra)
        tracker["carrier_detail"].update(
            {
                "origin_location": _place_name(origin, carrier),
                "origin_tracking_location": location(origin),
                "destination_location": _place_name(destination, carrier),
            }
        )
        tracker["est_delivery_date"] = iso(estimate(now, route.days))
        tracker["carrier_detail"]["est_delivery_date_local"] = tracker["est_delivery_date"][:10]
        self.trackers[tracker_id] = tracker
        self.by_code[(code, carrier.upper())] = tracker_id
        rng = random.Random(f"{self.seed}:{code}:{carrier.upper()}")
        base = normal_plan(rng, route)
        plan = Plan(route, base, list(base))
        self.plans[tracker_id] = plan
        if code in TEST_CODES:
            self._start_at_test_status(tracker, plan, now)
        else:
            scripted = self.scripts.pop(code, None)
            scenario, params = scripted if scripted is not None else self._from_mix(code, carrier)
            self._set_scenario(tracker_id, scenario, params)
        return tracker, True

    @staticmethod
    def _tracker_json(
        tracker_id: str, now: float, mode: str, code: str, carrier: str, service: str | None, extra: Json
    ) -> Json:
        stamp = iso(now)
        return {
            "id": tracker_id,
            "object": "Tracker",
            "mode": mode,
            "tracking_code": code,
            "status": "unknown",
            "status_detail": "unknown",
            "created_at": stamp,
            "updated_at": stamp,
            "signed_by": None,
            "weight": extra.get("weight"),
            "est_delivery_date": None,
            "shipment_id": extra.get("shipment_id"),
            "carrier": carrier,
            "tracking_details": [],
            "fees": [],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": service,
                "container_type": None,
                "est_delivery_date_local": None,
                "est_delivery_time_local": None,
                "origin_location": None,
                "origin_tracking_location": None,
                "destination_location": None,
                "destination_tracking_location": None,
                "guaranteed_delivery_date": None,
                "alternate_identifier": None,
                "initial_delivery_attempt": None,
            },
            "finalized": False,
            "is_return": bool(extra.get("is_return", False)),
            "public_url": f"https://track.easypost.com/{tracker_id}",
        }

    def _start_at_test_status(self, tracker: Json, plan: Plan, now: float) -> None:
        (status, detail, kind), taken = TEST_CODES[tracker["tracking_code"]]
        span, base = 3 * DAY, now - 3 * DAY - HOUR  # every scan of the history lies in the past
        route = plan.route
        steps = [
            Scan(base + HOUR, "pre_transit", "label_created", "label", route.origin),
            Scan(base + 0.25 * span, "in_transit", "arrived_at_facility", "arrived", route.origin),
            Scan(base + 0.5 * span, "in_transit", "departed_facility", "departed", route.origin),
            Scan(base + span - 4 * HOUR, "out_for_delivery", "out_for_delivery", "out", route.destination),
            Scan(base + span, status, detail, kind, route.destination),
        ]
        if status == "unknown":
            steps = [Scan(base, "unknown", "unknown", "unknown", None)]
        plan.scans = steps[:taken]
        self._apply(tracker, plan, plan.scans)
        plan.frozen = True
        tracker["est_delivery_date"] = iso(base + span)
        tracker["carrier_detail"]["est_delivery_date_local"] = tracker["est_delivery_date"][:10]
        if tracker["status"] == "delivered":
            tracker["signed_by"] = "John Tester"

    # -- scripting
    def set_mix(self, mix: dict[str, Any]) -> None:
        """Outcomes for trackers created from now on and not scripted by code: ``{scenario: share}``
        or ``{scenario: {"share": s, **params}}``; each tracker draws once (seeded by its code)."""
        self.mix = check_mix(mix)

    def _from_mix(self, code: str, carrier: str) -> tuple[str, Params]:
        if not self.mix:
            return "normal", {}
        return pick(self.mix, random.Random(f"{self.seed}:mix:{code}:{carrier.upper()}").random())

    def find(self, code_or_id: str) -> str | None:
        """A tracker id from an id or a tracking code (None when no such tracker exists yet)."""
        if code_or_id in self.plans:
            return code_or_id
        return next((tid for (code, _), tid in self.by_code.items() if code == code_or_id), None)

    def script(self, code_or_id: str, scenario: str, **params: Any) -> None:
        """Make a tracker (by id or tracking code, existing or future) follow ``scenario``."""
        params = check(scenario, params)
        if code_or_id in TEST_CODES or self.trackers.get(code_or_id, {}).get("tracking_code") in TEST_CODES:
            raise ValueError(f"{code_or_id} is an EasyPost test tracking code: it never moves")
        tracker_id = self.find(code_or_id)
        if tracker_id is None:
            self.scripts[code_or_id] = (scenario, params)
            return
        if self.trackers[tracker_id]["finalized"]:
            raise ValueError(f"tracker {tracker_id} is finalized ({self.trackers[tracker_id]['status']})")
        self._set_scenario(tracker_id, scenario, params)

    def _set_scenario(self, tracker_id: str, scenario: str, params: Params) -> None:
        plan = self.plans[tracker_id]
        rng = random.Random(f"{self.seed}:{tracker_id}:{scenario}:{plan.applied}")
        done = plan.scans[: plan.applied]
        after = done[-1].at if done else float("-inf")
        planned = apply(scenario, plan.base, plan.applied, params, rng, plan.route)
        ahead = sorted((s for s in planned[plan.applied :] if s.at >= after), key=lambda s: s.at)
        plan.scans = [*done, *ahead]
        plan.scenario, plan.params = scenario, params
        lose = float(params.get("lose", 0.0))
        plan.lost = {i for i in range(plan.applied, len(plan.scans)) if lose and rng.random() < lose}
        plan.version += 1
        plan.frozen = plan.applied >= len(plan.scans)
        if not plan.frozen:
            next_at = plan.scans[plan.applied].at
            heapq.heappush(self._due, (next_at, next(self._seq), tracker_id, plan.version))

    # -- time
    def tick(self, now: float) -> list[Moved]:
        """Apply the scans due by ``now``; one :class:`Moved` per tracker that moved."""
        moved: list[Moved] = []
        while self._due and self._due[0][0] <= now:
            _, _, tracker_id, version = heapq.heappop(self._due)
            plan = self.plans[tracker_id]
            if version != plan.version or plan.frozen:
                continue
            due = [s for s in plan.scans[plan.applied :] if s.at <= now]
            if not due:
                continue
            tracker = self.trackers[tracker_id]
            previous = {"status": tracker["status"]}
            first = plan.applied
            self._apply(tracker, plan, due)
            tracker["updated_at"] = iso(now)
            send = (plan.applied - 1) not in plan.lost
            plan.updates += int(send)
            plan.suppressed += int(not send)
            moved.append(Moved(tracker, previous, send, plan.applied - first))
            if plan.applied < len(plan.scans):
                next_at = plan.scans[plan.applied].at
                heapq.heappush(self._due, (next_at, next(self._seq), tracker_id, plan.version))
            else:
                plan.frozen = True
        return moved

    def next_scan_at(self) -> float | None:
        """When the next scan of any tracker is due (None: nothing is moving)."""
        while self._due and self._due[0][3] != self.plans[self._due[0][2]].version:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def _apply(self, tracker: Json, plan: Plan, scans: list[Scan]) -> None:
        carrier = tracker["carrier"]
        detail = tracker["carrier_detail"]
        for scan in scans:
            where = location(scan.place)
            text = message(carrier, scan)
            tracker["tracking_details"].append(
                {
                    "object": "TrackingDetail",
                    "message": text,
                    "description": text,
                    "status": scan.status,
                    "status_detail": scan.detail,
                    "datetime": iso(scan.at),
                    "source": carrier,
                    "carrier_code": carrier_code(carrier, scan.kind),
                    "tracking_location": where,
                    "est_delivery_date": None,
                }
            )
            tracker["status"], tracker["status_detail"] = scan.status, scan.detail
            if scan.kind in AT_DESTINATION:
                detail["destination_tracking_location"] = where
            if scan.kind in ("attempt", "delivered") and detail["initial_delivery_attempt"] is None:
                detail["initial_delivery_attempt"] = iso(scan.at)
            plan.applied += 1
        tracker["finalized"] = tracker["status"] in FINAL
