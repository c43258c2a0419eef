"""Fixtures: a served WooCommerce simulator, API keys, the official client and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import woocommerce
from werkzeug.wrappers import Request, Response

from sandbox.harness import RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator


@dataclass
class Store:
    """A running simulator with one read/write key."""

    sim: WooCommerceSimulator
    server: RunningServer
    ck: str
    cs: str

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, ck: str | None = None, cs: str | None = None) -> woocommerce.API:
        return woocommerce.API(
            url=self.url,
            consumer_key=ck or self.ck,
            consumer_secret=cs or self.cs,
            version="wc/v3",
            timeout=5,
        )


@pytest.fixture(scope="session")
def _served() -> Iterator[tuple[WooCommerceSimulator, RunningServer]]:
    # One server for the session (stopping one takes half a second); each test resets its state.
    sim = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    server = serve(sim)
    sim.bind(server.url)
    try:
        yield sim, server
    finally:
        server.stop()


@pytest.fixture
def store(_served: tuple[WooCommerceSimulator, RunningServer]) -> Store:
    sim, server = _served
    sim.reset()
    sim.approve_key_requests = True
    ck, cs = sim.create_key("read_write")
    return Store(sim, server, ck, cs)


@dataclass
class Receiver:
    """An HTTP endpoint that records what it gets and answers with scripted statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def clear(self) -> None:
        self.statuses.clear()
        self.received.clear()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append(
            {"headers": dict(request.headers), "body": request.get_data(), "path": request.path}
        )
        status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status=status)(environ, start_response)

    def bodies(self) -> list[bytes]:
        return [r["body"] for r in self.received]


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[Receiver]:
    app = Receiver()
    server = serve(app)
    app.url = server.url + "/hooks"
    try:
        yield app
    finally:
        server.stop()


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.clear()
    return _receiver_server
