"""The carrier accounts the shipping flow acts through, built from settings."""

from __future__ import annotations

from connectors.easypost.client import EasyPost
from core.errors import Permanent
from sync.runtime import Runtime


def easypost_client(rt: Runtime) -> EasyPost:
    """The EasyPost client of ``rt.settings.easypost`` (``base_url`` only in sandbox mode).

    One per runtime and configuration, kept between jobs (the client is safe to share
    between threads): building one costs the library's thirty services and a fresh HTTP
    session, and a kept one reuses its keep-alive connection. Raises ``Permanent`` when no
    API key is configured: no retry can supply one.
    """
    settings = rt.settings.easypost
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise Permanent(
            "EasyPost is not configured: set the variable named by easypost.api_key in config.yaml"
        )
    key = settings.api_key.get_secret_value()
    wanted = ("easypost", key, settings.base_url, settings.timeout_s, rt.settings.shipping.customs_signer)
    kept = rt.clients.get(wanted)
    if isinstance(kept, EasyPost):
        return kept
    client = EasyPost(
        key,
        base_url=settings.base_url,
        timeout_s=settings.timeout_s,
        customs_signer=rt.settings.shipping.customs_signer,
    )
    rt.clients[wanted] = client
    return client
