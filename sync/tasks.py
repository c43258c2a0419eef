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
