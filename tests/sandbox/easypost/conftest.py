"""Fixtures for the EasyPost simulator tests: a served simulator on a FakeClock, the
official client pointed at it, and a webhook receiver that records raw deliveries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import easypost
import pytest
from werkzeug.wrappers import Request, Response

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import PARCEL, REDONDO, SF
from sandbox.harness import FakeClock, RunningServer, serve

TEST_KEY = "EZTK-sandbox-test-key-1"
PROD_KEY = "EZAK-sandbox-prod-key-1"
SECRET = "sécret"  # non-ASCII on purpose: EasyPost NFKD-normalises the secret before signing


@dataclass
class Receiver:
    """A webhook endpoint: records every delivery; answers with the next scripted status (else 200)."""

    server: RunningServer | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/hooks/easypost"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append({"headers": dict(request.headers), "body": request.get_data()})
            status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status=status)(environ, start_response)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture
def sim(clock: FakeClock) -> EasyPostSimulator:
    return EasyPostSimulator(api_keys=[TEST_KEY, PROD_KEY], webhook_secret=SECRET, clock=clock)


class Switch:
    """One served WSGI app per test session that forwards to the current test's app.

    Stopping a served app takes up to half a second; switching keeps each test fast
    while every test still gets a fresh simulator.
    """

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def _sim_switch() -> Iterator[tuple[Switch, RunningServer]]:
    switch = Switch()
    running = serve(switch)
    yield switch, running
    running.stop()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[tuple[Switch, RunningServer]]:
    switch = Switch()
    running = serve(switch)
    yield switch, running
    running.stop()


@pytest.fixture
def server(sim: EasyPostSimulator, _sim_switch: tuple[Switch, RunningServer]) -> RunningServer:
    """The running server, now serving this test's simulator."""
    switch, running = _sim_switch
    switch.target = sim
    return running


@pytest.fixture
def client(server: RunningServer) -> easypost.EasyPostClient:
    return easypost.EasyPostClient(TEST_KEY, api_base=server.url + "/v2")


@pytest.fixture
def receiver(_receiver_server: tuple[Switch, RunningServer]) -> Receiver:
    switch, running = _receiver_server
    switch.target = rec = Receiver(server=running)
    return rec


@pytest.fixture
def shipment(client: easypost.EasyPostClient) -> Any:
    """A created (not bought) domestic shipment SF -> Redondo Beach, 15.4 oz."""
    return client.shipment.create(to_address=REDONDO, from_address=SF, parcel=PARCEL, reference="order-1")


@pytest.fixture
def test_key() -> str:
    return TEST_KEY


@pytest.fixture
def prod_client(server: RunningServer) -> easypost.EasyPostClient:
    """The official client with the production key (objects and events in mode "production")."""
    return easypost.EasyPostClient(PROD_KEY, api_base=server.url + "/v2")
