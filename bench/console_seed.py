"""A merchant's busy two months, written straight into the database: the console's pages are
measured (``bench.console``) and swept in a browser (``tests/e2e/test_console_a11y_browser.py``)
against it.

:func:`seed` gives one account 10,000 orders (``orders``) over 60 days (``days``) across a
Shopify shop and a WooCommerce store, in the stored shapes the pipeline writes (the canonical
``core.orders.Order.to_dict()``, ``RateChoice``/``Label`` dicts on shipments, risk verdicts with
their facts, ``sync.lifecycle`` timeline actions): most orders delivered or fulfilled, some held
for review, some waiting for labels, some cancelled or rejected; parcels with the rates
considered, labels and tracking scans; about ten timeline entries an order; 300 SKUs with
stock on both channels, buffers, thresholds and their movements (reserved, shipped,
adjusted); delivery exceptions, returns with their items and a few dead letters. A second
account gets its own 1,000 orders (``other_orders``) with the same SKUs, customers' names and
order numbers, so a page that forgets to scope its query shows it in its timings and in what
it lists.

Rows go in with SQLAlchemy Core executemany in one transaction per table group: seconds on
SQLite and PostgreSQL. :func:`pages` lists every console page of an app (from its URL map)
with its parameters filled from the seeded world.

    python -m bench.console_seed [--orders N] [--database-url URL]

seeds a throw-away SQLite file (or the PostgreSQL database given) and prints how long it
took; last line ``seed_s=... orders=... rows=...``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, bindparam, create_engine, insert, text

from core.addresses import Address
from core.lifecycle import Stage
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order, ShippingMethod
from core.risk import Fact, RiskVerdict
from core.shipping import Considered, Label, Rate, RateChoice
from db.models import (
    Account,
    CatalogLink,
    DeadLetter,
    DeliveryException,
    Return,
    ReturnItem,
    Shipment,
    StockBuffer,
    StockItem,
    StockMovement,
    Store,
    TimelineEntry,
    TrackingScan,
)
from db.models import (
    Order as OrderRow,
)

SKUS = 300
DAY = timedelta(days=1)
# fmt: off
FIRST = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
    "Hedy", "Katherine", "Dennis", "Margaret", "John", "Sophie", "Linus", "Annie", "Yukihiro", "Lynn",
    "Guido", "Mary", "Niklaus", "Joan", "Bjarne", "Carol", "Anita", "Leslie", "Shafi", "Jean",
]
LAST = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    "Perlman", "Berners-Lee", "Lamarr", "Johnson", "Ritchie", "Hamilton", "Backus", "Wilson",
    "Torvalds", "Easley", "Matsumoto", "Conway", "van Rossum", "Keller", "Wirth", "Clarke",
    "Stroustrup", "Shaw", "Borg", "Lamport", "Goldwasser", "Sammet",
]
PLACES = [  # city, province, postal code, country
    ("Brooklyn", "NY", "11201", "US"),
    ("Austin", "TX", "78701", "US"),
    ("Portland", "OR", "97205", "US"),
    ("Denver", "CO", "80202", "US"),
    ("Chicago", "IL", "60601", "US"),
    ("Seattle", "WA", "98101", "US"),
    ("Boston", "MA", "02108", "US"),
    ("Atlanta", "GA", "30303", "US"),
    ("Phoenix", "AZ", "85004", "US"),
    ("Miami", "FL", "33130", "US"),
    ("San Diego", "CA", "92101", "US"),
    ("Columbus", "OH", "43215", "US"),
    ("Toronto", "ON", "M5H 2N2", "CA"),
    ("Vancouver", "BC", "V6B 1A1", "CA"),
    ("London", None, "EC1A 1BB", "GB"),
    ("Berlin", None, "10115", "DE"),
]
# fmt: on
STREETS = ["Analytical St", "Compiler Ave", "Kernel Rd", "Lambda Way", "Cache Ln", "Packet Blvd"]
PRODUCTS = ["Tee", "Mug", "Hoodie", "Cap", "Tote", "Notebook", "Sticker pack", "Poster", "Socks", "Bottle"]
COLOURS = ["BLK", "WHT", "RED", "BLU", "GRN", "GRY"]
SIZES = ["S", "M", "L", "XL", "OS"]
CARRIERS = [
    ("USPS", "GroundAdvantage", 5, "6.49"),
    ("USPS", "Priority", 3, "9.66"),
    ("UPS", "Ground", 5, "11.10"),
    ("FedEx", "FEDEX_2_DAY", 2, "22.51"),
]
RULES = [  # rule, weight, detail (the risk rules' facts)
    ("high_value", 30, "total {total} USD at or above 500.00"),
    ("new_customer", 10, "first order from this customer"),
    ("address_mismatch", 20, "billing and shipping addresses differ"),
    ("velocity_email", 25, "3 orders from this e-mail in 24 h"),
    ("disposable_email", 30, "e-mail domain mailinator.com is disposable"),
    ("expedited_shipping", 10, "expedited shipping chosen"),
    ("high_risk_country", 40, "shipping country is on the high-risk list"),
]
HOLD_SHIPPING = [
    "no box holds SKU {sku} (60 x 50 x 40 cm)",
    "no rate met the service level (standard, 5 days)",
    "oversold: {sku} short by 2",
]
# Stage weights by the order's age in days (upper bound exclusive): a real shop's spread.
MIX: list[tuple[float, dict[Stage, int]]] = [
    (
        1,
        {
            Stage.RECEIVED: 3,
            Stage.VERIFYING: 2,
            Stage.ON_HOLD: 7,
            Stage.APPROVED: 1,
            Stage.READY_TO_SHIP: 30,
            Stage.PACKED: 8,
            Stage.LABEL_PURCHASED: 14,
            Stage.FULFILLED: 31,
            Stage.CANCELLED: 2,
            Stage.REJECTED: 2,
        },
    ),
    (
        4,
        {
            Stage.ON_HOLD: 4,
            Stage.READY_TO_SHIP: 4,
            Stage.LABEL_PURCHASED: 3,
            Stage.PARTIALLY_FULFILLED: 2,
            Stage.FULFILLED: 62,
            Stage.DELIVERED: 20,
            Stage.CANCELLED: 3,
            Stage.REJECTED: 2,
        },
    ),
    (
        9999,
        {
            Stage.ON_HOLD: 1,
            Stage.FULFILLED: 4,
            Stage.DELIVERED: 88,
            Stage.CANCELLED: 5,
            Stage.REJECTED: 1,
            Stage.PARTIALLY_FULFILLED: 1,
        },
    ),
]
SHIPPED = {Stage.LABEL_PURCHASED, Stage.PARTIALLY_FULFILLED, Stage.FULFILLED, Stage.DELIVERED}


@dataclass
class Seeded:
    """One seeded account: ids and sample values for filling URLs and searches."""

    account_id: int
    name: str
    store_ids: list[int]
    orders: int = 0
    order_id: int = 0  # an order with parcels, scans, a return and a long timeline
    held_order_id: int = 0  # an order held for review
    return_id: int = 0
    shipment_id: int = 0
    exception_id: int = 0
    dead_letter_id: int = 0
    stock_item_id: int = 0
    sku: str = ""  # a SKU sold often
    customer: str = ""  # a customer's last name
    email: str = ""
    tracking_code: str = ""
    number: str = ""  # an order number
    rows: int = 0


@dataclass
class World:
    """What :func:`seed` wrote: the measured account and the other one."""

    main: Seeded
    other: Seeded
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def money(amount: Decimal | str, currency: str = "USD") -> Money:
    return Money(Decimal(amount), currency)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class _Ids:
    """Primary keys handed out here (one seeding transaction owns the tables' next ids)."""

    def __init__(self, conn: Connection, tables: Iterable[Table]) -> None:
        from sqlalchemy import func, select

        self.next = {
            t.name: int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()) + 1
            for t in tables
        }

    def take(self, table: Table) -> int:
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


class _Writer:
    """Rows collected per table, written in dependency order: PostgreSQL's COPY, else Core's
    executemany. A ``None`` in a JSON column is SQL NULL, as the ORM stores it (not JSON null)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.rows.setdefault(table.name, []).append(row)

    def flush(self, conn: Connection, tables: Sequence[Table], chunk: int = 5000) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in tables:
            rows = self.rows.pop(table.name, [])
            counts[table.name] = len(rows)
            if not rows:
                continue
            if conn.dialect.name == "postgresql":
                _copy(conn, table, rows)
                continue
            statement = insert(table).values(
                {name: bindparam(name, type_=_bind_type(table.c[name])) for name in rows[0]}
            )
            for start in range(0, len(rows), chunk):
                conn.execute(statement, rows[start : start + chunk])
        return counts


def _bind_type(column: Any) -> Any:
    return JSON(none_as_null=True) if isinstance(column.type, JSON) else column.type


def _copy(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    names = list(rows[0])
    raw: Any = conn.connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(v) if isinstance(v, dict | list) else v for v in (row[n] for n in names)]
            )


T = {
    m.__tablename__: m.__table__  # type: ignore[attr-defined]
    for m in (
        Account,
        Store,
        OrderRow,
        Shipment,
        TrackingScan,
        TimelineEntry,
        StockItem,
        StockMovement,
        CatalogLink,
        StockBuffer,
        DeliveryException,
        Return,
        ReturnItem,
        DeadLetter,
    )
}
ORDER = [
    T[n]
    for n in (
        "accounts",
        "stores",
        "orders",
        "shipments",
        "tracking_scans",
        "timeline_entries",
        "stock_items",
        "catalog_links",
        "stock_buffers",
        "stock_movements",
        "delivery_exceptions",
        "returns",
        "return_items",
        "dead_letters",
    )
]
_PK = [t for t in ORDER if "id" in t.c]


def catalog() -> list[tuple[str, str, Decimal, int]]:
    """The 300 SKUs: (sku, title, price, grams)."""
    out = []
    for i in range(SKUS):
        product = PRODUCTS[i % len(PRODUCTS)]
        colour = COLOURS[(i // len(PRODUCTS)) % len(COLOURS)]
        size = SIZES[(i // (len(PRODUCTS) * len(COLOURS))) % len(SIZES)]
        sku = f"{product.split()[0].upper()[:5]}-{colour}-{size}-{i:03d}"
        price = Decimal(9 + (i * 7) % 60) + Decimal("0.50") * (i % 2)
        out.append((sku, f"{product} {colour.lower()} {size}", price, 80 + (i * 37) % 900))
    return out


def seed(
    engine: Engine,
    orders: int = 10_000,
    days: int = 60,
    other_orders: int = 1_000,
    rng_seed: int = 20,
    now: datetime | None = None,
    name: str = "Bench Console Outfitters",
) -> World:
    """Seed the two accounts (the database must be migrated and may hold other accounts)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    rng = random.Random(rng_seed)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        ids = _Ids(conn, _PK)
        main = _Account(ids, rng, now, name, orders, days, tag="a").build(conn, counts)
        other = _Account(ids, rng, now, f"{name} (other)", other_orders, days, tag="b").build(conn, counts)
        if conn.dialect.name == "postgresql":  # ids were given here: move the sequences past them
            for table in _PK:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                    )
                )
    return World(main, other, time.perf_counter() - started, counts)


class _Account:
    def __init__(
        self, ids: _Ids, rng: random.Random, now: datetime, name: str, n: int, days: int, tag: str
    ) -> None:
        self.ids, self.rng, self.now, self.name, self.n, self.days, self.tag = (
            ids,
            rng,
            now,
            name,
            n,
            days,
            tag,
        )
        self.w = _Writer()
        self.catalog = catalog()
        # Popular SKUs sell more (a long tail).
        self.weights = [1.0 / (1 + i % 97) for i in range(SKUS)]
        self.stock_ids: dict[str, int] = {}
        self.levels: dict[str, list[int]] = {}  # sku -> [on_hand, reserved]
        self.sold: dict[str, int] = {}

    # -- the account, its stores, its stock ------------------------------------------------

    def build(self, conn: Connection, counts: dict[str, int]) -> Seeded:
        acc_id = self.ids.take(T["accounts"])
        self.acc = acc_id
        self.w.add(
            T["accounts"], {"id": acc_id, "name": self.name, "created_at": self.now - (self.days + 5) * DAY}
        )
        self.stores: list[tuple[int, str]] = []
        for platform, domain in (
            ("shopify", f"bench-{self.tag}-{acc_id}.myshopify.com"),
            ("woocommerce", f"https://shop-{self.tag}-{acc_id}.example.com"),
        ):
            sid = self.ids.take(T["stores"])
            self.stores.append((sid, platform))
            checked = _iso(self.now - timedelta(minutes=7))
            settings = {
                "webhooks": {"ok": True, "checked_at": checked, "error": None},
                "catalog": {
                    "imported_at": _iso(self.now - self.days * DAY),
                    "mapped": SKUS,
                    "unmapped": [],
                    "unmapped_count": 0,
                    "duplicates": {},
                    "untracked": 0,
                    "no_level": [],
                },
                "order_cursor": checked,
                "stock_cursor": checked,
                "reconciled_at": checked,
            }
            self.w.add(
                T["stores"],
                {
                    "id": sid,
                    "account_id": acc_id,
                    "platform": platform,
                    "domain": domain,
                    "state": "active",
                    "credentials": None,
                    "webhook_secret": None,
                    "scopes": "read_orders,write_orders",
                    "settings": settings,
                    "installed_at": self.now - (self.days + 2) * DAY,
                    "uninstalled_at": None,
                    "created_at": self.now - (self.days + 2) * DAY,
                },
            )
        self.customers = self._customers()
        self._stock_start()
        seeded = Seeded(acc_id, self.name, [s for s, _ in self.stores])
        self._orders(seeded)
        self._stock_end(seeded)
        self._dead_letters(seeded)
        done = self.w.flush(conn, ORDER)
        for k, v in done.items():
            counts[k] = counts.get(k, 0) + v
        seeded.rows = sum(done.values())
        seeded.orders = self.n
        return seeded

    def _customers(self) -> list[dict[str, Any]]:
        out = []
        for i in range(max(50, self.n // 3)):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]
            city, prov, postal, country = PLACES[(i * 5) % len(PLACES)]
            domain = (
                "mailinator.com" if i % 97 == 13 else ("example.com", "example.org", "example.net")[i % 3]
            )
            address = Address(
                name=f"{first} {last}",
                line1=f"{10 + i % 890} {STREETS[i % len(STREETS)]}",
                city=city,
                province_code=prov,
                postal_code=postal,
                country_code=country,
                phone=f"+1555{i:07d}",
            )
            out.append(
                {
                    "email": f"{first}.{last}.{i}@{domain}".lower().replace(" ", ""),
                    "address": address,
                    "id": str(7_000_000 + i),
                    "last": last,
                }
            )
        return out

    def _stock_start(self) -> None:
        start = self.now - (self.days + 1) * DAY
        for i, (sku, title, _price, grams) in enumerate(self.catalog):
            item = self.ids.take(T["stock_items"])
            self.stock_ids[sku] = item
            on_hand = 400 + (i * 13) % 300
            self.levels[sku] = [on_hand, 0]
            self._move(
                sku,
                f"import:{sku}",
                "initial_import",
                f"store:{self.stores[0][0]}",
                on_hand,
                0,
                start,
                store_id=self.stores[0][0],
                note=f"level read from the channel's catalog ({title})",
            )
            for n, (sid, platform) in enumerate(self.stores):
                self.w.add(
                    T["catalog_links"],
                    {
                        "account_id": self.acc,
                        "store_id": sid,
                        "sku": sku,
                        "location": "default",
                        "product_id": 9_007_199_254_800_000 + i * 3 + n if platform == "shopify" else 100 + i,
                        "variant_id": 9_007_199_254_900_000 + i if platform == "shopify" else None,
                        "inventory_item_id": 9_007_199_255_000_000 + i if platform == "shopify" else None,
                        "location_id": 9_007_199_254_740_000 if platform == "shopify" else None,
                        "title": title,
                        "tracked": True,
                        "imported_at": start,
                        "grams": grams,
                    },
                )
            if i % 10 == 0:
                self.w.add(
                    T["stock_buffers"],
                    {
                        "account_id": self.acc,
                        "store_id": self.stores[i % 2][0],
                        "sku": sku,
                        "kind": "absolute",
                        "value": Decimal(3 + i % 5),
                    },
                )
        for sid, _ in self.stores:
            self.w.add(
                T["stock_buffers"],
                {
                    "account_id": self.acc,
                    "store_id": sid,
                    "sku": "*",
                    "kind": "percent",
                    "value": Decimal("10.00"),
                },
            )

    def _move(
        self,
        sku: str,
        key: str,
        reason: str,
        source: str,
        on_hand: int,
        reserved: int,
        at: datetime,
        store_id: int | None = None,
        order_id: int | None = None,
        note: str | None = None,
    ) -> None:
        level = self.levels[sku]
        level[0] += on_hand if reason != "initial_import" else 0
        level[1] += reserved
        self.w.add(
            T["stock_movements"],
            {
                "id": self.ids.take(T["stock_movements"]),
                "account_id": self.acc,
                "stock_item_id": self.stock_ids[sku],
                "key": key,
                "reason": reason,
                "source": source,
                "on_hand_delta": on_hand,
                "reserved_delta": reserved,
                "on_hand_after": level[0],
                "reserved_after": level[1],
                "store_id": store_id,
                "order_id": order_id,
                "note": note,
                "at": at,
            },
        )

    def _stock_end(self, seeded: Seeded) -> None:
        for i, (sku, _title, _price, _grams) in enumerate(self.catalog):
            if i % 25 == 3:  # a count correction and a manual adjustment here and there
                at = self.now - (i % 20 + 1) * DAY
                self._move(
                    sku, f"count:{sku}:{i}", "count_correction", "user:owner", -2, 0, at, note="cycle count"
                )
                self._move(
                    sku,
                    f"adjust:{sku}:{i}",
                    "manual_adjustment",
                    "user:owner",
                    12,
                    0,
                    at + DAY,
                    note="received from supplier",
                )
            on_hand, reserved = self.levels[sku]
            threshold = 30 if i % 4 == 0 else None
            self.w.add(
                T["stock_items"],
                {
                    "id": self.stock_ids[sku],
                    "account_id": self.acc,
                    "sku": sku,
                    "location": "default",
                    "on_hand": on_hand,
                    "reserved": reserved,
                    "low_stock_threshold": threshold,
                    "low_stock_since": self.now - DAY
                    if threshold is not None and on_hand - reserved < threshold
                    else None,
                    "created_at": self.now - (self.days + 1) * DAY,
                    "updated_at": self.now - timedelta(minutes=i),
                },
            )
        best = max(self.sold, key=lambda k: self.sold[k])
        seeded.sku, seeded.stock_item_id = best, self.stock_ids[best]
        for row in self.w.rows[T["catalog_links"].name]:
            on_hand, reserved = self.levels[row["sku"]]
            qty = max(0, on_hand - reserved - (1 if zlib.crc32(row["sku"].encode()) % 37 == 0 else 0))
            row.update(
                channel_qty=qty,
                channel_qty_at=self.now - timedelta(minutes=3),
                last_pushed=qty,
                pushed_at=self.now - timedelta(minutes=3),
            )

    def _dead_letters(self, seeded: Seeded) -> None:
        jobs = [
            ("ship_order", "shipping", "Retryable: EasyPost answered 503 five times"),
            ("push_stock", "inventory", "Permanent: Shopify refused the quantity: location not active"),
            ("push_tracking", "tracking", "Retryable: WooCommerce timed out after 20 s"),
            ("verify_order", "orders", "Permanent: the address check answered 422"),
            ("reconcile_store", "reconcile", "Retryable: Shopify throttled (cost 1000 > 990)"),
        ]
        for n, (job, queue, error) in enumerate(jobs):
            did = self.ids.take(T["dead_letters"])
            seeded.dead_letter_id = seeded.dead_letter_id or did
            self.w.add(
                T["dead_letters"],
                {
                    "id": did,
                    "job_id": f"{job}-{self.acc}-{n}",
                    "name": job,
                    "queue": queue,
                    "kwargs": {"order_id": seeded.order_id}
                    if "order" in job
                    else {"store_id": self.stores[0][0]},
                    "error": error,
                    "attempts": 5,
                    "failed_at": self.now - timedelta(hours=3 * n + 1),
                    "state": "dead",
                },
            )

    # -- the orders ----------------------------------------------------------------------

    def _stage(self, age_days: float) -> Stage:
        for bound, weights in MIX:
            if age_days < bound:
                stages, w = zip(*weights.items(), strict=True)
                return self.rng.choices(stages, w)[0]
        raise AssertionError("unreachable")

    def _orders(self, seeded: Seeded) -> None:
        rng, span = self.rng, self.days * 86_400
        # Ages: denser lately (a growing shop), never in the future.
        ages = sorted((rng.random() ** 1.3) * span for _ in range(self.n))
        ages.reverse()  # oldest first: numbers grow with time
        best_score = -1
        for i, age_s in enumerate(ages):
            created = self.now - timedelta(seconds=age_s + 60)
            sid, platform = self.stores[0] if rng.random() < 0.62 else self.stores[1]
            oid = self.ids.take(T["orders"])
            stage = self._stage(age_s / 86_400)
            order = self._order(i, oid, platform, created, stage)
            score = self._pipeline(oid, sid, platform, order, stage, created, seeded)
            if score > best_score and stage == Stage.DELIVERED:
                best_score, seeded.order_id = score, oid
                seeded.number, seeded.email = order.number, order.email or ""
                seeded.customer = (
                    (order.shipping_address.name or "").split()[-1] if order.shipping_address else ""
                )
            if stage == Stage.ON_HOLD and not seeded.held_order_id:
                seeded.held_order_id = oid

    def _order(self, i: int, oid: int, platform: str, created: datetime, stage: Stage) -> Order:
        rng = self.rng
        customer = self.customers[int(len(self.customers) * rng.random() ** 1.5)]
        lines = []
        count = 1 if rng.random() < 0.6 else rng.choice((2, 2, 3, 4))
        picked = rng.choices(range(SKUS), self.weights, k=count)
        for n, k in enumerate(dict.fromkeys(picked)):  # one line per SKU
            sku, title, price, grams = self.catalog[k]
            base = 9_007_199_254_740_993 + oid * 10 if platform == "shopify" else oid * 10
            lines.append(
                LineItem(
                    line_id=str(base + n),
                    sku=sku,
                    product_id=str(9_007_199_254_800_000 + k * 3) if platform == "shopify" else str(100 + n),
                    variant_id=None,
                    title=title,
                    quantity=1 if rng.random() < 0.8 else rng.choice((2, 3)),
                    unit_price=money(price),
                    grams=grams,
                    requires_shipping=True,
                )
            )
        subtotal = sum((line.unit_price.amount * line.quantity for line in lines), Decimal("0"))
        shipping = Decimal("0.00") if subtotal >= 75 else Decimal("5.00")
        tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
        cancelled = created + timedelta(hours=2) if stage == Stage.CANCELLED else None
        fulfilled = stage in (Stage.FULFILLED, Stage.DELIVERED)
        big = 9_007_199_254_740_993 + oid * 10 + 9
        return Order(
            platform=platform,
            order_id=str(big) if platform == "shopify" else str(oid),
            gid=f"gid://shopify/Order/{big}" if platform == "shopify" else None,
            number=f"#{1000 + i}" if platform == "shopify" else str(5000 + i),
            currency="USD",
            email=customer["email"],
            customer_id=customer["id"] if platform == "shopify" else None,
            browser_ip=f"203.0.113.{i % 250 + 1}",
            billing_address=customer["address"],
            shipping_address=customer["address"],
            line_items=tuple(lines),
            subtotal=money(subtotal),
            total=money(subtotal + shipping + tax),
            total_tax=money(tax),
            total_shipping=money(shipping),
            total_discounts=money("0.00"),
            shipping_method=ShippingMethod("Standard", "Standard", money(shipping)),
            financial_status=FinancialStatus.REFUNDED if stage == Stage.CANCELLED else FinancialStatus.PAID,
            fulfillment_status=FulfillmentStatus.FULFILLED if fulfilled else FulfillmentStatus.UNFULFILLED,
            cancelled_at=cancelled,
            cancel_reason="customer" if cancelled else None,
            tags=(),
            note=None,
            created_at=created.replace(microsecond=0),
            updated_at=created.replace(microsecond=0),
        )

    def _note(
        self, oid: int, actor: str, action: str, reason: str, at: datetime, data: dict[str, Any] | None = None
    ) -> None:
        self.w.add(
            T["timeline_entries"],
            {
                "account_id": self.acc,
                "subject": f"order:{oid}",
                "actor": actor,
                "action": action,
                "reason": reason,
                "data": data or {},
                "at": at,
            },
        )

    def _pipeline(
        self, oid: int, sid: int, platform: str, order: Order, stage: Stage, created: datetime, seeded: Seeded
    ) -> int:
        """The order's row, its parcels, stock movements and timeline; returns how rich it is."""
        rng = self.rng
        at = created + timedelta(seconds=2)
        total = order.total.amount
        topic = "shopify:orders/create" if platform == "shopify" else "woocommerce:order.created"
        self._note(
            oid, topic, "order.received", f"{order.number}: {len(order.line_items)} line(s), {total} USD", at
        )
        for line in order.line_items:
            assert line.sku is not None
            self._move(
                line.sku,
                f"order:{oid}:{line.sku}:reserve:{line.quantity}:0",
                "order_reserved",
                f"order:{oid}",
                0,
                line.quantity,
                at,
                store_id=sid,
                order_id=oid,
            )
        risk: dict[str, Any] | None = None
        hold: str | None = None
        review: dict[str, Any] | None = None
        richness = 0
        if stage not in (Stage.RECEIVED,):
            self._note(oid, "pipeline", "order.verifying", "verification started", at + timedelta(seconds=1))
            held = stage in (Stage.ON_HOLD, Stage.REJECTED) or rng.random() < 0.03
            facts: list[Fact] = []
            if held:
                for rule, weight, detail in rng.sample(RULES, rng.choice((2, 3))):
                    facts.append(Fact(rule, weight, detail.format(total=total)))
            elif rng.random() < 0.2:
                facts.append(Fact("new_customer", 10, "first order from this customer"))
            score = sum(f.weight for f in facts)
            decision = "hold" if held else "approve"
            reason = (
                f"held for review: score {score} ({', '.join(f.rule for f in facts)})"
                if held
                else ("approved: no rule fired" if not facts else f"approved: score {score} below 40")
            )
            verdict = RiskVerdict(score, decision, tuple(facts), reason)  # type: ignore[arg-type]
            if stage != Stage.VERIFYING:
                risk = {**verdict.to_dict(), "at": _iso(at + timedelta(seconds=2))}
                self._note(
                    oid,
                    "pipeline",
                    "order.verified",
                    reason,
                    at + timedelta(seconds=2),
                    {"score": score, "decision": decision, "facts": [f.to_dict() for f in facts]},
                )
                if held:
                    self._note(oid, "pipeline", "order.held", reason, at + timedelta(seconds=3))
                    hold = reason
                if held and stage not in (Stage.ON_HOLD, Stage.REJECTED):
                    review = {
                        "reviewer": "user:owner@example.com",
                        "decision": "approve",
                        "reason": "known customer, called to confirm",
                        "at": _iso(at + timedelta(hours=1)),
                    }
                    self._note(
                        oid,
                        "user:owner@example.com",
                        "order.approved",
                        review["reason"],
                        at + timedelta(hours=1),
                    )
                    hold = None
                if stage == Stage.REJECTED:
                    review = {
                        "reviewer": "user:owner@example.com",
                        "decision": "reject",
                        "reason": "card holder denied the purchase",
                        "at": _iso(at + timedelta(hours=1)),
                    }
                    self._note(
                        oid,
                        "user:owner@example.com",
                        "order.rejected",
                        review["reason"],
                        at + timedelta(hours=1),
                    )
                    hold = None
        if stage == Stage.ON_HOLD and hold is None:  # held for shipping, not for review
            sku = order.line_items[0].sku
            hold = rng.choice(HOLD_SHIPPING).format(sku=sku)
            self._note(oid, "shipping", "order.held", hold, at + timedelta(minutes=5))
        later = (Stage.READY_TO_SHIP, Stage.PACKED, *SHIPPED)
        if stage in later or (stage == Stage.CANCELLED and rng.random() < 0.5):
            self._note(
                oid,
                "pipeline",
                "order.approved",
                (risk or {}).get("reason", "approved"),
                at + timedelta(seconds=3),
            )
            self._note(
                oid,
                "pipeline",
                "order.ready_to_ship",
                "approved and nothing holds it",
                at + timedelta(seconds=4),
            )
            self._note(
                oid,
                "pipeline",
                "order.verdict_written",
                f"risk:{oid}:1",
                at + timedelta(seconds=5),
                {"level": "LOW", "facts": len((risk or {}).get("facts", [])), "ref": None},
            )
        if stage in (Stage.PACKED, *SHIPPED):
            richness += self._parcels(oid, sid, platform, order, stage, created, seeded)
        if stage == Stage.CANCELLED:
            for line in order.line_items:
                assert line.sku is not None
                self._move(
                    line.sku,
                    f"order:{oid}:{line.sku}:release",
                    "order_released",
                    f"order:{oid}",
                    0,
                    -line.quantity,
                    created + timedelta(hours=2),
                    store_id=sid,
                    order_id=oid,
                    note="customer",
                )
            self._note(
                oid,
                topic.replace("create", "cancelled").replace("created", "updated"),
                "order.cancelled",
                "the storefront cancelled it: customer",
                created + timedelta(hours=2),
            )
        for line in order.line_items:
            assert line.sku is not None
            self.sold[line.sku] = self.sold.get(line.sku, 0) + line.quantity
        updated = created + timedelta(days=3 if stage == Stage.DELIVERED else 0, hours=1)
        self.w.add(
            T["orders"],
            {
                "id": oid,
                "account_id": self.acc,
                "store_id": sid,
                "platform": platform,
                "platform_order_id": order.order_id,
                "number": order.number,
                "email": order.email,
                "stage": stage.value,
                "financial_status": order.financial_status.value,
                "fulfillment_status": order.fulfillment_status.value,
                "cancelled_at": order.cancelled_at,
                "platform_updated_at": order.updated_at,
                "platform_fetched_at": None,
                "data": order.to_dict(),
                "hold_reason": hold,
                "risk": risk,
                "review": review,
                "redacted_at": None,
                "created_at": created,
                "updated_at": min(updated, self.now),
            },
        )
        return richness + len(order.line_items)

    def _parcels(
        self, oid: int, sid: int, platform: str, order: Order, stage: Stage, created: datetime, seeded: Seeded
    ) -> int:
        rng = self.rng
        packed = created + timedelta(hours=rng.uniform(1, 20))
        self._note(oid, "shipping", "order.packed", "pack scan matched", packed)
        parcels = 2 if len(order.line_items) > 2 and rng.random() < 0.4 else 1
        self._note(
            oid, "shipping", "shipment.planned", f"{parcels} parcel(s): medium", packed + timedelta(seconds=1)
        )
        richness = 0
        for package in range(1, parcels + 1):
            shid = self.ids.take(T["shipments"])
            items = [line for n, line in enumerate(order.line_items) if n % parcels == package - 1]
            grams = sum((line.grams or 0) * line.quantity for line in items) + 150
            parcel = {
                "box": "medium",
                "length_cm": "30",
                "width_cm": "25",
                "height_cm": "15",
                "weight_g": grams,
                "items": [
                    {
                        "sku": line.sku,
                        "line_id": line.line_id,
                        "grams": line.grams,
                        "dims_cm": ["20", "15", "5"],
                        "value": str(line.unit_price.amount),
                    }
                    for line in items
                ],
                "value": str(sum((line.unit_price.amount for line in items), Decimal("0"))),
            }
            row: dict[str, Any] = {
                "id": shid,
                "account_id": self.acc,
                "store_id": sid,
                "order_id": oid,
                "package": package,
                "state": "planned",
                "parcel": parcel,
                "easypost_id": None,
                "rates": None,
                "label": None,
                "tracking_code": None,
                "fulfillment_ref": None,
                "problem": None,
                "tracker_id": None,
                "carrier": None,
                "service": None,
                "route_class": None,
                "delivery_state": None,
                "est_delivery_at": None,
                "promised_at": None,
                "last_scan_at": None,
                "last_heard_at": None,
                "shipped_at": None,
                "delivered_at": None,
                "created_at": packed,
                "updated_at": packed,
            }
            if stage in SHIPPED:
                richness += self._label(row, oid, platform, order, stage, packed, package, seeded)
            self.w.add(T["shipments"], row)
        if stage in SHIPPED:
            n = parcels
            self._note(
                oid,
                "shipping",
                "order.label_purchased",
                f"{n} label(s) bought",
                packed + timedelta(minutes=1),
            )
        if stage in (Stage.FULFILLED, Stage.DELIVERED, Stage.PARTIALLY_FULFILLED):
            self._note(
                oid,
                "shipping",
                "order.fulfilled",
                f"{parcels} of {parcels} parcel(s) written back to {platform}",
                packed + timedelta(minutes=2),
            )
            for line in order.line_items:
                assert line.sku is not None
                self._move(
                    line.sku,
                    f"order:{oid}:{line.sku}:ship",
                    "order_shipped",
                    f"order:{oid}",
                    -line.quantity,
                    -line.quantity,
                    packed + timedelta(minutes=2),
                    store_id=sid,
                    order_id=oid,
                )
        if stage == Stage.DELIVERED:
            self._note(
                oid,
                "tracking",
                "order.delivered",
                "the carrier delivered every parcel",
                packed + timedelta(days=3),
            )
            if self.rng.random() < 0.025:
                richness += self._return(oid, sid, order, packed + timedelta(days=3), seeded)
        return richness

    def _label(
        self,
        row: dict[str, Any],
        oid: int,
        platform: str,
        order: Order,
        stage: Stage,
        packed: datetime,
        package: int,
        seeded: Seeded,
    ) -> int:
        rng, shid = self.rng, row["id"]
        considered = []
        for n, (carrier, service, days, price) in enumerate(CARRIERS):
            rate = Rate(f"rate_{shid:08d}{n}", carrier, service, money(price), days)
            considered.append(
                Considered(
                    rate,
                    True,
                    "chosen: cheapest at any speed (standard)"
                    if n == 0
                    else f"eligible, {Decimal(price) - Decimal(CARRIERS[0][3])} USD more",
                )
            )
        chosen = considered[0].rate
        choice = RateChoice(
            chosen,
            tuple(c.rate for c in considered[1:]),
            tuple(considered),
            f"cheapest of {len(considered)} eligible rate(s) at any speed (standard)",
        )
        code = f"9400{1000000000000000 + shid * 7919:018d}"
        label = Label(
            f"shp_{shid:032x}",
            code,
            chosen.carrier,
            chosen.service,
            f"https://files.example.com/postage_label/{shid}.png",
            chosen.price,
            f"trk_{shid:032x}",
            f"https://track.easypost.com/trk_{shid:032x}",
        )
        shipped = packed + timedelta(minutes=1)
        international = (order.shipping_address and order.shipping_address.country_code) != "US"
        promised = shipped + timedelta(days=5)
        row.update(
            state="fulfilled" if stage != Stage.LABEL_PURCHASED else "purchased",
            easypost_id=label.shipment_id,
            rates=choice.to_dict(),
            label=label.to_dict(),
            tracking_code=code,
            tracker_id=label.tracker_id,
            fulfillment_ref=f"gid://shopify/Fulfillment/{9_007_199_254_740_993 + shid}"
            if platform == "shopify"
            else str(shid),
            carrier=chosen.carrier,
            service=chosen.service,
            route_class="international" if international else "domestic",
            shipped_at=shipped,
            promised_at=promised,
            est_delivery_at=promised,
            updated_at=shipped,
        )
        self._note(
            oid,
            "shipping",
            "shipment.rates",
            f"rates considered (parcel {package}): {choice.reason}",
            shipped - timedelta(seconds=20),
            choice.to_dict(),
        )
        self._note(
            oid,
            "shipping",
            "shipment.label_purchased",
            f"parcel {package}: {chosen.carrier} {chosen.service} for {chosen.price.amount} USD, "
            f"tracking {code}",
            shipped,
            {"shipment_id": shid, "label": label.to_dict()},
        )
        if stage == Stage.LABEL_PURCHASED:
            return 1
        self._note(
            oid,
            "shipping",
            "shipment.fulfilled",
            f"parcel {package}: {platform} told, tracking {code}",
            shipped + timedelta(seconds=30),
            {"shipment_id": shid, "ref": row["fulfillment_ref"]},
        )
        journey = [
            ("pre_transit", "Shipping label created", 0.0),
            ("in_transit", "Accepted at origin facility", 0.5),
            ("in_transit", "Arrived at regional facility", 1.4),
            ("out_for_delivery", "Out for delivery", 2.6),
            ("delivered", "Delivered, front door", 2.9),
        ]
        if stage != Stage.DELIVERED:
            age = (self.now - shipped).total_seconds() / 86_400
            journey = [j for j in journey if j[2] < age and j[0] != "delivered"]
        last: datetime | None = None
        for status, message, after in journey:
            last = shipped + timedelta(days=after)
            self.w.add(
                T["tracking_scans"],
                {
                    "id": self.ids.take(T["tracking_scans"]),
                    "account_id": self.acc,
                    "shipment_id": shid,
                    "key": f"{int(last.timestamp())}:{status}:{zlib.crc32(message.encode()) & 0xFFFF:x}",
                    "happened_at": last,
                    "status": status,
                    "status_detail": None,
                    "message": message,
                    "place": {"city": "Memphis", "state": "TN", "country": "US"},
                    "received_at": last,
                },
            )
        state = journey[-1][0] if journey else "pre_transit"
        row.update(
            delivery_state=state,
            last_scan_at=last,
            last_heard_at=last,
            delivered_at=last if state == "delivered" else None,
        )
        if stage == Stage.FULFILLED and state != "delivered" and rng.random() < 0.08:
            self._exception(row, oid, last or shipped, seeded)
        if not seeded.tracking_code and stage == Stage.DELIVERED:
            seeded.tracking_code, seeded.shipment_id = code, shid
        return len(journey)

    def _exception(self, row: dict[str, Any], oid: int, at: datetime, seeded: Seeded) -> None:
        kind, reason, action = self.rng.choice(
            [
                ("late", "past its promised delivery date", "ask the carrier; tell the customer"),
                ("stalled", "no scan for 72 hours", "open a trace with the carrier"),
                (
                    "attempted_delivery",
                    "delivery attempted, nobody home",
                    "tell the customer to arrange redelivery",
                ),
                ("failure", "address not found", "correct the address with the customer"),
            ]
        )
        state = self.rng.choice(("open", "open", "acknowledged", "resolved"))
        eid = self.ids.take(T["delivery_exceptions"])
        seeded.exception_id = seeded.exception_id or eid
        self.w.add(
            T["delivery_exceptions"],
            {
                "id": eid,
                "account_id": self.acc,
                "shipment_id": row["id"],
                "order_id": oid,
                "kind": kind,
                "reason": reason,
                "action": action,
                "state": state,
                "data": {"threshold_s": 259200, "last_scan_at": _iso(at)},
                "opened_at": at + timedelta(hours=1),
                "acknowledged_at": at + timedelta(hours=5) if state != "open" else None,
                "resolved_at": at + timedelta(hours=9) if state == "resolved" else None,
                "cleared_at": None,
                "note": "customer told" if state == "resolved" else None,
                "actor": "user:owner@example.com" if state != "open" else None,
            },
        )
        self._note(oid, "tracking", "tracking.exception_opened", f"{kind}: {reason}", at + timedelta(hours=1))

    def _return(self, oid: int, sid: int, order: Order, delivered: datetime, seeded: Seeded) -> int:
        rng = self.rng
        rid = self.ids.take(T["returns"])
        state = rng.choice(
            (
                "requested",
                "approved",
                "label_sent",
                "in_transit",
                "received",
                "refunded",
                "refunded",
                "refunded",
                "closed",
                "refused",
            )
        )
        asked = delivered + timedelta(days=rng.uniform(1, 10))
        asked = min(asked, self.now - timedelta(hours=1))
        lines = order.line_items[: rng.choice((1, 2))]
        items_total = sum((line.unit_price.amount for line in lines), Decimal("0"))
        labelled = state not in ("requested", "approved", "refused")
        code = f"9202{2000000000000000 + rid * 104729:018d}" if labelled else None
        self.w.add(
            T["returns"],
            {
                "id": rid,
                "account_id": self.acc,
                "store_id": sid,
                "order_id": oid,
                "key": f"portal:{rid}",
                "source": rng.choice(("portal", "storefront", "merchant")),
                "state": state,
                "resolution": "refund",
                "platform_return_id": None,
                "decision": {
                    "approved": state != "refused",
                    "refusals": []
                    if state != "refused"
                    else [{"rule": "window", "reason": "asked after the 30-day window"}],
                    "fee": "0.00",
                    "shipping_paid_by": "merchant",
                    "window_ends": _iso(delivered + timedelta(days=30)),
                },
                "override": None,
                "evidence": None,
                "hold_reason": None,
                "review": None,
                "label": {
                    "shipment_id": f"shp_r{rid:031x}",
                    "tracking_code": code,
                    "carrier": "USPS",
                    "service": "GroundAdvantage",
                    "label_url": f"https://files.example.com/return_label/{rid}.png",
                    "price": {"amount": "6.49", "currency": "USD"},
                    "tracker_id": f"trk_r{rid:031x}",
                    "tracking_url": None,
                }
                if labelled
                else None,
                "easypost_id": f"shp_r{rid:031x}" if labelled else None,
                "tracker_id": f"trk_r{rid:031x}" if labelled else None,
                "tracking_code": code,
                "carrier": "USPS" if labelled else None,
                "service": "GroundAdvantage" if labelled else None,
                "delivery_state": "delivered" if state in ("received", "refunded", "closed") else None,
                "first_scan_at": None,
                "last_scan_at": None,
                "delivered_at": None,
                "arrival_weight_oz": None,
                "refund": {
                    "items": str(items_total),
                    "shipping": "0.00",
                    "fee": "0.00",
                    "label_cost": "0.00",
                    "total": str(items_total),
                    "currency": "USD",
                }
                if state == "refunded"
                else None,
                "refund_ref": f"refund-{rid}" if state == "refunded" else None,
                "exchange_shipment_id": None,
                "problem": None,
                "requested_at": asked,
                "approved_at": asked + timedelta(minutes=1)
                if state not in ("requested", "refused")
                else None,
                "label_sent_at": asked + timedelta(minutes=2) if labelled else None,
                "received_at": None,
                "inspected_at": None,
                "refunded_at": asked + timedelta(days=4) if state == "refunded" else None,
                "closed_at": None,
                "created_at": asked,
                "updated_at": asked,
            },
        )
        for line in lines:
            self.w.add(
                T["return_items"],
                {
                    "return_id": rid,
                    "account_id": self.acc,
                    "line_id": line.line_id,
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": 1,
                    "unit_price": str(line.unit_price.amount),
                    "currency": "USD",
                    "reason": rng.choice(("unwanted", "too_small", "damaged", "not_as_described")),
                    "note": None,
                    "photo_url": None,
                    "exchange_sku": None,
                    "exchange_price": None,
                    "condition": None,
                    "inspected_at": None,
                },
            )
        self._note(oid, "portal", "return.requested", f"return {rid}: {len(lines)} item(s)", asked)
        seeded.return_id = seeded.return_id or rid
        return 5


# -- the pages to visit ---------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One console page to visit: its URL (parameters filled), endpoint and least role."""

    name: str
    url: str
    endpoint: str
    least_role: str | None  # None: open to anyone (the login page, the API's docs)
    kind: str = "page"  # web.console.page's kind: page, fragment (htmx swaps it in) or file


@dataclass
class Pages:
    found: list[Page]
    unfilled: list[str]  # routes whose parameters the seeded world cannot fill: reported, never skipped


def _value(world: Seeded, rule: str, arg: str, converter: str) -> str | None:
    """A seeded value for URL parameter ``arg`` of ``rule`` (by name, then by the path before it)."""
    by_name: dict[str, Any] = {
        "order_id": world.order_id,
        "return_id": world.return_id,
        "sku": world.sku,
        "store_id": world.store_ids[0],
        "shipment_id": world.shipment_id,
        "exception_id": world.exception_id,
        "dead_letter_id": world.dead_letter_id,
        "letter_id": world.dead_letter_id,
        "job_id": world.dead_letter_id,
        "item_id": world.stock_item_id,
        "stock_item_id": world.stock_item_id,
        "number": world.number,
        "tracking_code": world.tracking_code,
        "code": world.tracking_code,
        "email": world.email,
    }
    value = by_name.get(arg)
    if value is None and arg in ("id", "pk", "ref"):
        area = rule.split("<", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        value = {
            "orders": world.order_id,
            "order": world.order_id,
            "review": world.held_order_id,
            "returns": world.return_id,
            "return": world.return_id,
            "stock": world.stock_item_id,
            "stores": world.store_ids[0],
            "store": world.store_ids[0],
            "exceptions": world.exception_id,
            "jobs": world.dead_letter_id,
            "shipments": world.shipment_id,
            "labels": world.shipment_id,
        }.get(area)
    if value is None or value == 0 or value == "":
        return None
    if converter in ("int", "integer") and not str(value).isdigit():
        return None
    return str(value)


def pages(app: Any, world: Seeded) -> Pages:
    """Every console page of ``app``: each GET view wrapped by ``web.console.page`` (its least
    role on the view; files such as the labels PDF left out, fragments marked), the login
    page, and the API's docs page if there is one. Parameters
    come from ``world``; a route whose parameters cannot be filled is listed in ``unfilled``."""
    found: list[Page] = []
    unfilled: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        view = app.view_functions.get(rule.endpoint)
        least = getattr(view, "least_role", None)
        docs = rule.rule.rstrip("/") == "/api/v1/docs"
        if least is None and rule.endpoint != "console.login" and not docs:
            continue
        values: dict[str, str] = {}
        for arg in rule.arguments:
            converter = type(rule._converters[arg]).__name__.removesuffix("Converter").lower()
            value = _value(world, rule.rule, arg, converter)
            if value is None:
                break
            values[arg] = value
        if len(values) < len(rule.arguments):
            unfilled.append(f"{rule.rule} ({rule.endpoint})")
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values) if rule.endpoint in app.view_functions else rule.rule
        name = rule.endpoint.removeprefix("console.") if not docs else "api_docs"
        if values:
            name += "[" + ",".join(values.values()) + "]"
        kind = getattr(view, "kind", "page")
        if kind == "file":  # a download made from what a page chose (its query), not a page
            continue
        found.append(Page(name, url, rule.endpoint, str(least.value) if least is not None else None, kind))
    return Pages(found, unfilled)


def searches(world: Seeded) -> list[tuple[str, str]]:
    """The orders grid's slow paths (filters and searches), as (name, query string)."""
    return [
        ("orders?stage=on_hold", "stage=on_hold"),
        ("orders?stage=delivered&page=5", "stage=delivered&page=5"),
        (
            "orders?store+date",
            f"store={world.store_ids[1]}&since={(datetime.now(UTC) - timedelta(days=30)).date()}",
        ),
        ("orders?q=number", f"q={world.number.lstrip('#')}"),
        ("orders?q=sku", f"q={world.sku}"),
        ("orders?q=customer", f"q={world.customer}"),
        ("orders?q=email", f"q={world.email}"),
        ("orders?q=tracking", f"q={world.tracking_code}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--other-orders", type=int, default=1_000)
    parser.add_argument(
        "--database-url", default=None, help="a migrated database (default: a throw-away SQLite file)"
    )
    args = parser.parse_args()
    from db.session import upgrade

    with tempfile.TemporaryDirectory(prefix="waybill-seed-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/seed.db"
        upgrade(url)
        engine = create_engine(url)
        world = seed(engine, orders=args.orders, other_orders=args.other_orders)
        engine.dispose()
    for table, n in world.counts.items():
        print(f"  {table:<22} {n:>8,}")
    print(f"seed_s={world.seconds:.2f} orders={world.main.orders + world.other.orders} rows={world.rows}")


if __name__ == "__main__":
    main()
