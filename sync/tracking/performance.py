"""Carrier performance from Waybill's own deliveries: the database's delivered parcels as
``core.transit.Delivered`` rows, measured by ``core.transit.performance``.

A parcel counts once it has a carrier, a route class, when it left (``shipped_at``) and
when it arrived (``delivered_at``); the carrier's first estimate (``promised_at``; a later
one moved by a delay would excuse it) decides whether it was on time. :func:`stats_for`
feeds the on-time rate policy (``sync.shipping.policy.policy_for``);
:func:`performance_rows` is what the API and the CLI show.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from core.errors import InvalidInput
from core.transit import CarrierStats, Delivered, RouteClass, RouteKey, performance
from db.models import Shipment

if TYPE_CHECKING:
    from sync.runtime import Runtime

MAX_CARRIER = 32  # the carrier column's width
ROUTE_CLASSES = tuple(r.value for r in RouteClass)


def check_filters(carrier: str | None, route_class: str | None) -> None:
    if route_class is not None and route_class not in ROUTE_CLASSES:
        raise InvalidInput(f"route_class must be one of: {', '.join(ROUTE_CLASSES)}")
    if carrier is not None and not (0 < len(carrier.strip()) <= MAX_CARRIER):
        raise InvalidInput(f"carrier must be a carrier's name (1 to {MAX_CARRIER} characters)")


def delivered(
    rt: Runtime, account_id: int, carrier: str | None = None, route_class: str | None = None
) -> list[Delivered]:
    """The account's delivered parcels that can be measured, optionally of one carrier
    (any case) or route class."""
    check_filters(carrier, route_class)
    query = select(
        Shipment.carrier,
        Shipment.service,
        Shipment.route_class,
        Shipment.shipped_at,
        Shipment.delivered_at,
        func.coalesce(Shipment.promised_at, Shipment.est_delivery_at),
    ).where(
        Shipment.account_id == account_id,
        Shipment.delivered_at.is_not(None),
        Shipment.shipped_at.is_not(None),
        Shipment.carrier.is_not(None),
        Shipment.route_class.is_not(None),
    )
    if carrier is not None:
        query = query.where(func.upper(Shipment.carrier) == carrier.strip().upper())
    if route_class is not None:
        query = query.where(Shipment.route_class == route_class)
    with rt.session() as s:
        rows = list(s.execute(query.order_by(Shipment.id)))
    return [
        Delivered(RouteKey(c, svc or "", RouteClass(rc)), shipped, arrived, estimate)
        for c, svc, rc, shipped, arrived, estimate in rows
        # the query asked for these; a blank carrier or an unknown route class cannot be measured
        if c and c.strip() and rc in ROUTE_CLASSES and shipped is not None and arrived is not None
    ]


def stats_for(rt: Runtime, account_id: int, grace: timedelta = timedelta(0)) -> dict[RouteKey, CarrierStats]:
    """Performance per route key: what the on-time rate policy decides with."""
    return {stats.key: stats for stats in performance(delivered(rt, account_id), grace)}


def stats_json(stats: CarrierStats) -> dict[str, Any]:
    """Decimals as strings (exact); the rate is None when no delivery had an estimate."""
    rate = stats.on_time_rate
    return {
        "carrier": stats.key.carrier,
        "service": stats.key.service,
        "route_class": str(stats.key.route_class),
        "shipments": stats.shipments,
        "estimated": stats.estimated,
        "on_time": stats.on_time,
        "on_time_rate": str(rate) if rate is not None else None,
        "transit_days_p50": str(stats.transit_days_p50),
        "transit_days_p90": str(stats.transit_days_p90),
    }


def performance_rows(
    rt: Runtime, account_id: int, carrier: str | None = None, route_class: str | None = None
) -> list[dict[str, Any]]:
    """One row per carrier, service and route class, sorted by them."""
    return [stats_json(stats) for stats in performance(delivered(rt, account_id, carrier, route_class))]
