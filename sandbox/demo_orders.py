"""The demo's customers and the stream of orders they place on the sandbox storefronts.

Every order comes from a realistic customer of its own (name, e-mail, phone, a
complete US address that the EasyPost simulator verifies); now and then a returning
customer orders again, never more than ``risk.velocity_max_orders`` times, so the
velocity rule stays quiet. One order in ten (:data:`REVIEW_EVERY`) is a *review case*
built to be held for one clear reason, in turn:

- ``address_correction``: the city does not match the ZIP (EasyPost suggests the right one);
- ``high_value_express``: a first order above ``risk.high_value`` with express shipping;
- ``missing_house_number``: a street without a house number (the carrier cannot deliver);
- ``disposable_high_value``: a high-value order from a throwaway mailbox.

The merchant's side keeps stock from running out: before an order the generator reads
Waybill's stock ledger (``GET /api/v1/inventory``) and books a supplier delivery
(``POST /api/v1/inventory/<sku>/adjustments``) for a SKU that runs low, and a customer
only checks out units both storefronts show as available, as real storefronts enforce.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator

# (SKU, title, price, opening stock, grams)
CATALOG: list[tuple[str, str, str, int, int]] = [
    ("TEE-BLK-M", "Black tee, M", "19.00", 60, 250),
    ("TEE-WHT-M", "White tee, M", "19.00", 60, 250),
    ("MUG-12OZ", "Enamel mug", "14.50", 60, 350),
    ("CAP-NAVY", "Navy cap", "24.00", 40, 150),
    ("BAG-WEEKENDER", "Leather weekender", "545.00", 20, 1600),
]
EVERYDAY = [sku for sku, _, price, _, _ in CATALOG if float(price) < 100]
HIGH_VALUE_SKU = "BAG-WEEKENDER"
RESTOCK_BELOW = 15  # a SKU whose available (ledger) falls below this gets a delivery
RESTOCK_UNITS = 40
REVIEW_EVERY = 10  # one order in this many is built to be held for review
REVIEW_CASES = ("address_correction", "high_value_express", "missing_house_number", "disposable_high_value")
MAX_ORDERS_PER_CUSTOMER = 3  # config.yaml risk.velocity_max_orders

FIRST_NAMES = [
    "Olivia", "Liam", "Amara", "Mateo", "Priya", "Noah", "Sofia", "Kenji", "Fatima", "Lucas",
    "Chloe", "Darius", "Ingrid", "Rafael", "Mei", "Samuel", "Leila", "Tomás", "Hannah", "Kwame",
    "Elena", "Owen", "Yasmin", "Felix", "Nora", "Arjun", "Greta", "Diego", "Zoe", "Malik",
]  # fmt: skip
LAST_NAMES = [
    "Bennett", "Okafor", "Lindqvist", "Ramirez", "Chen", "Patel", "Novak", "Haddad", "Fischer", "Moreau",
    "Tanaka", "Kowalski", "Adeyemi", "Larsen", "Silva", "O'Connor", "Nguyen", "Rossi", "Kaplan", "Mensah",
    "Schmidt", "Duarte", "Ibrahim", "Walsh", "Petrov", "Yamamoto", "Carvalho", "Brennan", "Sato", "Hughes",
]  # fmt: skip
STREETS = [
    "Maple Avenue", "Oak Street", "Cedar Lane", "Pine Road", "Elm Street", "Willow Way",
    "Lakeview Drive", "Park Place", "River Road", "Hillcrest Avenue", "Chestnut Street",
    "Highland Avenue", "Meadow Lane", "Spruce Court", "Orchard Street",
]  # fmt: skip
# (city, state, ZIP, area code): cities whose ZIPs the EasyPost simulator verifies.
PLACES = [
    ("Portland", "OR", "97205", "503"),
    ("Austin", "TX", "78701", "512"),
    ("Denver", "CO", "80202", "303"),
    ("Boston", "MA", "02116", "617"),
    ("Madison", "WI", "53703", "608"),
    ("Asheville", "NC", "28801", "828"),
    ("Tucson", "AZ", "85701", "520"),
    ("Savannah", "GA", "31401", "912"),
    ("Burlington", "VT", "05401", "802"),
    ("Boise", "ID", "83702", "208"),
    ("Minneapolis", "MN", "55401", "612"),
    ("Pittsburgh", "PA", "15222", "412"),
    ("Santa Fe", "NM", "87501", "505"),
    ("Louisville", "KY", "40202", "502"),
    ("Ann Arbor", "MI", "48104", "734"),
    ("Richmond", "VA", "23219", "804"),
    ("Seattle", "WA", "98101", "206"),
    ("Chicago", "IL", "60601", "312"),
    ("Houston", "TX", "77063", "713"),
    ("New York", "NY", "10001", "212"),
]
MAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]


@dataclass(frozen=True)
class Customer:
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    city: str
    state: str
    zip: str
    country: str = "US"

    def shopify_address(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "address1": self.street,
            "city": self.city,
            "province_code": self.state,
            "country_code": self.country,
            "zip": self.zip,
            "phone": self.phone,
        }

    def woo_address(self, billing: bool) -> dict[str, str]:
        address = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "address_1": self.street,
            "city": self.city,
            "state": self.state,
            "postcode": self.zip,
            "country": self.country,
        }
        if billing:
            address.update(email=self.email, phone=self.phone)
        return address


def make_customer(n: int) -> Customer:
    """The ``n``-th customer: distinct name, e-mail, phone and street for every ``n``."""
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[(n // len(FIRST_NAMES) + 7 * n) % len(LAST_NAMES)]
    city, state, zip_code, area = PLACES[(n * 7) % len(PLACES)]
    local = f"{first}.{last}".lower().replace("'", "").replace("á", "a")
    return Customer(
        first_name=first,
        last_name=last,
        email=f"{local}{n}@{MAIL_DOMAINS[n % len(MAIL_DOMAINS)]}",
        phone=f"+1{area}555{n % 10000:04d}",
        street=f"{100 + (n * 37) % 9800} {STREETS[n % len(STREETS)]}",
        city=city,
        state=state,
        zip=zip_code,
    )


def review_customer(case: str, n: int) -> Customer:
    """A new customer for a review case; only what the case is about differs from a clean one."""
    base = make_customer(n)
    if case == "address_correction":  # 94107 is San Francisco: EasyPost suggests the city
        return Customer(**{**base.__dict__, "city": "Oakland", "state": "CA", "zip": "94107"})
    if case == "missing_house_number":
        return Customer(**{**base.__dict__, "street": f"{STREETS[n % len(STREETS)]}, rear entrance"})
    if case == "disposable_high_value":
        local = base.email.split("@")[0]
        return Customer(**{**base.__dict__, "email": f"{local}@mailinator.com"})
    return base


@dataclass
class Placed:
    """One order the generator placed, for the check."""

    n: int
    platform: str
    platform_order_id: str
    email: str
    case: str | None  # the review case, None for an order expected to ship


@dataclass
class DemoOrders:
    """Places orders on alternating storefronts as :meth:`place_next` is called.

    ``api`` is Waybill's public URL, ``token`` an API token of the demo account (the
    merchant, who books restocks); ``shop`` the Shopify shop's domain.
    """

    shopify: ShopifySimulator
    woo: WooCommerceSimulator
    shop: str
    api: str
    token: str
    seed: int = 7
    placed: list[Placed] = field(default_factory=list)
    restocks: list[tuple[str, int]] = field(default_factory=list)
    lowest_seen: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _orders_by: dict[int, int] = field(default_factory=dict)  # customer number: orders placed
    _next_customer: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # -- the merchant's side
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ledger(self) -> dict[str, int]:
        """Available units per SKU in Waybill's stock ledger."""
        answer = requests.get(f"{self.api}/api/v1/inventory", headers=self._headers(), timeout=10)
        answer.raise_for_status()
        return {item["sku"]: int(item["available"]) for item in answer.json()["items"]}

    def channel_levels(self) -> dict[str, dict[str, int]]:
        """What each storefront shows as available, per SKU."""
        levels: dict[str, dict[str, int]] = {}
        shop = self.shopify.shop(self.shop)
        location = min(shop.locations)
        for sku, *_ in CATALOG:
            variant = shop.variant_by_sku(sku)
            product = self.woo.store.find_by_sku(sku)
            levels[sku] = {
                "shopify": shop.levels[(variant.inventory_item_id, location)].available if variant else 0,
                "woocommerce": int((product or {}).get("stock_quantity") or 0),
            }
        return levels

    def note_lowest(self, sku: str, value: int) -> None:
        self.lowest_seen[sku] = min(value, self.lowest_seen.get(sku, value))

    def restock(self) -> dict[str, int]:
        """Book a supplier delivery for every SKU running low; returns the ledger after it."""
        ledger = self.ledger()
        for sku, available in ledger.items():
            self.note_lowest(sku, available)
            if available < RESTOCK_BELOW:
                answer = requests.post(
                    f"{self.api}/api/v1/inventory/{sku}/adjustments",
                    json={"delta": RESTOCK_UNITS, "note": "restock: supplier delivery (demo)"},
                    headers=self._headers(),
                    timeout=10,
                )
                answer.raise_for_status()
                ledger[sku] = int(answer.json()["available"])
                self.restocks.append((sku, RESTOCK_UNITS))
        return ledger

    # -- the customers' side
    def _customer_for_regular(self) -> tuple[Customer, int]:
        returning = [n for n, count in self._orders_by.items() if count < MAX_ORDERS_PER_CUSTOMER]
        if returning and self._rng.random() < 0.15:
            n = self._rng.choice(sorted(returning))
        else:
            n = self._next_customer
            self._next_customer += 1
        self._orders_by[n] = self._orders_by.get(n, 0) + 1
        return make_customer(n), n

    def _fresh_customer_number(self) -> int:
        n = self._next_customer
        self._next_customer += 1
        self._orders_by[n] = MAX_ORDERS_PER_CUSTOMER  # a review case's customer never orders again
        return n

    def _sellable(
        self, sku: str, quantity: int, ledger: dict[str, int], levels: dict[str, dict[str, int]]
    ) -> bool:
        shown = levels.get(sku, {})
        return ledger.get(sku, 0) >= quantity and min(shown.values(), default=0) >= quantity

    def place_next(self) -> Placed | None:
        """Place one order (alternating Shopify and WooCommerce); None when nothing is in stock yet."""
        with self._lock:
            n = len(self.placed)
            ledger = self.restock()
            levels = self.channel_levels()
            for sku, shown in levels.items():
                for value in shown.values():
                    self.note_lowest(sku, value)
            # three review cases on WooCommerce (odd n), then three on Shopify: every case meets both
            slot = 7 if (n // (3 * REVIEW_EVERY)) % 2 == 0 else 4
            case = REVIEW_CASES[(n // REVIEW_EVERY) % len(REVIEW_CASES)] if n % REVIEW_EVERY == slot else None
            express = False
            if case in ("high_value_express", "disposable_high_value"):
                lines = [(HIGH_VALUE_SKU, 1)]
                express = case == "high_value_express"
            else:
                count = 1 if self._rng.random() < 0.7 else 2
                skus = self._rng.sample(EVERYDAY, count)
                lines = [(sku, 1 if self._rng.random() < 0.8 else 2) for sku in skus]
                express = self._rng.random() < 0.15
            if not all(self._sellable(sku, qty, ledger, levels) for sku, qty in lines):
                return None  # waiting for the restock to reach the storefronts
            if case is None:
                customer, _ = self._customer_for_regular()
            else:
                customer = review_customer(case, self._fresh_customer_number())
            platform, order_id = self._checkout(n, customer, lines, express)
            placed = Placed(n, platform, order_id, customer.email, case)
            self.placed.append(placed)
            return placed

    def _checkout(
        self, n: int, customer: Customer, lines: list[tuple[str, int]], express: bool
    ) -> tuple[str, str]:
        method = "Express" if express else "Standard"
        if n % 2 == 0:
            order = self.shopify.place_order(
                self.shop,
                lines,
                email=customer.email,
                shipping_address=customer.shopify_address(),
                shipping_price="14.00" if express else "5.00",
                shipping_method=method,
            )
            return "shopify", str(order.id)
        order_id = self.woo.place_order(
            lines,
            billing=customer.woo_address(billing=True),
            shipping=customer.woo_address(billing=False),
            shipping_total="14.00" if express else "5.00",
            shipping_lines=[
                {
                    "method_id": "express" if express else "flat_rate",
                    "method_title": method if express else "Flat rate",
                    "total": "14.00" if express else "5.00",
                }
            ],
        )
        return "woocommerce", str(order_id)


def run_stream(
    orders: DemoOrders,
    every_s: float,
    count: int = 0,
    stop: threading.Event | None = None,
    sleep: Callable[[float], bool] | None = None,
) -> None:
    """An order every ``every_s`` seconds until ``count`` are placed (0: no limit) or ``stop`` is set."""
    stop = stop or threading.Event()
    wait = sleep or stop.wait
    while not stop.is_set() and (not count or len(orders.placed) < count):
        orders.place_next()
        if wait(every_s):
            return
