"""Imports every module that registers jobs or inbox handlers, so a worker knows them all."""

from sync import intake, maintenance, orders, privacy, reconcile

__all__ = ["intake", "maintenance", "orders", "privacy", "reconcile"]
