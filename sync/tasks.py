"""Imports every module that registers jobs or inbox handlers, so a worker knows them all."""

from sync import catalog, intake, inventory, maintenance, orders, privacy, reconcile, stock_audit, stock_push

__all__ = [
    "catalog",
    "intake",
    "inventory",
    "maintenance",
    "orders",
    "privacy",
    "reconcile",
    "stock_audit",
    "stock_push",
]
