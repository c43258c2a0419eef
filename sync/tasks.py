"""Imports every module that registers jobs, so a worker knows them all."""

from sync import intake, maintenance

__all__ = ["intake", "maintenance"]
