"""The HTTP face: install flows, console, JSON API, health and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from sync.runtime import Runtime


def runtime() -> Runtime:
    """The app's runtime (``create_app`` puts it in ``app.extensions``); for routes and commands."""
    rt: Runtime = current_app.extensions["waybill"]
    return rt
