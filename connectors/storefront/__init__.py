"""What a flow may ask of a merchant's shop, whatever platform the shop runs on.

A flow in ``sync/`` never speaks a platform's protocol: it gets a :class:`Storefront` from
``storefront_for(access)`` and calls its verbs. Each platform's connector implements every
verb (``connectors/<platform>/storefront.py``) and registers itself under its platform name;
platform names, REST paths, GraphQL ids and payload keys live there and nowhere else.

The verbs are grouped by concern, one protocol each:

- :class:`~connectors.storefront.orders.OrderVerbs`: events in (which canonical event a
  platform topic is, the order a payload holds), orders changed since a cursor, webhooks;
- :class:`~connectors.storefront.stock.StockVerbs`: the catalog, stock levels read and
  written, stock events;
- :class:`~connectors.storefront.writes.WriteVerbs`: what Waybill writes back about an
  order (risk verdict, cancel, fulfilment with tracking, completion, tracking events,
  returns, refunds).

Adding a platform is its connector folder (with a ``storefront.py`` that calls
:func:`register`), a webhook receiver, a ``Platform`` value and a migration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

from connectors.storefront.access import StoreAccess
from connectors.storefront.orders import POLLED_ORDER_TOPIC, EventKind, EventReader, OrderVerbs
from connectors.storefront.stock import StockVerbs
from connectors.storefront.writes import WriteVerbs

__all__ = [
    "EventKind",
    "StoreAccess",
    "Storefront",
    "event_kind",
    "reader_for",
    "register",
    "registered",
    "storefront_for",
]


class Storefront(OrderVerbs, StockVerbs, WriteVerbs, Protocol):
    """One merchant's shop on one platform, as the flows see it."""

    platform: str


Factory = Callable[[StoreAccess], Storefront]
# The carrier adapter whose Events come through the same inbox (tracker changes).
CARRIER_PLATFORM = "easypost"
_FACTORIES: dict[str, Factory] = {}


def register(platform: str, factory: Factory) -> None:
    """Make ``storefront_for`` build ``factory(access)`` for stores on ``platform``.

    ``factory`` is the storefront's class: :func:`reader_for` reads its static payload verbs."""
    _FACTORIES[str(platform)] = factory


def registered() -> tuple[str, ...]:
    """The platforms a storefront is registered for."""
    _load_builtin()
    return tuple(sorted(_FACTORIES))


def storefront_for(access: StoreAccess) -> Storefront:
    """The storefront of the store ``access`` describes; ``LookupError`` for an unknown platform."""
    _load_builtin()
    factory = _FACTORIES.get(str(access.platform))
    if factory is None:
        raise LookupError(f"no storefront for platform {access.platform!r}")
    return factory(access)


def reader_for(platform: str) -> EventReader:
    """The payload verbs of ``platform``'s storefront (no credentials needed): the static
    methods of the class registered for it; ``LookupError`` for an unknown platform."""
    _load_builtin()
    factory = _FACTORIES.get(str(platform))
    if factory is None:
        raise LookupError(f"no storefront for platform {platform!r}")
    return cast(EventReader, factory)


def event_kind(platform: str, topic: str) -> EventKind | None:
    """What an inbound event of ``platform`` called ``topic`` means; None when Waybill does
    not act on it (or ``platform`` is neither a storefront nor the carrier adapter)."""
    if topic == POLLED_ORDER_TOPIC:
        return EventKind.order_polled
    if str(platform) == CARRIER_PLATFORM:
        from connectors.easypost.mappers import TRACKER_TOPICS

        return EventKind.tracker_changed if topic in TRACKER_TOPICS else None
    _load_builtin()
    if str(platform) not in _FACTORIES:
        return None
    return reader_for(platform).kind_of(topic)


_BUILTIN_LOADED = False


def _load_builtin() -> None:
    # The built-in connectors register themselves on import; imported late so that a
    # connector may import this package (once: an import statement is not free).
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    import connectors.shopify.storefront
    import connectors.woocommerce.storefront  # noqa: F401

    _BUILTIN_LOADED = True


def load_builtin() -> None:
    """Import the built-in connectors now (a process's start-up: not its first event)."""
    _load_builtin()
