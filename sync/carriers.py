"""The carrier accounts the shipping flow acts through, built from settings."""

from __future__ import annotations

from connectors.easypost.client import EasyPost
from core.errors import Permanent
from sync.runtime import Runtime


def easypost_client(rt: Runtime) -> EasyPost:
    """The EasyPost client of ``rt.settings.easypost`` (``base_url`` only in sandbox mode).

    Raises ``Permanent`` when no API key is configured: no retry can supply one.
    """
    settings = rt.settings.easypost
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise Permanent(
            "EasyPost is not configured: set the variable named by easypost.api_key in config.yaml"
        )
    return EasyPost(
        settings.api_key.get_secret_value(),
        base_url=settings.base_url,
        timeout_s=settings.timeout_s,
        customs_signer=rt.settings.shipping.customs_signer,
    )
