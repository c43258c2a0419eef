"""Saving a store (both backends): a re-install keeps its account, secret and history; a
store another account holds is refused and left as it was; the webhooks of a store that is
not active are left alone."""

from __future__ import annotations

from typing import Any

import pytest

from db.accounts import get_or_create_account
from db.models import Platform, Store, StoreState
from sync.stores import StoreTaken, ensure_webhooks, save_store


def row(rt: Any, store_id: int) -> tuple[int, bytes | None, bytes | None, StoreState]:
    with rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None
        return store.account_id, store.credentials, store.webhook_secret, store.state


def test_a_reinstall_keeps_the_account_and_secret_and_another_account_is_refused(rt: Any) -> None:
    domain = "north-wind.myshopify.com"
    first = save_store(rt, Platform.shopify, domain, {"access_token": "shpat_1"}, "read_orders")
    owner, _, secret, state = row(rt, first)
    assert state is StoreState.active and secret is not None
    again = save_store(rt, Platform.shopify, domain, {"access_token": "shpat_2"}, "read_orders")
    assert again == first
    account, credentials, secret_after, _ = row(rt, first)
    assert (account, secret_after) == (owner, secret)  # same account, same webhook secret
    assert rt.vault.decrypt_json(credentials) == {"access_token": "shpat_2"}  # the new token kept

    with rt.session() as s:
        other = get_or_create_account(s, "South Sea Goods").id
    with pytest.raises(StoreTaken, match=f"{domain} already belongs to another account"):
        save_store(rt, Platform.shopify, domain, {"access_token": "shpat_3"}, None, account_id=other)
    with pytest.raises(StoreTaken):
        save_store(
            rt, Platform.shopify, domain, {"access_token": "shpat_3"}, None, account_name="South Sea Goods"
        )
    assert row(rt, first)[:3] == (owner, credentials, secret)  # nothing changed


def test_the_webhooks_of_a_store_that_is_not_active_are_left_alone(rt: Any) -> None:
    store_id = save_store(rt, Platform.shopify, "gone.myshopify.com", {"access_token": "shpat_1"}, None)
    with rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None
        store.state = StoreState.uninstalled
    assert ensure_webhooks(rt, store_id) == []  # no call to Shopify (none would answer here)
    assert ensure_webhooks(rt, store_id + 1000) == []
    with rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None and "webhooks" not in (store.settings or {})
