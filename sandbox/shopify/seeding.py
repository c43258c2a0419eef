"""Methods that set up shops and play the merchant's and customers' side (tests, demo)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sandbox.shopify import payloads, payloads_returns, payloads_shop
from sandbox.shopify.ids import parse_gid
from sandbox.shopify.mutations_fulfillment import units_left
from sandbox.shopify.mutations_returns import returnable_units
from sandbox.shopify.store import (
    DEFAULT_VARIANT_TITLE,
    Fulfillment,
    FulfillmentLine,
    FulfillmentOrder,
    FulfillmentOrderLine,
    InventoryItem,
    Level,
    LineItem,
    Location,
    Order,
    Product,
    Return,
    ReturnLine,
    ShopData,
    Variant,
)

if TYPE_CHECKING:
    import threading

    from sandbox.harness import Clock
    from sandbox.shopify.ids import IdSource

DEFAULT_ADDRESS = {
    "name": "Ada Lovelace",
    "company": None,
    "address1": "12 Analytical St",
    "address2": None,
    "city": "Brooklyn",
    "provinceCode": "NY",
    "countryCode": "US",
    "zip": "11201",
    "phone": "+15555550123",
}


GRAMS_PER_UNIT = {
    "GRAMS": Decimal(1),
    "KILOGRAMS": Decimal(1000),
    "OUNCES": Decimal("28.349523125"),
    "POUNDS": Decimal("453.59237"),
}


def line_grams(value: Decimal, unit: str) -> int:
    """A variant's weight as the whole grams its order lines show (REST ``grams``)."""
    return int((value * GRAMS_PER_UNIT[unit]).to_integral_value(rounding=ROUND_HALF_UP))


def mailing_address(data: dict[str, Any]) -> dict[str, Any]:
    """An address in the store's (GraphQL) keys; REST keys (``first_name``, ``province_code``...) work too."""
    name = data.get("name") or " ".join(str(data[k]) for k in ("first_name", "last_name") if data.get(k))
    return {
        "name": name or None,
        "company": data.get("company"),
        "address1": data.get("address1"),
        "address2": data.get("address2"),
        "city": data.get("city"),
        "provinceCode": data.get("provinceCode") or data.get("province_code"),
        "countryCode": data.get("countryCode") or data.get("country_code"),
        "zip": data.get("zip"),
        "phone": data.get("phone"),
    }


class ShopSeeding:
    """Mixed into :class:`ShopifySimulator`; every method takes the shop's domain."""

    state: dict[str, Any]
    ids: IdSource
    clock: Clock
    _lock: threading.RLock

    @property
    def shops(self) -> dict[str, ShopData]:
        shops: dict[str, ShopData] = self.state["shops"]
        return shops

    def emit(self, shop: ShopData, topic: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def add_shop(
        self,
        domain: str,
        token: str | None = None,
        plan: str = "standard",
        name: str | None = None,
        currency: str = "USD",
        location_name: str = "Main Warehouse",
    ) -> ShopData:
        """A shop with the app installed (``token``) and one location."""
        with self._lock:
            shop = ShopData(
                id=self.ids.next(),
                domain=domain,
                name=name or domain.split(".")[0].title(),
                email=f"owner@{domain}",
                token=token or f"shpat_{secrets.token_hex(16)}",
                plan=plan,
                currency=currency,
            )
            self.shops[domain] = shop
        self.add_location(domain, location_name)
        return shop

    def shop(self, domain: str) -> ShopData:
        return self.shops[domain]

    def reinstall(self, shop: ShopData) -> None:
        """Give a shop whose app was uninstalled a fresh token (the OAuth exchange does this)."""
        if not shop.token:
            shop.token = f"shpat_{secrets.token_hex(16)}"

    def add_location(self, domain: str, name: str, address: dict[str, Any] | None = None) -> Location:
        shop = self.shops[domain]
        with self._lock:
            location = Location(
                self.ids.next(),
                name,
                address
                or {
                    "address1": "1 Depot Road",
                    "address2": None,
                    "city": "Newark",
                    "provinceCode": "NJ",
                    "countryCode": "US",
                    "zip": "07102",
                },
            )
            shop.locations[location.id] = location
            for item in shop.items.values():
                shop.levels[(item.id, location.id)] = Level(item.id, location.id, 0, 0, self.clock.now())
        return location

    def add_product(
        self,
        domain: str,
        title: str,
        variants: list[dict[str, Any]],
        handle: str | None = None,
    ) -> Product:
        """A product; variant dicts have ``sku``, ``price``, optionally ``title``, ``available`` and
        either ``grams`` or ``weight`` = ``(value, unit)`` with a ``WeightUnit`` (``("2.5", "POUNDS")``).

        ``available`` is stocked at the first location; other locations start at 0. The weight
        is the inventory item's ``measurement.weight``; order lines carry it as whole ``grams``.
        """
        shop = self.shops[domain]
        now = self.clock.now()
        with self._lock:
            product = Product(self.ids.next(), title, handle or title.lower().replace(" ", "-"), now, now)
            first_location = min(shop.locations)
            for position, spec in enumerate(variants, start=1):
                variant = Variant(
                    self.ids.next(),
                    product.id,
                    spec["sku"],
                    spec.get("title", DEFAULT_VARIANT_TITLE),
                    Decimal(str(spec["price"])),
                    self.ids.next(),
                    position,
                    now,
                    now,
                )
                value, unit = spec.get("weight") or (spec.get("grams", 0), "GRAMS")
                variant.grams = line_grams(Decimal(str(value)), unit)
                shop.variants[variant.id] = variant
                shop.items[variant.inventory_item_id] = InventoryItem(
                    variant.inventory_item_id, variant.id, variant.sku, True, Decimal(str(value)), unit
                )
                for location_id in shop.locations:
                    stock = int(spec.get("available", 0)) if location_id == first_location else 0
                    shop.levels[(variant.inventory_item_id, location_id)] = Level(
                        variant.inventory_item_id, location_id, stock, stock, now
                    )
                product.variant_ids.append(variant.id)
            shop.products[product.id] = product
        return product

    def update_product(self, domain: str, product_id: int, **changes: Any) -> Product:
        """Change product fields (``title``, ``status``, ...) and raise products/update."""
        shop = self.shops[domain]
        with self._lock:
            product = shop.products[product_id]
            for key, value in changes.items():
                setattr(product, key, value)
            product.updated_at = self.clock.now()
            self.emit(shop, "products/update", payloads_shop.product(shop, product))
        return product

    def set_inventory(self, domain: str, sku: str, available: int, location_id: int | None = None) -> Level:
        """The merchant sets stock in the admin: inventory_levels/update follows."""
        shop = self.shops[domain]
        with self._lock:
            variant = shop.variant_by_sku(sku)
            if variant is None:
                raise KeyError(f"no variant with SKU {sku!r} in {domain}")
            level = shop.levels[(variant.inventory_item_id, location_id or min(shop.locations))]
            delta = available - level.available
            level.available, level.on_hand = available, level.on_hand + delta
            level.updated_at = self.clock.now()
            self.emit(shop, "inventory_levels/update", payloads_shop.inventory_level(level))
        return level

    def place_order(
        self,
        domain: str,
        lines: list[tuple[str, int]],
        email: str = "ada@example.com",
        shipping_address: dict[str, Any] | None = None,
        shipping_price: str = "5.00",
        test: bool = False,
        shipping_method: str = "Standard",
    ) -> Order:
        """A customer checks out ``(sku, quantity)`` lines: stock is committed and orders/create raised.

        ``shipping_method`` is the title of the shipping line the buyer chose (e.g. "Express").
        """
        shop = self.shops[domain]
        now = self.clock.now()
        with self._lock:
            location_id = min(shop.locations)
            items = []
            for sku, quantity in lines:
                variant = shop.variant_by_sku(sku)
                if variant is None:
                    raise KeyError(f"no variant with SKU {sku!r} in {domain}")
                product = shop.products[variant.product_id]
                items.append(
                    LineItem(
                        self.ids.next(),
                        product.title,
                        sku,
                        quantity,
                        variant.price,
                        variant.id,
                        product.id,
                        variant.title,
                        variant.grams,
                    )
                )
            shop.order_number += 1
            order = Order(
                self.ids.next(),
                shop.order_number,
                email,
                now,
                now,
                shop.currency,
                items,
                mailing_address(shipping_address) if shipping_address else dict(DEFAULT_ADDRESS),
                Decimal(shipping_price),
                shipping_method=shipping_method,
                test=test,
            )
            fo = FulfillmentOrder(
                self.ids.next(),
                order.id,
                location_id,
                [FulfillmentOrderLine(self.ids.next(), li.id, li.quantity, li.quantity) for li in items],
            )
            shop.fulfillment_orders[fo.id] = fo
            order.fulfillment_order_ids.append(fo.id)
            shop.orders[order.id] = order
            self.emit(shop, "orders/create", payloads.order(shop, order))
            for item in items:
                level = shop.levels[(shop.variants[item.variant_id or 0].inventory_item_id, location_id)]
                level.available -= item.quantity
                level.updated_at = now
                self.emit(shop, "inventory_levels/update", payloads_shop.inventory_level(level))
        return order

    def update_order(self, domain: str, order_id: int, **changes: Any) -> Order:
        """The merchant edits an order (``note``, ``tags``, ...): orders/updated follows."""
        shop = self.shops[domain]
        with self._lock:
            order = shop.orders[order_id]
            for key, value in changes.items():
                setattr(order, key, value)
            order.updated_at = self.clock.now()
            self.emit(shop, "orders/updated", payloads.order(shop, order))
        return order

    def fulfill_order(self, domain: str, order_id: int) -> Fulfillment:
        """The merchant fulfils what is left of the order in the admin (no tracking): its units
        leave the location's on hand, and orders/updated follows."""
        shop = self.shops[domain]
        now = self.clock.now()
        with self._lock:
            order = shop.orders[order_id]
            lines = []
            for fo_id in order.fulfillment_order_ids:
                fo = shop.fulfillment_orders[fo_id]
                if fo.status not in ("OPEN", "IN_PROGRESS"):
                    continue
                for line in fo.lines:
                    if line.remaining:
                        lines.append(FulfillmentLine(self.ids.next(), line.line_item_id, line.remaining))
                        units_left(shop, order, fo.location_id, line.line_item_id, line.remaining, now)
                        line.remaining = 0
                fo.status = "CLOSED"
            if not lines:
                raise ValueError(f"order {order_id} has nothing left to fulfil")
            fulfillment = Fulfillment(self.ids.next(), order.id, now, now, lines, [], False)
            shop.fulfillments[fulfillment.id] = fulfillment
            order.fulfillment_ids.append(fulfillment.id)
            order.updated_at = now
            self.emit(shop, "orders/updated", payloads.order(shop, order))
        return fulfillment

    def cancel_order(self, domain: str, order_id: int, reason: str = "customer") -> Order:
        """The merchant cancels: orders/cancelled, then orders/updated."""
        shop = self.shops[domain]
        with self._lock:
            order = shop.orders[order_id]
            order.cancelled_at = order.updated_at = self.clock.now()
            order.cancel_reason, order.closed = reason, True
            for fo_id in order.fulfillment_order_ids:
                shop.fulfillment_orders[fo_id].status = "CLOSED"
            self.emit(shop, "orders/cancelled", payloads.order(shop, order))
            self.emit(shop, "orders/updated", payloads.order(shop, order))
        return order

    def request_return(
        self,
        domain: str,
        order_id: int,
        lines: Sequence[tuple[int, int] | tuple[int, int, str, str | None]],
        reason: str = "UNKNOWN",
        customer_note: str | None = None,
    ) -> Return:
        """A customer asks, from their account, to return ``(fulfillment line id, quantity)``
        for ``reason`` (a ``ReturnReason`` value, e.g. ``UNWANTED``) with ``customer_note``, or
        ``(fulfillment line id, quantity, reason, note)`` per line: a REQUESTED return, then
        returns/request. Units already in a live return, or never fulfilled, are refused
        (``ValueError``), as the customer account refuses them."""
        shop = self.shops[domain]
        with self._lock:
            order = shop.orders[order_id]
            kept = []
            for line in lines:
                line_id, quantity = line[0], line[1]
                why, note = (line[2], line[3]) if len(line) == 4 else (reason, customer_note)  # type: ignore[misc]
                found = shop.fulfillment_line(line_id)
                if found is None or found[0].order_id != order.id:
                    raise ValueError(f"fulfillment line {line_id} is not on order {order_id}")
                if not 0 < quantity <= returnable_units(shop, line_id):
                    raise ValueError(f"fulfillment line {line_id} has not {quantity} unit(s) to return")
                kept.append(ReturnLine(self.ids.next(), line_id, quantity, reason=why, customer_note=note))
            ret = Return(
                self.ids.next(),
                order.id,
                f"{order.name}-R{len(order.return_ids) + 1}",
                self.clock.now(),
                kept,
            )
            shop.returns[ret.id] = ret
            order.return_ids.append(ret.id)
            self.emit(shop, "returns/request", payloads_returns.return_(shop, ret))
        return ret

    def cancel_return(self, domain: str, return_id: int) -> Return:
        """The customer (or the merchant) cancels a return nothing was done on yet: returns/cancel."""
        shop = self.shops[domain]
        with self._lock:
            ret = shop.returns[return_id]
            if ret.status not in ("REQUESTED", "OPEN") or any(line.processed for line in ret.lines):
                raise ValueError(f"return {return_id} is {ret.status.lower()} and cannot be canceled")
            ret.status = "CANCELED"
            self.emit(shop, "returns/cancel", payloads_returns.return_cancel(shop, ret))
        return ret

    def fulfillment_events(self, domain: str, fulfillment_id: int | str) -> list[dict[str, Any]]:
        """The progress events posted on a fulfilment (id or gid), oldest first, with all they carried.

        Each has ``status``, ``happenedAt``, ``estimatedDeliveryAt``, ``message``,
        ``address1``, ``city``, ``province``, ``country``, ``zip``, ``latitude``,
        ``longitude`` and ``createdAt`` (when it was posted, on the simulator clock).
        """
        number = (
            parse_gid(str(fulfillment_id), "Fulfillment")
            if isinstance(fulfillment_id, str)
            else fulfillment_id
        )
        with self._lock:
            found = self.shops[domain].fulfillments[number or -1]
            return [{k: v for k, v in e.items() if k != "happened_at"} for e in found.events]

    def fulfillment_event_calls(self, domain: str) -> dict[int, int]:
        """``fulfillmentEventCreate`` calls per fulfilment id (rejected ones included)."""
        with self._lock:
            return {f.id: f.event_calls for f in self.shops[domain].fulfillments.values() if f.event_calls}

    def uninstall_app(self, domain: str) -> None:
        """The merchant removes the app: the token stops working and app/uninstalled is sent."""
        shop = self.shops[domain]
        with self._lock:
            self.emit(shop, "app/uninstalled", payloads_shop.shop(shop, min(shop.locations, default=None)))
            shop.token = ""

    def request_customer_data(self, domain: str, customer_email: str) -> None:
        shop, customer, orders = self._customer(domain, customer_email)
        self.emit(
            shop,
            "customers/data_request",
            payloads_shop.customers_data_request(shop, customer, orders, self.ids.next()),
        )

    def redact_customer(self, domain: str, customer_email: str) -> None:
        shop, customer, orders = self._customer(domain, customer_email)
        self.emit(shop, "customers/redact", payloads_shop.customers_redact(shop, customer, orders))

    def redact_shop(self, domain: str) -> None:
        shop = self.shops[domain]
        self.emit(shop, "shop/redact", payloads_shop.shop_redact(shop))

    def _customer(self, domain: str, email: str) -> tuple[ShopData, dict[str, Any], list[int]]:
        shop = self.shops[domain]
        orders = [o.id for o in shop.orders.values() if o.email == email]
        customer_id = (orders[0] + 2) if orders else self.ids.next()
        return shop, {"id": customer_id, "email": email, "phone": None}, orders
