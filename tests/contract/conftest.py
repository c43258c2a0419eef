"""Contract tests: the clients against recorded-shape answers served by ``responses``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from connectors.shopify.throttle import REGISTRY


class FakeTime:
    """A clock for the clients that only moves when they sleep; records every sleep."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def _fresh_throttle_registry() -> Iterator[None]:
    # The registry is process-wide by design; each test starts with no knowledge of any shop.
    REGISTRY.forget()
    yield
    REGISTRY.forget()
