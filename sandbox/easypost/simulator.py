"""The EasyPost simulator app: auth, the route wrapper, the clock-driven tick and test helpers."""

from __future__ import annotations

import base64
import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.harness import Clock, Delivery, FakeClock, Faults, Simulator, json_response

from .common import ApiError, IdMaker, Json, status_error
from .events import DEFAULT_RETRY_SCHEDULE, EventHub, Fanout
from .refunds import public_refund, settle
from .shipments import Shipping
from .tracking import Tracking, tracker_snapshot
from .transit import DAY

DEFAULT_TEST_KEY = "EZTK-sandbox-test-key"
APIKEY_REQUIRED = ApiError(
    401, "APIKEY.REQUIRED", "Missing API key. Send your API key as the Basic Auth username."
)
APIKEY_INACTIVE = ApiError(
    401,
    "APIKEY.INACTIVE",
    "This api key is no longer active. Please use a different api key or reactivate this key.",
)
Handler = Callable[..., tuple[int, Any]]


@dataclass
class EasyPostFaults(Faults):
    """The harness faults plus faults of ``tracker.*`` Events (seeded like the others).

    ``tracker_drop_rate``: share of tracker events never delivered (not even retried);
    ``tracker_duplicate_rate``: share delivered 2 or 3 times (same event id);
    ``tracker_reorder_window_s``: each delivery waits a random 0..window seconds on the
    simulator clock, so the deliveries of different events arrive shuffled.
    """

    tracker_drop_rate: float = 0.0
    tracker_duplicate_rate: float = 0.0
    tracker_reorder_window_s: float = 0.0

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    def randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    def fanout(self) -> Fanout | None:
        """How the next tracker event goes out (None: as any other event)."""
        if not (self.tracker_drop_rate or self.tracker_duplicate_rate or self.tracker_reorder_window_s):
            return None
        if self.roll(self.tracker_drop_rate):
            return Fanout(dropped=True)
        copies = 1 + (self.randint(1, 2) if self.roll(self.tracker_duplicate_rate) else 0)
        window = self.tracker_reorder_window_s
        return Fanout(delays=tuple(self.uniform(0.0, window) if window else 0.0 for _ in range(copies)))


@dataclass
class Call:
    """What a handler gets: the key's mode, the JSON body, the query args and the request."""

    mode: str
    body: Json
    args: Any
    request: Request | None = None

    @property
    def host(self) -> str:
        """The simulator's own base URL (for label URLs); computed only when asked, it is not cheap."""
        return self.request.host_url if self.request is not None else "http://sandbox.invalid/"


class EasyPostSimulator(Simulator):
    """EasyPost API v2 at ``/v2/``; see the package docstring for behaviour and rules."""

    name = "easypost"

    def __init__(
        self,
        api_keys: Iterable[str] = (DEFAULT_TEST_KEY,),
        webhook_secret: str | None = None,
        clock: Clock | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE,
        refund_delay_s: float = DAY,
    ) -> None:
        self.api_keys = frozenset(api_keys)
        self.webhook_secret = webhook_secret
        self.seed = seed
        self.retry_schedule = retry_schedule
        self.refund_delay_s = refund_delay_s
        super().__init__(clock, faults or EasyPostFaults())
        from .routes import register  # routes import this module's types

        register(self)

    # -- state
    def reset_state(self) -> None:
        self._scripted: collections.deque[tuple[str | None, int]] = collections.deque()
        self.ids = IdMaker(self.seed)
        self.tracking = Tracking(self.ids, self.seed)
        self.events = EventHub(
            self.ids, self.webhooks, self.clock.now, self.webhook_secret, self.retry_schedule
        )
        self.shipping = Shipping(self.ids, self.tracking, self.events.emit)
        self.state = {
            "addresses": self.shipping.addresses,
            "shipments": self.shipping.shipments,
            "trackers": self.tracking.trackers,
            "refunds": self.shipping.refunds,
            "webhooks": self.events.webhooks,
            "events": self.events.events,
        }

    def snapshot(self) -> Json:
        return {
            "label_purchases": self.label_purchases,
            "labels_per_shipment": dict(self.shipping.label_counts),
            "labels_per_reference": self.labels_per_reference(),
            "shipments": len(self.shipping.shipments),
            "trackers": {t["tracking_code"]: t["status"] for t in self.tracking.trackers.values()},
            "refunds": [public_refund(r) for r in self.shipping.refunds.values()],
            "webhooks": list(self.events.webhooks.values()),
            "events": self.events.summaries(),
            "pending_retries": self.events.pending_retries(),
        }

    def reset(self) -> None:
        super().reset()
        self.faults = EasyPostFaults()

    def _control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            self.faults = EasyPostFaults.from_dict(request.get_json(force=True) or {})
        return json_response(self.faults.to_dict())

    # -- EasyPost's error bodies for the harness's injected faults
    def error_response(self, status: int, message: str) -> Response:
        return status_error(status).response()

    # -- routing
    def api(self, rule: str, methods: list[str], op: str, handler: Handler) -> None:
        """Register ``/v2<rule>`` as operation ``op`` (the name calls are counted under)."""

        def endpoint(request: Request, **values: str) -> Response:
            return self._call(op, handler, request, values)

        self.route("/v2" + rule, endpoint, methods, endpoint=op)

    def _call(self, op: str, handler: Handler, request: Request, values: dict[str, str]) -> Response:
        self.count(op)
        key = self._api_key(request)
        if key is None:
            return APIKEY_REQUIRED.response()
        if key not in self.api_keys:
            return APIKEY_INACTIVE.response()
        scripted = self._take_scripted(op)
        if scripted is not None:
            return status_error(scripted).response()
        body = request.get_json(silent=True) if request.method in ("POST", "PATCH", "PUT") else None
        call = Call("production" if key.startswith("EZAK") else "test", body or {}, request.args, request)
        try:
            with self._lock:
                status, payload = handler(self, call, **values)
        except ApiError as exc:
            return exc.response()
        if request.method != "GET" and self.lose_response(op):
            return self.lost_response()
        return json_response(payload, status)

    @staticmethod
    def _api_key(request: Request) -> str | None:
        """The key from ``Authorization``: ``Bearer <key>`` (the client) or Basic with the key as username."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode().partition(":")[0] or None
            except ValueError:
                return None
        return None

    def fail_next(self, status: int, times: int = 1, op: str | None = None) -> None:
        """Answer the next ``times`` calls (of ``op``, or any) with EasyPost's error for ``status``."""
        with self._lock:
            self._scripted.extend([(op, status)] * times)

    def _take_scripted(self, op: str) -> int | None:
        with self._lock:
            for index, (wanted, status) in enumerate(self._scripted):
                if wanted in (None, op):
                    del self._scripted[index]
                    return status
        return None

    # -- time
    def tick(self) -> None:
        """Apply what is due now: tracker scans, refund decisions, webhook retries."""
        now = self.clock.now()
        with self._lock:
            for moved in self.tracking.tick(now):
                if moved.send:
                    fanout = self.faults.fanout() if isinstance(self.faults, EasyPostFaults) else None
                    tracker = tracker_snapshot(moved.tracker)
                    self.events.emit(
                        tracker["mode"], "tracker.updated", tracker, moved.previous, fanout, copied=True
                    )
            for refund in settle(self.shipping, now, self.refund_delay_s):
                self.events.emit(refund["mode"], "refund.successful", public_refund(refund))
        self.events.submit_due_retries()

    def advance(self, seconds: float, step_s: float | None = None) -> list[Delivery]:
        """Move the fake clock (in steps of ``step_s``), tick, and deliver the webhooks now due."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs a FakeClock; with a real clock call tick() periodically")
        deliveries: list[Delivery] = []
        remaining = seconds
        while True:
            move = remaining if step_s is None else min(step_s, remaining)
            self.clock.advance(move)
            remaining -= move
            self.tick()
            deliveries += self.webhooks.flush(everything=False)
            if remaining <= 0:
                return deliveries

    # -- assertions
    @property
    def label_purchases(self) -> int:
        """Labels bought so far (each successful buy, including ones whose response was lost)."""
        return len(self.shipping.labels)

    def labels_per_reference(self) -> dict[str, int]:
        """Labels bought, by their shipment's ``reference`` (Waybill's parcel key): a drill's
        proof of one label per parcel, however many shipments a parcel was given."""
        counts: dict[str, int] = {}
        for shipment_id, bought in self.shipping.label_counts.items():
            reference = str(self.shipping.shipments.get(shipment_id, {}).get("reference") or "")
            counts[reference] = counts.get(reference, 0) + bought
        return counts

    def labels_for(self, shipment_id: str) -> list[Json]:
        return [label for label in self.shipping.labels if label["shipment_id"] == shipment_id]

    @property
    def refunds(self) -> list[Json]:
        return [public_refund(r) for r in self.shipping.refunds.values()]

    @property
    def trackers(self) -> dict[str, Json]:
        return self.tracking.trackers

    def events_sent(self, description: str | None = None) -> list[Json]:
        return [e for e in self.events.events.values() if description in (None, e["description"])]

    def script_tracker(self, code_or_id: str, scenario: str, **params: Any) -> None:
        """Make a tracker (id or tracking code, now or before it exists) follow ``scenario``.

        See :mod:`sandbox.easypost.scenarios` for the scenarios and their ``params``;
        a ``ValueError`` says what is wrong with an unknown scenario, param or value.
        """
        with self._lock:
            self.tracking.script(code_or_id, scenario, **params)

    def script_mix(self, mix: dict[str, Any]) -> None:
        """Outcomes drawn for trackers created from now on (labels included), e.g.
        ``{"stalled": 0.10, "failure": 0.05, "return_to_sender": {"share": 0.03}}``; the rest
        move normally. Seeded by tracking code; ``{}`` turns it off; a ``ValueError`` says
        what is wrong (nothing changes)."""
        with self._lock:
            self.tracking.set_mix(mix)

    def tracker_report(self, code_or_id: str) -> Json:
        """What the EasyPost side knows and sent about one tracker (for end-to-end assertions).

        ``scans``: every scan so far (carrier time, status, detail); ``pending``: scans
        still to come; ``events``: each Event for it (``dropped``: never delivered,
        ``copies``: deliveries made or scheduled); ``suppressed``: updates not sent at
        all (the ``lost_events`` scenario or ``lose``).
        """
        with self._lock:
            tracker_id = self.tracking.find(code_or_id)
            if tracker_id is None:
                raise KeyError(code_or_id)
            tracker, plan = self.tracking.trackers[tracker_id], self.tracking.plans[tracker_id]
            events = []
            for event_id in self.events.by_result.get(tracker_id, []):
                event = self.events.events[event_id]
                fanout = self.events.fanouts.get(event_id)
                events.append(
                    {
                        "id": event_id,
                        "description": event["description"],
                        "status": event["result"]["status"],
                        "scans": len(event["result"]["tracking_details"]),
                        "dropped": bool(fanout and fanout.dropped),
                        "copies": 0 if fanout and fanout.dropped else len(fanout.delays) if fanout else 1,
                    }
                )
            return {
                "id": tracker_id,
                "tracking_code": tracker["tracking_code"],
                "carrier": tracker["carrier"],
                "service": tracker["carrier_detail"]["service"],
                "route_class": str(plan.route.route),
                "scenario": plan.scenario,
                "status": tracker["status"],
                "est_delivery_date": tracker["est_delivery_date"],
                "scans": [
                    {"datetime": d["datetime"], "status": d["status"], "status_detail": d["status_detail"]}
                    for d in tracker["tracking_details"]
                ],
                "pending": len(plan.scans) - plan.applied,
                "events": events,
                "suppressed": plan.suppressed,
            }

    def tracking_report(self) -> Json:
        """:meth:`tracker_report` for every tracker, with totals."""
        with self._lock:
            reports = {tid: self.tracker_report(tid) for tid in self.tracking.trackers}
        events = [e for r in reports.values() for e in r["events"] if e["description"] == "tracker.updated"]
        totals = {
            "trackers": len(reports),
            "updates": len(events),
            "dropped": sum(e["dropped"] for e in events),
            "duplicated": sum(e["copies"] > 1 for e in events),
            "suppressed": sum(r["suppressed"] for r in reports.values()),
        }
        return {"trackers": reports, "totals": totals}
