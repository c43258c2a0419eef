"""The Stores page's sandbox button in sandbox mode with a real Shopify app configured: it
never sends that app's shops to a simulator (refused with a message, nothing changed)."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Role
from tests.integration.test_console_stores_settings import signed_in, user


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config.update(sandbox=True, shopify={"api_key": "real-app-key", "api_secret": "real-app-secret"})
    return config


def test_a_configured_shopify_app_is_not_pointed_at_a_simulator(rt: Any, client: Any) -> None:
    _, email = user(rt, "North", Role.staff)
    token = signed_in(client, email)
    assert "Connect a sandbox Shopify shop" in client.get("/app/stores").get_data(as_text=True)
    answer = client.post("/app/stores/sandbox", data={"csrf_token": token, "platform": "shopify"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/app/stores")
    assert rt.settings.shopify.base_url is None and rt.settings.shopify.api_key == "real-app-key"
    page = client.get("/app/stores").get_data(as_text=True)
    assert "A Shopify app is configured" in page and "No store is connected yet" in page
