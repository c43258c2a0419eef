"""The order verbs of the test shop: a made-up REST shop, to show a platform is a connector folder.

Its webhooks are ``order:placed``, ``order:edited``, ``order:removed`` and ``app:removed``;
an order is ``{"id", "ref", "currency", "total", "created", "changed", "cancelled", "lines"}``;
``GET orders?changed_after=&cursor=`` pages with ``next``; hooks live at ``GET/POST hooks`` and
``PATCH hooks/<id>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors import MappingError, exact_id, money, require, utc_time
from connectors.errors import NotFound
from connectors.storefront.access import StoreAccess
from connectors.storefront.orders import (
    EventKind,
    PolledOrder,
    PrivacyRequest,
    StoreReturn,
    StoreReturnLine,
    StoreReturnStatus,
)
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order
from tests.contract.storefront.testshop.client import TestShopClient

TOPIC_KINDS = {
    "order:placed": EventKind.order_changed,
    "order:edited": EventKind.order_changed,
    "order:removed": EventKind.order_deleted,
    "app:removed": EventKind.app_uninstalled,
    "return:changed": EventKind.return_changed,
}
HOOK_EVENTS = ("order:placed", "order:edited", "order:removed", "app:removed", "return:changed")
RETURN_STATES = {
    "asked": StoreReturnStatus.requested,
    "accepted": StoreReturnStatus.open,
    "ended": StoreReturnStatus.closed,
}


def _line(line: Mapping[str, Any], currency: str) -> LineItem:
    where = "testshop line"
    return LineItem(
        line_id=exact_id(require(line, "id", where), where),
        sku=line.get("sku"),
        product_id=None,
        variant_id=None,
        title=str(line.get("name") or ""),
        quantity=int(require(line, "qty", where)),
        unit_price=money(require(line, "price", where), currency, where),
        grams=None,
        requires_shipping=True,
    )


def order_from_body(body: Mapping[str, Any]) -> Order:
    """A test shop order as Waybill's order (``MappingError`` for a body that is not one)."""
    if not isinstance(body, Mapping):
        raise MappingError("testshop order: not an object")
    where = "testshop order"
    currency = str(require(body, "currency", where))
    total = money(require(body, "total", where), currency, f"{where}.total")
    cancelled = body.get("cancelled")
    zero = Money.zero(currency)
    return Order(
        platform="testshop",
        order_id=exact_id(require(body, "id", where), f"{where}.id"),
        gid=None,
        number=str(require(body, "ref", where)),
        currency=currency,
        email=body.get("email"),
        customer_id=None,
        browser_ip=None,
        billing_address=None,
        shipping_address=None,
        line_items=tuple(_line(line, currency) for line in body.get("lines") or []),
        subtotal=total,
        total=total,
        total_tax=zero,
        total_shipping=zero,
        total_discounts=zero,
        shipping_method=None,
        financial_status=FinancialStatus.PAID,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=utc_time(cancelled, f"{where}.cancelled") if cancelled else None,
        cancel_reason="cancelled" if cancelled else None,
        tags=(),
        note=None,
        created_at=utc_time(require(body, "created", where), f"{where}.created"),
        updated_at=utc_time(require(body, "changed", where), f"{where}.changed"),
    )


class TestShopOrders:
    """Events in, orders changed since a cursor, webhooks."""

    __test__ = False  # not a test class

    access: StoreAccess

    @staticmethod
    def kind_of(topic: str) -> EventKind | None:
        return TOPIC_KINDS.get(topic)

    @staticmethod
    def parse_order(kind: EventKind, body: Mapping[str, Any]) -> Order:
        return order_from_body(body)

    @staticmethod
    def deleted_order_id(body: Mapping[str, Any]) -> str | None:
        value = body.get("id")
        return exact_id(value, "testshop removed order") if value is not None else None

    @staticmethod
    def privacy_request(kind: EventKind, body: Mapping[str, Any]) -> PrivacyRequest:
        return PrivacyRequest()  # the test shop sends none

    @staticmethod
    def read_return(body: Mapping[str, Any]) -> StoreReturn | None:
        """A ``return:changed`` body: ``{"id", "order", "state", "lines": [{"line", "quantity", "why"}]}``."""
        state = RETURN_STATES.get(str(body.get("state")))
        if state is None or body.get("id") is None or body.get("order") is None:
            return None
        lines = tuple(
            StoreReturnLine(str(line["line"]), int(line["quantity"]), str(line.get("why") or "other"), "")
            for line in body.get("lines") or []
        )
        return StoreReturn(str(body["id"]), str(body["order"]), state, lines)

    @staticmethod
    def returns_in_order(body: Mapping[str, Any]) -> tuple[StoreReturn, ...]:
        return ()  # its returns come as return:changed events

    @staticmethod
    def orders_named(body: Mapping[str, Any]) -> frozenset[str]:
        if body.get("order") is not None:
            return frozenset({str(body["order"])})
        value = body.get("id")
        return frozenset({str(value)}) if isinstance(value, int | str) else frozenset()

    def orders_since(self, since: datetime) -> Iterator[PolledOrder]:
        client = TestShopClient(self.access)
        cursor: str | None = None
        while True:
            params = {"changed_after": since.isoformat(), **({"cursor": cursor} if cursor else {})}
            page = client.call("GET", "orders", params=params)
            for order in page["orders"]:
                changed = utc_time(order["changed"], "testshop order.changed")
                yield PolledOrder(
                    exact_id(order["id"], "testshop order.id"), changed, json.dumps(order).encode()
                )
            cursor = page.get("next")
            if not cursor:
                return

    def order_now(self, order_id: str) -> PolledOrder | None:
        try:
            order = TestShopClient(self.access).call("GET", f"orders/{order_id}")
        except NotFound:
            return None
        changed = utc_time(order["changed"], "testshop order.changed")
        return PolledOrder(exact_id(order["id"], "testshop order.id"), changed, json.dumps(order).encode())

    def fetch_return(self, order_id: str, return_ref: str) -> StoreReturn | None:
        found = TestShopClient(self.access).call("GET", f"orders/{order_id}/returns")
        body = next((r for r in found if str(r.get("id")) == return_ref), None)
        return None if body is None else self.read_return({"order": order_id, "state": "asked", **body})

    def ensure_webhooks(self) -> list[str]:
        client = TestShopClient(self.access)
        url = f"{self.access.public_url}/webhooks/testshop/{self.access.store_id}"
        ours = {h["event"]: h for h in client.call("GET", "hooks") if h.get("url") == url}
        repaired: list[str] = []
        for event in HOOK_EVENTS:
            hook = ours.get(event)
            if hook is None:
                client.call(
                    "POST", "hooks", {"event": event, "url": url, "secret": self.access.webhook_secret}
                )
                repaired.append(event)
            elif not hook.get("active"):
                client.call("PATCH", f"hooks/{hook['id']}", {"active": True})
                repaired.append(f"{event} (re-enabled)")
        return repaired
