"""The rate policy of an order: the merchant's service levels, carriers and on-time option,
and the route class from the warehouse to the buyer (``ship_order``, returns' labels)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.orders import Order
from core.rates import RatePolicy, service_level_for
from core.transit import CarrierStats, RouteClass, RouteKey, route_class
from sync.account_settings import settings_for

if TYPE_CHECKING:
    from settings import ShippingSettings
    from sync.runtime import Runtime


def policy_for(
    rt: Runtime,
    order: Order,
    stats: Mapping[RouteKey, CarrierStats] | None = None,
    account_id: int | None = None,
) -> RatePolicy:
    """The rate policy for this order (the account's own settings when given); ``stats``
    (performance per route key) feed the on-time option."""
    shipping = settings_for(rt, account_id).shipping if account_id is not None else rt.settings.shipping
    return rate_policy(shipping, order, stats)


def on_time_stats(
    rt: Runtime, account_id: int, shipping: ShippingSettings
) -> dict[RouteKey, CarrierStats] | None:
    """Carrier performance of the account's delivered parcels, when the on-time option is on."""
    if shipping.on_time_min is None:
        return None
    from sync.tracking.performance import stats_for

    return stats_for(rt, account_id)


def route_of(settings: ShippingSettings, order: Order) -> RouteClass:
    """The route class from the merchant's warehouse (``shipping.ship_from``) to the buyer."""
    to, origin = order.shipping_address, settings.ship_from
    return route_class(
        origin.get("country"),
        origin.get("state"),
        to.country_code if to is not None else None,
        to.province_code if to is not None else None,
    )


def rate_policy(
    settings: ShippingSettings, order: Order, stats: Mapping[RouteKey, CarrierStats] | None = None
) -> RatePolicy:
    """The configured rate policy for one order, with the route class from the warehouse to the buyer."""
    level = service_level_for(order.shipping_method, settings.method_map, settings.default_level)
    known = settings.service_levels.get(level)
    route = route_of(settings, order)
    return RatePolicy(
        level=level,
        max_days=known.max_days if known is not None else None,
        allow=frozenset(settings.carriers_allow),
        deny=frozenset(settings.carriers_deny),
        on_time_min=settings.on_time_min,
        on_time_min_samples=settings.on_time_min_samples,
        route=route,
        stats=dict(stats or {}),
    )
