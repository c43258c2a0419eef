"""The carrier accounts the shipping flow acts through, built from settings."""

from __future__ import annotations

import threading

from connectors.easypost.client import EasyPost
from core.errors import Permanent
from sync.runtime import Runtime

CACHE_ATTR = "_easypost_client"  # kept on its runtime: (the settings it was built from, the client)
_lock = threading.Lock()


def easypost_client(rt: Runtime) -> EasyPost:
    """The EasyPost client of ``rt.settings.easypost`` (``base_url`` only in sandbox mode).

    One client per runtime, built again when the settings it was built from change: the
    client is thread-safe and keeps its HTTP connections open between calls, so each call
    does not open a new one (nor build a new client).

    Raises ``Permanent`` when no API key is configured: no retry can supply one.
    """
    settings = rt.settings.easypost
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise Permanent(
            "EasyPost is not configured: set the variable named by easypost.api_key in config.yaml"
        )
    key = (
        settings.api_key.get_secret_value(),
        settings.base_url,
        settings.timeout_s,
        rt.settings.shipping.customs_signer,
    )
    with _lock:
        cached: tuple[tuple[object, ...], EasyPost] | None = getattr(rt, CACHE_ATTR, None)
        if cached is not None and cached[0] == key:
            return cached[1]
        client = EasyPost(key[0], base_url=key[1], timeout_s=key[2], customs_signer=key[3])
        setattr(rt, CACHE_ATTR, (key, client))
        return client
