"""Shared machinery for the platform simulators.

Each simulator is a WSGI app built on :class:`Simulator`. This module gives them
one way to start (:func:`serve` on a loopback port, in a thread), a controllable
clock, seeded fault injection, a call log with counts, control routes under
``/_sandbox/`` and a webhook dispatcher that can drop, duplicate, reorder and
delay deliveries.

Production code never imports ``sandbox``.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

# --------------------------------------------------------------------------- clock


class Clock:
    """Wall clock. Simulators read time only through a clock so tests can fake it."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock(Clock):
    """A clock that only moves when told to (``advance``)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


# --------------------------------------------------------------------------- faults


@dataclass
class Faults:
    """Fault plan for one simulator. Rates are probabilities in [0, 1].

    Decisions come from a ``random.Random(seed)``, so a failing run replays with
    the same seed and the same sequence of requests.
    """

    seed: int = 0
    latency_s: float = 0.0
    error_rate: float = 0.0  # answer 5xx without acting
    throttle_rate: float = 0.0  # answer 429 / THROTTLED without acting
    retry_after_s: float = 1.0
    timeout_rate: float = 0.0  # hang ``hang_s`` then 504, without acting
    lost_response_rate: float = 0.0  # act, then hang ``hang_s`` and 504 (response lost)
    hang_s: float = 2.0
    # Which operations the lost-response fault applies to (empty: all mutating ones).
    lost_response_ops: tuple[str, ...] = ()
    # webhooks
    webhook_drop_rate: float = 0.0
    webhook_duplicates: int = 0  # extra copies of every delivery
    webhook_reorder: bool = False
    webhook_delay_s: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._rng.shuffle(items)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lost_response_ops"] = list(self.lost_response_ops)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "lost_response_ops" in known:
            known["lost_response_ops"] = tuple(known["lost_response_ops"])
        return cls(**known)


# --------------------------------------------------------------------------- webhooks


@dataclass
class Delivery:
    """One webhook delivery attempt and its outcome."""

    url: str
    headers: dict[str, str]
    body: bytes
    topic: str
    status: int | None = None
    error: str | None = None
    delivered_at: float | None = None
    dropped: bool = False

    def summary(self) -> dict[str, Any]:
        """The attempt as ``GET /_sandbox/deliveries`` lists it: where, what, the answer, and
        the body's ``id`` (the order's, for order topics) as a string, exact."""
        try:
            found = json.loads(self.body).get("id") if self.body.startswith(b"{") else None
        except ValueError:
            found = None
        return {
            "url": self.url,
            "topic": self.topic,
            "status": self.status,
            "error": self.error,
            "dropped": self.dropped,
            "at": self.delivered_at,
            "resource_id": None if found is None else str(found),
        }


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    url: str = field(compare=False)
    topic: str = field(compare=False)
    build: Callable[[], tuple[dict[str, str], bytes]] = field(compare=False)
    on_result: Callable[[Delivery], None] | None = field(compare=False, default=None)
    # Says why the platform would not send to this URL at all (None: it sends).
    refuse: Callable[[str], str | None] | None = field(compare=False, default=None)


class WebhookDispatcher:
    """Sends a simulator's webhooks, applying the webhook faults.

    ``build`` is called at delivery time (WooCommerce builds payloads then), and
    returns ``(headers, body)``. Deliveries run in a background thread when
    ``start()`` was called; otherwise tests call ``flush()`` to deliver what is due.

    ``retry_scale`` compresses the platforms' retry schedules (:meth:`submit_after`) for
    drills that cannot wait hours: 0.01 turns Shopify's 4 hours into 2.4 minutes.
    """

    def __init__(self, faults: Callable[[], Faults], clock: Clock, timeout_s: float = 5.0) -> None:
        self._faults = faults
        self._clock = clock
        self._timeout_s = timeout_s
        self._heap: list[_Pending] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._http = requests.Session()
        self.log: list[Delivery] = []
        self.retry_scale = 1.0

    def submit(
        self,
        url: str,
        topic: str,
        build: Callable[[], tuple[dict[str, str], bytes]],
        on_result: Callable[[Delivery], None] | None = None,
        refuse: Callable[[str], str | None] | None = None,
    ) -> None:
        """Queue one delivery (plus fault copies); ``refuse(url)`` is asked at delivery time."""
        faults = self._faults()
        copies = 1 + max(0, faults.webhook_duplicates)
        with self._cond:
            for _ in range(copies):
                due = self._clock.now() + faults.webhook_delay_s
                pending = _Pending(due, next(self._seq), url, topic, build, on_result, refuse)
                heapq.heappush(self._heap, pending)
            self._cond.notify_all()

    def submit_after(
        self,
        delay_s: float,
        url: str,
        topic: str,
        build: Callable[[], tuple[dict[str, str], bytes]],
        on_result: Callable[[Delivery], None] | None = None,
    ) -> None:
        """One delivery due ``delay_s`` from now on the simulator clock (a platform's retry).

        Fault duplication does not apply: a retry is the platform's own second attempt.
        """
        with self._cond:
            due = self._clock.now() + delay_s * self.retry_scale
            heapq.heappush(self._heap, _Pending(due, next(self._seq), url, topic, build, on_result))
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _take_due(self, everything: bool, limit: int | None = None) -> list[_Pending]:
        """What is due (or everything): at most ``limit`` deliveries unless the fault plan
        reorders, which takes every due delivery and shuffles them."""
        now = self._clock.now()
        reorder = self._faults().webhook_reorder
        with self._cond:
            due: list[_Pending] = []
            while self._heap and (everything or self._heap[0].due <= now):
                if limit is not None and not reorder and len(due) >= limit:
                    break
                due.append(heapq.heappop(self._heap))
        if due and reorder:
            self._faults().shuffle(due)
        return due

    def flush(self, everything: bool = True) -> list[Delivery]:
        """Deliver what is due (or everything) now, in this thread."""
        return [self._deliver(p) for p in self._take_due(everything)]

    def _deliver(self, item: _Pending) -> Delivery:
        headers, body = item.build()
        delivery = Delivery(url=item.url, headers=headers, body=body, topic=item.topic)
        refused = item.refuse(item.url) if item.refuse is not None else None
        if refused is not None:
            delivery.error = refused  # never sent: a failed delivery, not a dropped one
        elif self._faults().roll(self._faults().webhook_drop_rate):
            delivery.dropped = True
            delivery.error = "dropped by fault plan"
        else:
            try:
                resp = self._http.post(item.url, data=body, headers=headers, timeout=self._timeout_s)
                delivery.status = resp.status_code
            except requests.RequestException as exc:
                delivery.error = type(exc).__name__
        delivery.delivered_at = self._clock.now()
        with self._cond:
            self.log.append(delivery)
        if item.on_result is not None and not delivery.dropped:
            item.on_result(delivery)
        return delivery

    def start(self, poll_s: float = 0.02, threads: int = 1) -> None:
        """Deliver in the background. With ``threads`` above 1, that many senders each take one
        due delivery at a time, so copies of a delivery (``webhook_duplicates``) and different
        deliveries reach the receiver concurrently, as from a platform's many senders."""
        if self._thread is not None:
            return
        self._stopping = False
        limit = None if threads <= 1 else 1
        self._http = requests.Session() if threads <= 1 else _PerThreadSession()  # type: ignore[assignment]

        def loop() -> None:
            while not self._stopping:
                batch = self._take_due(everything=False, limit=limit)
                for item in batch:
                    self._deliver(item)
                if not batch:
                    with self._cond:
                        self._cond.wait(poll_s)

        self._threads = [
            threading.Thread(target=loop, name=f"sandbox-webhooks-{n}", daemon=True) for n in range(threads)
        ]
        self._thread = self._threads[0]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping = True
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            for thread in self._threads:
                thread.join(timeout=5)
            self._thread = None

    def reset(self) -> None:
        with self._cond:
            self._heap.clear()
            self.log.clear()
        self.retry_scale = 1.0


class _PerThreadSession:
    """A ``requests.Session`` per sending thread (a session is not safe to share between threads)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session.post(url, **kwargs)


# --------------------------------------------------------------------------- simulator base


class Simulator:
    """Base WSGI app: routing, call counting, fault injection, control routes.

    Subclasses add rules with :meth:`route` and keep their data in ``self.state``
    (reset by :meth:`reset_state`). Handlers take ``(request, **url_values)`` and
    return a :class:`Response`. Control routes (JSON):

    - ``GET  /_sandbox/state``  -> ``{"state": ..., "calls": {...}}``
    - ``POST /_sandbox/reset``
    - ``POST /_sandbox/faults`` body: a :class:`Faults` dict
    - ``POST /_sandbox/clock/advance`` body ``{"seconds": n}`` (fake clocks only)
    - ``GET  /_sandbox/deliveries?since=n`` -> every webhook delivery attempt from the
      ``n``-th on (:meth:`Delivery.summary`) and ``next``, the ``since`` of the next call
    - ``POST /_sandbox/webhooks`` body ``{"retry_scale": s}``: the platform's retry
      schedule times ``s`` (``WebhookDispatcher.retry_scale``)

    - ``POST /_sandbox/webhooks/blackout``: the subscriptions a long outage of the receiver
      leaves deleted or disabled (simulators with a ``blackout_webhooks`` method)

    ``state`` also says how many requests are ``hanging``: acted on, their answer held back
    by the lost-response fault (a drill kills the caller then, between act and answer).
    """

    name = "simulator"

    def __init__(self, clock: Clock | None = None, faults: Faults | None = None) -> None:
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.calls: collections.Counter[str] = collections.Counter()
        # Faults injected so far, by kind (error, throttle, timeout, lost_response).
        self.injected: collections.Counter[str] = collections.Counter()
        self.request_log: list[dict[str, Any]] = []
        self.hanging = 0
        self._lock = threading.RLock()
        self._rules: list[Rule] = []
        self._handlers: dict[str, Callable[..., Response]] = {}
        self.webhooks = WebhookDispatcher(lambda: self.faults, self.clock)
        self.route("/_sandbox/state", self._control_state, methods=["GET"], endpoint="_state")
        self.route("/_sandbox/reset", self._control_reset, methods=["POST"], endpoint="_reset")
        self.route("/_sandbox/faults", self._control_faults, methods=["POST", "GET"], endpoint="_faults")
        self.route("/_sandbox/clock/advance", self._control_clock, methods=["POST"], endpoint="_clock")
        self.route("/_sandbox/deliveries", self._control_deliveries, methods=["GET"], endpoint="_deliveries")
        self.route("/_sandbox/webhooks", self._control_webhooks, methods=["POST"], endpoint="_webhooks")
        self.route(
            "/_sandbox/webhooks/blackout", self._control_blackout, methods=["POST"], endpoint="_blackout"
        )
        self.reset_state()
        self._url_map: Map | None = None

    # -- to override
    def reset_state(self) -> None:
        self.state: dict[str, Any] = {}

    def snapshot(self) -> Any:
        """JSON-able view of the state for ``/_sandbox/state``."""
        return self.state

    def error_response(self, status: int, message: str) -> Response:
        """The platform's error body for injected faults."""
        return json_response({"error": message}, status)

    def throttled_response(self, retry_after_s: float) -> Response:
        resp = self.error_response(429, "Too many requests")
        resp.headers["Retry-After"] = str(max(1, round(retry_after_s)))
        return resp

    # -- plumbing
    def route(
        self, rule: str, handler: Callable[..., Response], methods: Iterable[str], endpoint: str | None = None
    ) -> None:
        endpoint = endpoint or handler.__name__
        self._rules.append(Rule(rule, endpoint=endpoint, methods=list(methods)))
        self._handlers[endpoint] = handler
        self._url_map = None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.injected.clear()
            self.request_log.clear()
            self.webhooks.reset()
            self.faults = Faults()
            self.reset_state()

    def count(self, op: str) -> None:
        with self._lock:
            self.calls[op] += 1

    def lose_response(self, op: str) -> bool:
        """After acting: should this response be lost (hang, then 504)?"""
        ops = self.faults.lost_response_ops
        lost = (not ops or op in ops) and self.faults.roll(self.faults.lost_response_rate)
        if lost:
            self._injected("lost_response")
        return lost

    def _injected(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def lost_response(self) -> Response:
        with self._lock:
            self.hanging += 1
        try:
            self.clock_sleep_real(self.faults.hang_s)
        finally:
            with self._lock:
                self.hanging -= 1
        return Response(b"", status=504)

    @staticmethod
    def clock_sleep_real(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        url_map = self._url_map
        if url_map is None:
            with self._lock:  # the first requests may arrive together: the rules bind to one map
                if self._url_map is None:
                    self._url_map = Map(self._rules, strict_slashes=False)
                url_map = self._url_map
        adapter = url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except Exception as exc:  # werkzeug HTTPException: NotFound, MethodNotAllowed
            code = getattr(exc, "code", 404) or 404
            return self.error_response(code, "No route was found matching the URL and request method.")
        with self._lock:
            self.request_log.append({"method": request.method, "path": request.path, "endpoint": endpoint})
        if not endpoint.startswith("_"):
            injected = self._inject_faults()
            if injected is not None:
                return injected
        return self._handlers[endpoint](request, **values)

    def _inject_faults(self) -> Response | None:
        f = self.faults
        if f.latency_s > 0:
            time.sleep(f.latency_s)
        if f.roll(f.timeout_rate):
            self._injected("timeout")
            return self.lost_response()
        if f.roll(f.error_rate):
            self._injected("error")
            return self.error_response(503, "Service unavailable (injected)")
        if f.roll(f.throttle_rate):
            self._injected("throttle")
            return self.throttled_response(f.retry_after_s)
        return None

    # -- control routes
    def _control_state(self, request: Request) -> Response:
        with self._lock:
            state = {"state": self.snapshot(), "calls": dict(self.calls), "hanging": self.hanging}
        return json_response(state)

    def _control_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"ok": True})

    def _control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            self.faults = Faults.from_dict(request.get_json(force=True) or {})
        return json_response(self.faults.to_dict())

    def _control_deliveries(self, request: Request) -> Response:
        since = int(request.args.get("since", 0))
        with self.webhooks._cond:
            attempts = self.webhooks.log[since:]
        return json_response({"deliveries": [d.summary() for d in attempts], "next": since + len(attempts)})

    def _control_webhooks(self, request: Request) -> Response:
        body = request.get_json(force=True) or {}
        if "retry_scale" in body:
            self.webhooks.retry_scale = float(body["retry_scale"])
        return json_response({"retry_scale": self.webhooks.retry_scale})

    def _control_blackout(self, request: Request) -> Response:
        blackout = getattr(self, "blackout_webhooks", None)
        if blackout is None:
            return json_response({"error": "this platform sends no subscribed webhooks"}, 400)
        return json_response(blackout())

    def _control_clock(self, request: Request) -> Response:
        if not isinstance(self.clock, FakeClock):
            return json_response({"error": "clock is not controllable"}, 400)
        self.clock.advance(float((request.get_json(force=True) or {}).get("seconds", 0)))
        return json_response({"now": self.clock.now()})


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, default=str), status=status, headers=headers or {}, mimetype="application/json"
    )


# --------------------------------------------------------------------------- serving


class RunningServer:
    """A simulator served on a loopback port in a daemon thread."""

    def __init__(self, app: Any, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.app = app
        self._server = server
        self._thread = thread
        self.host = "127.0.0.1"
        self.port = server.server_port
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        stopper = getattr(self.app, "webhooks", None)
        if stopper is not None:
            stopper.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def serve(app: Any, port: int = 0, host: str = "127.0.0.1") -> RunningServer:
    """Serve a WSGI app on ``host:port`` (0 picks a free port) in a thread."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{port}", daemon=True)
    thread.start()
    return RunningServer(app, server, thread)
