"""Webhooks (CRUD) and Events: signed deliveries with retries on the simulator clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.harness import Delivery, WebhookDispatcher

from .common import ApiError, IdMaker, Json, iso, iso_millis, not_found

# EasyPost retries failed deliveries for about a day; these gaps (seconds) add up to ~22 h.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
USER_ID = "user_5a1b0c2d3e4f40a1b2c3d4e5f6a7b8c9"
EVENT_SUMMARY_KEYS = ("description", "id", "user_id", "status", "created_at", "mode", "object")


def snapshot(value: Any) -> Any:
    """A copy of a JSON-like value (dicts and lists copied, leaves shared: they are immutable)."""
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    return value


def sign(secret: str, body: bytes) -> str:
    """EasyPost's ``X-Hmac-Signature`` value: HMAC-SHA256 keyed by the NFKD-normalised secret."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Fanout:
    """How one event goes out to each webhook: never (``dropped``), or one delivery per delay.

    More than one delay duplicates the delivery (same event id); delays of different
    events interleave their deliveries. Only the first copy counts for the event's
    ``pending_urls``/``completed_urls`` and retries; a dropped event is never retried.
    """

    dropped: bool = False
    delays: tuple[float, ...] = (0.0,)


@dataclass(order=True)
class _Retry:
    due: float
    event_id: str = field(compare=False)
    webhook_id: str = field(compare=False)
    attempt: int = field(compare=False)


class EventHub:
    """Owns webhooks and events; hands deliveries to the harness dispatcher."""

    def __init__(
        self,
        ids: IdMaker,
        dispatcher: WebhookDispatcher,
        now: Callable[[], float],
        default_secret: str | None,
        retry_schedule: tuple[float, ...],
    ) -> None:
        self.ids = ids
        self.dispatcher = dispatcher
        self.now = now
        self.default_secret = default_secret
        self.retry_schedule = retry_schedule
        self.webhooks: dict[str, Json] = {}
        self.secrets: dict[str, str | None] = {}
        self.events: dict[str, Json] = {}
        self.attempts: list[Json] = []  # every delivery outcome, for assertions
        self.fanouts: dict[str, Fanout] = {}  # event id -> its fault plan (events sent with one)
        self.by_result: dict[str, list[str]] = {}  # result object id -> its event ids, oldest first
        self._retries: list[_Retry] = []
        self._lock = threading.RLock()

    # -- webhooks
    def create_webhook(self, mode: str, params: Json) -> Json:
        if not params.get("url"):
            raise ApiError(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "url", "message": "cannot be blank"}],
            )
        hook = {
            "id": self.ids.new("hook"),
            "object": "Webhook",
            "mode": mode,
            "url": params["url"],
            "created_at": iso(self.now()),
            "disabled_at": None,
            "custom_headers": params.get("custom_headers") or [],
        }
        with self._lock:
            self.webhooks[hook["id"]] = hook
            self.secrets[hook["id"]] = params.get("webhook_secret") or self.default_secret
        return hook

    def get_webhook(self, hook_id: str) -> Json:
        hook = self.webhooks.get(hook_id)
        if hook is None:
            raise not_found()
        return hook

    def update_webhook(self, hook_id: str, params: Json) -> Json:
        hook = self.get_webhook(hook_id)
        with self._lock:
            if "webhook_secret" in params:
                self.secrets[hook_id] = params["webhook_secret"] or self.default_secret
            if "custom_headers" in params:
                hook["custom_headers"] = params["custom_headers"] or []
            hook["disabled_at"] = None  # updating re-enables a disabled webhook, as EasyPost does
        return hook

    def delete_webhook(self, hook_id: str) -> None:
        self.get_webhook(hook_id)
        with self._lock:
            del self.webhooks[hook_id]
            self.secrets.pop(hook_id, None)

    # -- events
    def emit(
        self,
        mode: str,
        description: str,
        result: Json,
        previous: Json | None = None,
        fanout: Fanout | None = None,
        copied: bool = False,
    ) -> Json:
        """Record an Event (result snapshotted now) and send it to every webhook of ``mode``.

        ``fanout`` (tracker events under the tracking faults) drops, duplicates or delays
        the deliveries; without it each webhook gets one delivery, under the harness faults.
        ``copied``: ``result`` is already a snapshot the caller will not change.
        """
        stamp = iso_millis(self.now())
        with self._lock:
            targets = [h for h in self.webhooks.values() if h["mode"] == mode and h["disabled_at"] is None]
            event: Json = {
                "description": description,
                "mode": mode,
                "previous_attributes": previous or {},
                "created_at": stamp,
                "pending_urls": [h["url"] for h in targets],
                "completed_urls": [],
                "updated_at": stamp,
                "id": self.ids.new("evt"),
                "user_id": USER_ID,
                "status": "pending" if targets else "completed",
                "object": "Event",
                "result": result if copied else snapshot(result),
            }
            self.events[event["id"]] = event
            self.by_result.setdefault(str(result.get("id")), []).append(event["id"])
            if fanout is not None:
                self.fanouts[event["id"]] = fanout
        for hook in targets:
            if fanout is None:
                self._submit(event["id"], hook["id"], attempt=1)
                continue
            for copy_number, delay in enumerate(() if fanout.dropped else fanout.delays):
                self._submit(event["id"], hook["id"], attempt=1, delay=delay, counted=copy_number == 0)
        return event

    def public_event(self, event_id: str) -> Json:
        event = self.events.get(event_id)
        if event is None:
            raise not_found()
        return {k: v for k, v in event.items() if k != "result"}

    def summaries(self) -> list[Json]:
        return [{k: e[k] for k in EVENT_SUMMARY_KEYS} for e in self.events.values()]

    # -- delivery
    def _body(self, event_id: str, hook: Json) -> bytes:
        event = self.events[event_id]
        payload = {**event, "status": "pending", "pending_urls": [hook["url"]], "completed_urls": []}
        return json.dumps(payload, separators=(",", ":")).encode()

    def _submit(
        self, event_id: str, hook_id: str, attempt: int, delay: float | None = None, counted: bool = True
    ) -> None:
        hook = self.webhooks.get(hook_id)
        if hook is None:
            return

        def build() -> tuple[dict[str, str], bytes]:
            body = self._body(event_id, hook)
            headers = {"Content-Type": "application/json", "User-Agent": "EasyPost WebHook Agent 1.0"}
            headers.update({h["name"]: h["value"] for h in hook["custom_headers"] if "name" in h})
            secret = self.secrets.get(hook_id)
            if secret:
                headers["X-Hmac-Signature"] = sign(secret, body)
            return headers, body

        def on_result(delivery: Delivery) -> None:
            self._record(event_id, hook, attempt, delivery)

        topic = self.events[event_id]["description"]
        if delay is None:
            self.dispatcher.submit(hook["url"], topic, build, on_result)
        else:
            self.dispatcher.submit_after(delay, hook["url"], topic, build, on_result if counted else None)

    def _record(self, event_id: str, hook: Json, attempt: int, delivery: Delivery) -> None:
        ok = delivery.status is not None and 200 <= delivery.status < 300
        with self._lock:
            self.attempts.append(
                {
                    "event_id": event_id,
                    "webhook_id": hook["id"],
                    "attempt": attempt,
                    "status": delivery.status,
                    "error": delivery.error,
                    "at": self.now(),
                }
            )
            event = self.events[event_id]
            if ok:
                event["pending_urls"] = [u for u in event["pending_urls"] if u != hook["url"]]
                event["completed_urls"].append(hook["url"])
                event["status"] = "completed" if not event["pending_urls"] else event["status"]
            elif attempt <= len(self.retry_schedule):
                due = self.now() + self.retry_schedule[attempt - 1]
                self._retries.append(_Retry(due, event_id, hook["id"], attempt + 1))
            else:
                event["status"] = "failed"
            event["updated_at"] = iso_millis(self.now())

    def submit_due_retries(self) -> int:
        """Hand the retries whose time has come to the dispatcher; returns how many."""
        now = self.now()
        with self._lock:
            due = sorted(r for r in self._retries if r.due <= now)
            self._retries = [r for r in self._retries if r.due > now]
        for retry in due:
            self._submit(retry.event_id, retry.webhook_id, retry.attempt)
        return len(due)

    def pending_retries(self) -> list[Json]:
        with self._lock:
            return [
                {"event_id": r.event_id, "webhook_id": r.webhook_id, "attempt": r.attempt, "due": r.due}
                for r in sorted(self._retries)
            ]
