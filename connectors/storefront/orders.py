"""Events and orders in: the order verbs of a storefront (see the package docstring)."""

from __future__ import annotations

from typing import Protocol


class OrderVerbs(Protocol):
    """Which canonical event a platform topic is, the order a payload holds, orders changed
    since a cursor (paged), and the webhook subscriptions Waybill needs on the store."""
