"""Imports every module that registers jobs or inbox handlers, so a worker knows them all."""

from sync import (
    catalog,
    intake,
    maintenance,
    orders,
    pipeline,
    privacy,
    reconcile,
    shipping,
    stock_audit,
    stock_push,
    stock_settle,
    sweeps,
    verdicts,
)
from sync.returns import exchanges as returns_exchanges
from sync.returns import labels as returns_labels
from sync.returns import refunds as returns_refunds
from sync.returns import storefront_in as returns_storefront_in
from sync.returns import sweep as returns_sweep
from sync.returns import write_back as returns_write_back
from sync.tracking import events as tracking_events
from sync.tracking import refresh as tracking_refresh
from sync.tracking import write_back as tracking_write_back

__all__ = [
    "catalog",
    "intake",
    "maintenance",
    "orders",
    "pipeline",
    "privacy",
    "reconcile",
    "returns_exchanges",
    "returns_labels",
    "returns_refunds",
    "returns_storefront_in",
    "returns_sweep",
    "returns_write_back",
    "shipping",
    "stock_audit",
    "stock_push",
    "stock_settle",
    "sweeps",
    "tracking_events",
    "tracking_refresh",
    "tracking_write_back",
    "verdicts",
]
