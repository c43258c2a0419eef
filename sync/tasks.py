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
    "verdicts",
]
