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
from .events import DEFAULT_RETRY_SCHEDULE, EventHub
from .refunds import public_refund, settle
from .shipments import Shipping
from .tracking import DAY, Tracking

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
        super().__init__(clock, faults)
        from .routes import register  # routes import this module's types

        register(self)

    # -- state
    def reset_state(self) -> None:
        self._scripted: collections.deque[tuple[str | None, int]] = collections.deque()
        self.ids = IdMaker(self.seed)
        self.tracking = Tracking(self.ids)
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
            "shipments": len(self.shipping.shipments),
            "trackers": {t["tracking_code"]: t["status"] for t in self.tracking.trackers.values()},
            "refunds": [public_refund(r) for r in self.shipping.refunds.values()],
            "webhooks": list(self.events.webhooks.values()),
            "events": self.events.summaries(),
            "pending_retries": self.events.pending_retries(),
        }

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
            for tracker, previous in self.tracking.tick(now):
                self.events.emit(tracker["mode"], "tracker.updated", tracker, previous)
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

    def script_tracker(self, code_or_id: str, scenario: str) -> None:
        """Make a tracker follow ``normal``, ``failure``, ``return_to_sender`` or ``stalled``."""
        with self._lock:
            self.tracking.script(code_or_id, scenario)
