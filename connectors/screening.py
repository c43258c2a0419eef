"""Checks of a signed storefront webhook body before any flow reads it, per platform.

Every storefront's body must be a JSON object of bounded depth whose ids fit 64 bits
and whose arrays and objects are where its mappers expect them
(:func:`connectors.payloads.check_shape`); a platform may add checks of its own
against the delivery's headers (Shopify: the shop named in the body, stale privacy
requests). Flows call :func:`screen_webhook` with the platform's name and never see
which checks ran.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.payloads import MalformedPayload, check_shape
from connectors.shopify import webhooks as shopify_webhooks
from connectors.woocommerce import webhooks as woo_webhooks

# (topic, payload, headers, received_at, max_age_s) -> why not to act on it, or None
HeaderCheck = Callable[[str, Mapping[str, Any], Any, datetime, float], str | None]


@dataclass(frozen=True)
class Rules:
    lists: frozenset[str]
    objects: frozenset[str]
    headers: HeaderCheck | None = None


RULES: dict[str, Rules] = {
    "shopify": Rules(shopify_webhooks.LISTS, shopify_webhooks.OBJECTS, shopify_webhooks.screen),
    "woocommerce": Rules(woo_webhooks.LISTS, woo_webhooks.OBJECTS),
}


def screen_webhook(
    platform: str,
    topic: str,
    body: bytes,
    headers: Mapping[str, Any],
    received_at: datetime,
    *,
    max_depth: int,
    privacy_max_age_s: float,
) -> str | None:
    """Raise ``MalformedPayload`` (``Permanent``) for a body to refuse; return why the
    delivery must not be acted on, or None to go ahead. Platforms without rules pass."""
    rules = RULES.get(platform)
    if rules is None:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON a parser can read ({type(exc).__name__})") from exc
    check_shape(payload, max_depth=max_depth, lists=rules.lists, objects=rules.objects)
    if rules.headers is None:
        return None
    return rules.headers(topic, payload, headers, received_at, privacy_max_age_s)
