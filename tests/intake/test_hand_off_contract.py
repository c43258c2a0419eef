"""Every hand-off brings a committed inbox event to the workers, once (sync/handoff.py).

Each test runs once per hand-off the backend under test has: the in-process queue
(embedded backend, which enqueues directly); the plain (redis-py) and the raw RESP
sender on Redis (services backend), chosen through config ``inbox.hand_off`` as in
production. A handed-off event is run by the real job, ``process_inbox_event``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from redis import Redis

from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.embedded_queue import EmbeddedJobQueue
from sync.handoff import HandOffLinks, RedisPyHandOff, hand_off_sender
from sync.intake import hand_off_events
from sync.redis_queue import RedisJobQueue
from tests.conftest import BACKEND, drain
from webhooks.inbox import insert_event

KINDS = ["in-process"] if BACKEND == "embedded" else ["plain", "raw"]
SENDERS = {"plain": RedisPyHandOff, "raw": HandOffLinks}
TOPIC = "waybill/hand-off-contract"  # no handler: the job marks the event ignored


@pytest.fixture(params=KINDS)
def queued(request: pytest.FixtureRequest, config: dict[str, Any]) -> str:
    if request.param != "in-process":
        config["inbox"] = {"hand_off": request.param}
    return str(request.param)


@pytest.fixture
def runtime(queued: str, rt: Any) -> Any:
    return rt


def stored(rt: Any, count: int) -> list[int]:
    """``count`` pending events, committed as a receiver commits them (nothing handed off yet)."""
    ids = []
    for n in range(count):
        values = {
            "platform": Platform.shopify,
            "topic": TOPIC,
            "dedupe_key": f"hand-off-{n}",
            "body": b"{}",
            "headers": {},
            "store_id": None,
            "account_id": None,
            "attempts": 0,
            "state": InboxState.pending,
            "received_at": utcnow(),
        }
        event_id = insert_event(rt.engine, values)
        assert event_id is not None
        ids.append(event_id)
    return ids


def runs(rt: Any, ids: list[int]) -> dict[int, tuple[str, int]]:
    """Each event's state and the times its job ran it."""
    with rt.session() as s:
        return {i: (str(e.state), e.attempts) for i in ids if (e := s.get(InboxEvent, i)) is not None}


def test_the_configured_hand_off_is_the_one_in_use(queued: str, runtime: Any) -> None:
    if queued == "in-process":
        assert isinstance(runtime.queue, EmbeddedJobQueue)
    else:
        assert isinstance(runtime.queue, RedisJobQueue)
        assert type(runtime.queue.sender) is SENDERS[queued]


def test_each_event_handed_off_is_run_once(runtime: Any) -> None:
    ids = stored(runtime, 5)
    hand_off_events(runtime, ids[:3])  # several in one command
    hand_off_events(runtime, ids[3:4])
    hand_off_events(runtime, ids[:1])  # handed off again before it ran: the same job
    drain(runtime)
    assert runs(runtime, ids) == {
        **{i: ("ignored", 1) for i in ids[:4]},
        ids[4]: ("pending", 0),  # never handed off: left for the sweeper
    }


def test_hand_offs_from_many_threads_all_arrive(runtime: Any) -> None:
    ids = stored(runtime, 40)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def hand_off(mine: list[int]) -> None:
        start.wait()
        try:
            for event_id in mine:
                hand_off_events(runtime, [event_id])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hand_off, args=(ids[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    drain(runtime)
    assert runs(runtime, ids) == {i: ("ignored", 1) for i in ids}


def test_the_sender_is_chosen_by_config_and_connection() -> None:
    tcp, unix = Redis(host="127.0.0.1", port=1), Redis(unix_socket_path="/nonexistent/redis.sock")
    try:
        assert isinstance(hand_off_sender("auto", tcp), HandOffLinks)
        assert isinstance(hand_off_sender("raw", tcp), HandOffLinks)
        assert isinstance(hand_off_sender("plain", tcp), RedisPyHandOff)
        assert isinstance(hand_off_sender("auto", unix), RedisPyHandOff)  # raw RESP is plain TCP only
        with pytest.raises(ValueError, match="plain TCP"):
            hand_off_sender("raw", unix)
        with pytest.raises(ValueError, match="not one of"):
            hand_off_sender("fast", tcp)
    finally:
        tcp.close()
        unix.close()
