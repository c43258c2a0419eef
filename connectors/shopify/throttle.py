"""Pacing for Shopify's cost-based leaky bucket, from the ``throttleStatus`` Shopify reports.

Shopify gives each (app, shop) a bucket of points that refills continuously. Every
GraphQL response says how full it is (``extensions.cost.throttleStatus``), so the
client keeps the last status seen per shop and estimates what is available now
instead of assuming a plan's numbers. The registry is process-wide and locked:
several worker threads often talk to the same shop, and each must see the points
the others just spent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# Requested cost assumed for a document never sent before (Shopify's own examples
# budget about 50 points for an ordinary query); replaced by the real figure after
# the first response.
DEFAULT_COST = 50


@dataclass(frozen=True)
class ThrottleState:
    """The last ``throttleStatus`` seen for a shop and when (client clock, seconds)."""

    maximum_available: float
    currently_available: float
    restore_rate: float
    at: float

    @classmethod
    def from_extensions(cls, extensions: Any, at: float) -> ThrottleState | None:
        """Read ``extensions.cost.throttleStatus``; None when the response has none."""
        try:
            status = extensions["cost"]["throttleStatus"]
            return cls(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                at=at,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def available_at(self, now: float) -> float:
        """Points estimated available at ``now``: refilled since ``at``, capped at the bucket size."""
        refilled = self.currently_available + self.restore_rate * max(0.0, now - self.at)
        return min(self.maximum_available, refilled)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points are available (a cost above the bucket waits for a full bucket)."""
        if self.restore_rate <= 0:
            return 0.0
        needed = min(cost, self.maximum_available)
        return max(0.0, (needed - self.available_at(now)) / self.restore_rate)


@dataclass
class _ShopBucket:
    state: ThrottleState | None = None
    costs: dict[str, int] = field(default_factory=dict)


class ThrottleRegistry:
    """Last throttle status and requested cost per document, per shop, shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shops: dict[str, _ShopBucket] = {}

    def _bucket(self, shop: str) -> _ShopBucket:
        return self._shops.setdefault(shop, _ShopBucket())

    def state(self, shop: str) -> ThrottleState | None:
        with self._lock:
            return self._bucket(shop).state

    def expected_cost(self, shop: str, document_key: str) -> int:
        """The requested cost this document had last time, else :data:`DEFAULT_COST`."""
        with self._lock:
            return self._bucket(shop).costs.get(document_key, DEFAULT_COST)

    def reserve(self, shop: str, cost: int, now: float) -> float:
        """Take ``cost`` points from the estimate if they are there (returns 0), else the wait in seconds.

        Taking them at once keeps two threads from spending the same points: the
        second one sees the first one's debit and waits.
        """
        with self._lock:
            bucket = self._bucket(shop)
            state = bucket.state
            if state is None:
                return 0.0
            wait = state.wait_for(cost, now)
            if wait > 0:
                return wait
            left = max(0.0, state.available_at(now) - cost)
            bucket.state = ThrottleState(state.maximum_available, left, state.restore_rate, now)
            return 0.0

    def observe(self, shop: str, document_key: str, extensions: Any, now: float) -> ThrottleState | None:
        """Record a response's cost figures (the status replaces the estimate: Shopify knows best)."""
        seen = ThrottleState.from_extensions(extensions, now)
        requested = _requested_cost(extensions)
        with self._lock:
            bucket = self._bucket(shop)
            if seen is not None:
                bucket.state = seen
            if requested is not None:
                bucket.costs[document_key] = requested
            return bucket.state

    def forget(self, shop: str | None = None) -> None:
        """Drop what is known about one shop (or all): tests, and a shop that was reinstalled."""
        with self._lock:
            if shop is None:
                self._shops.clear()
            else:
                self._shops.pop(shop, None)


def _requested_cost(extensions: Any) -> int | None:
    try:
        value = extensions["cost"]["requestedQueryCost"]
    except (KeyError, TypeError):
        return None
    return int(value) if isinstance(value, int | float) else None


REGISTRY = ThrottleRegistry()
