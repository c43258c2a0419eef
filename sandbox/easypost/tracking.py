"""Trackers whose status advances on the simulator clock, with scripted exceptions.

A tracker follows a *scenario*: a list of steps, each at an offset from the tracker's
creation computed from ``span`` (seconds from creation to the expected delivery).
``normal`` ends delivered; ``failure`` and ``return_to_sender`` end in those statuses
after out_for_delivery; ``stalled`` stops after the origin scan and never moves again
(so ``est_delivery_date`` passes with no news). EasyPost's test tracking codes
(``EZ1000000001`` ... ``EZ7000000007``) are created already at their fixed status and
never move, as in EasyPost's test mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import IdMaker, Json, iso

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Step:
    """One scan: when (from span), the status it sets, and the scan's words."""

    at: Callable[[float], float]
    status: str
    detail: str
    message: str
    at_destination: bool = False


PRE = Step(lambda span: HOUR, "pre_transit", "label_created", "Shipping Label Created")
ARRIVED = Step(lambda span: 0.25 * span, "in_transit", "arrived_at_facility", "Arrived at origin facility")
DEPARTED = Step(lambda span: 0.5 * span, "in_transit", "departed_facility", "Departed facility")
OUT = Step(lambda span: span - 4 * HOUR, "out_for_delivery", "out_for_delivery", "Out for delivery", True)
DELIVERED = Step(lambda span: span, "delivered", "arrived_at_destination", "Delivered", True)
FAILED = Step(lambda span: span, "failure", "delivery_exception", "Delivery exception: package damaged", True)
RETURNED = Step(lambda span: span, "return_to_sender", "return", "Returned to sender", True)
UNKNOWN = Step(lambda span: 0.0, "unknown", "unknown", "Tracking information not yet available")

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "normal": (PRE, ARRIVED, DEPARTED, OUT, DELIVERED),
    "failure": (PRE, ARRIVED, DEPARTED, OUT, FAILED),
    "return_to_sender": (PRE, ARRIVED, DEPARTED, OUT, RETURNED),
    "stalled": (PRE, ARRIVED),
    "unknown": (UNKNOWN,),
}
# EasyPost test-mode tracking codes: (scenario, steps already taken at creation).
TEST_CODES: dict[str, tuple[str, int]] = {
    "EZ1000000001": ("normal", 1),
    "EZ2000000002": ("normal", 3),
    "EZ3000000003": ("normal", 4),
    "EZ4000000004": ("normal", 5),
    "EZ5000000005": ("return_to_sender", 5),
    "EZ6000000006": ("failure", 5),
    "EZ7000000007": ("unknown", 1),
}
# Where standalone (and test-code) trackers travel, as EasyPost's test mode reports them.
TEST_ORIGIN: Json = {"city": "HOUSTON", "state": "TX", "country": None, "zip": "77063"}
TEST_DESTINATION: Json = {"city": "CHARLESTON", "state": "SC", "country": None, "zip": "29401"}
# The service carriers report for a standalone tracker (a label's tracker has its own).
DEFAULT_SERVICES = {"USPS": "First-Class Package Service", "UPS": "UPS Ground", "FedEx": "FEDEX_GROUND"}
FINAL = frozenset({"delivered", "return_to_sender", "failure"})


def detect_carrier(code: str) -> str:
    """Carrier from the tracking code's shape, as EasyPost auto-detects it."""
    if code.startswith("1Z"):
        return "UPS"
    if code.isdigit() and len(code) in (12, 15):
        return "FedEx"
    return "USPS"


def _place_name(place: Json) -> str:
    return f"{place.get('city') or ''} {place.get('state') or ''}, {place.get('zip') or ''}".strip()


def _location(place: Json | None) -> Json:
    place = place or {}
    return {
        "object": "TrackingLocation",
        "city": place.get("city"),
        "state": place.get("state"),
        "country": place.get("country"),
        "zip": place.get("zip"),
    }


@dataclass
class Plan:
    """How one tracker moves: scenario, creation time, span to delivery, steps applied."""

    scenario: str
    base: float
    span: float
    applied: int = 0
    frozen: bool = False
    origin: Json | None = None
    destination: Json | None = None


class Tracking:
    """Owns the trackers and their plans; :meth:`tick` applies the steps that are due."""

    def __init__(self, ids: IdMaker) -> None:
        self.ids = ids
        self.trackers: dict[str, Json] = {}
        self.by_code: dict[tuple[str, str], str] = {}
        self.plans: dict[str, Plan] = {}
        self.scripts: dict[str, str] = {}  # tracking code -> scenario, for trackers not yet created

    def create(
        self, now: float, mode: str, code: str, carrier: str | None, **extra: object
    ) -> tuple[Json, bool]:
        """The tracker for (code, carrier), creating it when new; the flag says whether it is new."""
        carrier = carrier or detect_carrier(code)
        existing = self.by_code.get((code, carrier.upper()))
        if existing is not None:
            return self.trackers[existing], False
        tracker_id = self.ids.new("trk")
        stamp = iso(now)
        tracker: Json = {
            "id": tracker_id,
            "object": "Tracker",
            "mode": mode,
            "tracking_code": code,
            "status": "unknown",
            "status_detail": "unknown",
            "created_at": stamp,
            "updated_at": stamp,
            "signed_by": None,
            "weight": None,
            "est_delivery_date": None,
            "shipment_id": extra.get("shipment_id"),
            "carrier": carrier,
            "tracking_details": [],
            "fees": [],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": extra.get("service") or DEFAULT_SERVICES.get(carrier),
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
        self.trackers[tracker_id] = tracker
        self.by_code[(code, carrier.upper())] = tracker_id
        span = float(extra.get("span") or 3 * DAY)  # type: ignore[arg-type]
        plan = Plan(self.scripts.pop(code, "normal"), now, span)
        plan.origin = extra.get("origin") or TEST_ORIGIN  # type: ignore[assignment]
        plan.destination = extra.get("destination") or TEST_DESTINATION  # type: ignore[assignment]
        self._describe_route(tracker, plan)
        tracker["est_delivery_date"] = iso(now + span)
        tracker["carrier_detail"]["est_delivery_date_local"] = tracker["est_delivery_date"][:10]
        tracker["weight"] = extra.get("weight")
        self.plans[tracker_id] = plan
        if code in TEST_CODES:
            self._start_at_test_status(tracker, plan, now)
        return tracker, True

    @staticmethod
    def _describe_route(tracker: Json, plan: Plan) -> None:
        detail = tracker["carrier_detail"]
        origin, destination = plan.origin or TEST_ORIGIN, plan.destination or TEST_DESTINATION
        detail["origin_location"] = _place_name(origin).upper()
        detail["origin_tracking_location"] = _location(origin)
        detail["destination_location"] = _place_name(destination).upper()

    def _start_at_test_status(self, tracker: Json, plan: Plan, now: float) -> None:
        plan.scenario, taken = TEST_CODES[tracker["tracking_code"]]
        plan.base = now - plan.span - HOUR  # every step of the history lies in the past
        steps = SCENARIOS[plan.scenario][:taken]
        self._apply(tracker, plan, steps)
        plan.frozen = True
        if tracker["status"] == "delivered":
            tracker["signed_by"] = "John Tester"

    def script(self, code_or_id: str, scenario: str) -> None:
        """Make a tracker (by id or tracking code, existing or future) follow ``scenario``."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
        tracker_id = code_or_id if code_or_id in self.plans else None
        if tracker_id is None:
            tracker_id = next((tid for (code, _), tid in self.by_code.items() if code == code_or_id), None)
        if tracker_id is None:
            self.scripts[code_or_id] = scenario
            return
        self.plans[tracker_id].scenario = scenario

    def tick(self, now: float) -> list[tuple[Json, Json]]:
        """Apply due steps; returns ``(tracker, previous_attributes)`` for each tracker that moved."""
        moved = []
        for tracker_id, plan in self.plans.items():
            if plan.frozen:
                continue
            steps = SCENARIOS[plan.scenario]
            due = [s for s in steps[plan.applied :] if plan.base + s.at(plan.span) <= now]
            if not due:
                continue
            tracker = self.trackers[tracker_id]
            previous = {"status": tracker["status"], "status_detail": tracker["status_detail"]}
            self._apply(tracker, plan, due)
            tracker["updated_at"] = iso(now)
            moved.append((tracker, previous))
        return moved

    def _apply(self, tracker: Json, plan: Plan, steps: tuple[Step, ...] | list[Step]) -> None:
        for step in steps:
            when = plan.base + step.at(plan.span)
            place = plan.destination if step.at_destination else plan.origin
            tracker["tracking_details"].append(
                {
                    "object": "TrackingDetail",
                    "message": step.message,
                    "description": step.message,
                    "status": step.status,
                    "status_detail": step.detail,
                    "datetime": iso(when),
                    "source": tracker["carrier"],
                    "carrier_code": "",
                    "tracking_location": _location(place),
                    "est_delivery_date": None,
                }
            )
            tracker["status"], tracker["status_detail"] = step.status, step.detail
            plan.applied += 1
        tracker["est_delivery_date"] = iso(plan.base + plan.span)
        tracker["carrier_detail"]["est_delivery_date_local"] = tracker["est_delivery_date"][:10]
        tracker["finalized"] = tracker["status"] in FINAL
        if tracker["finalized"]:
            plan.frozen = True
