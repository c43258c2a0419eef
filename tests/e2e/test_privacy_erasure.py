"""Redaction leaves no trace: a customer's orders travel the whole pipeline (intake, risk
with an address-verification suggestion, hold, review, label), then Shopify asks for
redaction, and every column of every table is searched for what identified them.

The schema is reflected, not listed by hand, so a table or column added later is
searched too. Bytes are decoded (inbox bodies are stored as sent; PostgreSQL's lz4
compression of them is transparent to a reader).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from sqlalchemy import MetaData, select

from db.accounts import get_or_create_account, issue_token
from db.models import (
    DeadLetter,
    Effect,
    EffectState,
    InboxEvent,
    InboxState,
    Order,
    Platform,
    Shipment,
    Store,
    TimelineEntry,
    utcnow,
)
from sandbox.easypost import EasyPostSimulator
from sandbox.woocommerce import WooCommerceSimulator
from sync.privacy import handle_customer_redact
from tests.conftest import drain_until_quiet
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, sign_in, stores

MERCHANT = "Quill & Co"
EMAIL = "Ada.Quill@Example.com"
NAME = "Ada Quillfeather"
PHONE = "+15555550199"
STREET = "77 Larkspur Lane"
# ZIP 10001 is New York: Brooklyn does not match, so verification suggests the right city.
WRONG_CITY = {
    "name": NAME,
    "address1": STREET,
    "city": "Brooklyn",
    "provinceCode": "NY",
    "countryCode": "US",
    "zip": "10001",
    "phone": PHONE,
}
RIGHT_CITY = {**WRONG_CITY, "city": "New York"}
OTHER = "grace@example.com"  # another customer of the same shop, kept intact by customers/redact
TRACES = (EMAIL, NAME, PHONE, STREET, "Quillfeather", "Larkspur", "5555550199")


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # An undeliverable address (100, blocking) holds the order for review instead of rejecting it.
    config["risk"] = {"reject_at": 1000, "approve_below": 30}
    config["inventory"] = {"settle_s": 0}
    return config


@pytest.fixture
def store(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    easypost: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> Store:
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    (row,) = stores(rt)
    assert row.platform is Platform.shopify
    flush(shopify, rt)
    return row


@pytest.fixture
def api(rt: Any, store: Store) -> dict[str, str]:
    with rt.session() as s:
        return {"Authorization": f"Bearer {issue_token(s, get_or_create_account(s, MERCHANT))}"}


def flush(shopify: ShopifySandbox, rt: Any) -> None:
    drain_until_quiet(rt, shopify.deliver_due)


def order_row(rt: Any, store: Store, platform_order_id: int) -> Order:
    with rt.session() as s:
        row = s.scalar(
            select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(platform_order_id))
        )
        assert row is not None
        s.expunge(row)
        return row


def text_of(value: Any) -> str:
    """A stored value as searchable text: bytes decoded, JSON dumped without escapes."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def traces(rt: Any, needles: tuple[str, ...] = TRACES) -> list[tuple[str, str, Any, str]]:
    """(table, column, primary key, needle) for every stored value that still holds a needle."""
    found: list[tuple[str, str, Any, str]] = []
    meta = MetaData()
    meta.reflect(bind=rt.engine)
    assert {"orders", "inbox_events", "timeline_entries", "effects", "shipments", "dead_letters"} <= set(
        meta.tables
    )
    with rt.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                key = tuple(row[c.name] for c in table.primary_key.columns)
                for column in table.columns:
                    text = text_of(row[column.name]).lower()
                    found += [(table.name, column.name, key, n) for n in needles if n.lower() in text]
    return found


def live_customer(
    rt: Any, store: Store, shopify: ShopifySandbox, client: Any, api: dict[str, str]
) -> tuple[int, int, int]:
    """Two orders of the customer through the whole pipeline, one of another customer."""
    added = client.post("/api/v1/trusted-customers", json={"email": EMAIL, "note": NAME}, headers=api)
    assert added.status_code == 201, added.json
    held = shopify.place_order(SHOP, [("MUG-12OZ", 1)], email=EMAIL, shipping_address=WRONG_CITY)
    clean = shopify.place_order(SHOP, [("TEE-BLK-M", 1)], email=EMAIL, shipping_address=RIGHT_CITY)
    other = shopify.place_order(SHOP, [("TEE-BLK-M", 1)], email=OTHER)
    flush(shopify, rt)
    row = order_row(rt, store, held.id)
    assert row.stage == "on_hold", row.hold_reason
    facts = {f["rule"]: f["detail"] for f in (row.risk or {})["facts"]}
    assert "suggested: city NEW YORK" in facts["address_undeliverable"]
    answer = client.post(
        f"/api/v1/orders/{row.id}/approve",
        json={"reviewer": "sam", "reason": f"called {NAME} on {PHONE}: {STREET} is right"},
        headers=api,
    )
    assert answer.status_code == 200, answer.json
    flush(shopify, rt)
    for placed in (held, clean, other):
        shipped = order_row(rt, store, placed.id)
        assert shipped.stage == "fulfilled", shipped.hold_reason
    with rt.session() as s:
        labels = list(s.scalars(select(Shipment.label)))
    assert len(labels) == 3 and all(labels)
    shopify.request_customer_data(SHOP, EMAIL)
    flush(shopify, rt)
    return held.id, clean.id, other.id


def test_customer_redaction_leaves_no_trace_of_the_customer_in_any_column(
    rt: Any, store: Store, shopify: ShopifySandbox, client: Any, api: dict[str, str]
) -> None:
    held, clean, other = live_customer(rt, store, shopify, client, api)
    before = traces(rt)
    assert {t[0] for t in before} >= {"orders", "inbox_events", "timeline_entries", "data_exports"}

    shopify.redact_customer(SHOP, EMAIL)
    flush(shopify, rt)

    assert traces(rt) == []
    kept = order_row(rt, store, held)
    assert kept.redacted_at is not None and kept.stage == "fulfilled"
    assert [li["sku"] for li in kept.data["line_items"]] == ["MUG-12OZ"]
    assert {f["rule"] for f in (kept.risk or {})["facts"]} >= {"address_undeliverable"}
    assert order_row(rt, store, clean).redacted_at is not None
    untouched = order_row(rt, store, other)
    assert (untouched.email, untouched.redacted_at) == (OTHER, None)
    assert traces(rt, (OTHER,)) != []


def test_shop_redaction_leaves_no_trace_of_any_customer_in_any_column(
    rt: Any, store: Store, shopify: ShopifySandbox, client: Any, api: dict[str, str]
) -> None:
    live_customer(rt, store, shopify, client, api)
    shopify.uninstall_app(SHOP)
    flush(shopify, rt)

    shopify.redact_shop(SHOP)
    flush(shopify, rt)

    assert traces(rt, (*TRACES, OTHER)) == []


def test_a_malformed_stored_body_fails_alone_and_the_rest_is_redacted(
    rt: Any, store: Store, shopify: ShopifySandbox, client: Any, api: dict[str, str]
) -> None:
    held, _clean, _other = live_customer(rt, store, shopify, client, api)
    order_id = order_row(rt, store, held).id
    bad = [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser goes
        b'\xff{"email": "' + EMAIL.encode() + b'"}',  # not UTF-8, and names the customer
        b'["not", "an", "object"]',
        b'{"id": {"nested": true}, "email": 12}',
    ]
    with rt.session() as s:
        for n, body in enumerate(bad):
            s.add(
                InboxEvent(
                    platform=Platform.shopify,
                    store_id=store.id,
                    account_id=store.account_id,
                    topic="orders/updated",
                    dedupe_key=f"{SHOP}:bad:{n}",
                    body=body,
                    state=InboxState.failed,
                    received_at=utcnow(),
                )
            )
        # Copies the flows may leave: a carrier's answer in an effect (upper-cased, as carriers
        # normalise addresses), a dead letter whose error quotes the e-mail.
        s.add(
            Effect(
                key=f"shipment:{order_id}:9",
                kind="easypost_shipment",
                account_id=store.account_id,
                fingerprint="0" * 64,
                state=EffectState.done,
                result={
                    "to_address": {"name": NAME.upper(), "street1": STREET.upper(), "phone": "5555550199"}
                },
            )
        )
        s.add(
            DeadLetter(
                job_id="notify-1",
                name="notify_customer",
                queue="orders",
                kwargs={"order_id": order_id, "to": EMAIL.lower()},
                error=f"Permanent: mailbox {EMAIL.lower()} refused",
            )
        )
        redact = InboxEvent(
            platform=Platform.shopify,
            store_id=store.id,
            account_id=store.account_id,
            topic="customers/redact",
            dedupe_key=f"{SHOP}:redact",
            body=json.dumps(
                {"shop_domain": SHOP, "customer": {"email": EMAIL}, "orders_to_redact": []}
            ).encode(),
            headers={"X-Shopify-Shop-Domain": SHOP, "X-Shopify-Topic": "customers/redact"},
            received_at=utcnow(),
        )
        s.add(redact)
        s.flush()
        redact_id = redact.id

    handle_customer_redact(rt, redact_id)

    assert traces(rt) == []
    with rt.session() as s:
        (entry,) = s.scalars(select(TimelineEntry).where(TimelineEntry.action == "privacy.customer_redacted"))
        assert entry.subject == f"store:{store.id}"
