"""SQLAlchemy 2 models. Every row that belongs to a merchant carries ``account_id``.

Times are stored timezone-aware (UTC). Every change here needs an Alembic migration
in ``db/migrations/versions``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.addresses import address_key
from core.lifecycle import Stage
from core.orders import parse_time

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Waybill stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Platform(enum.StrEnum):
    shopify = "shopify"
    woocommerce = "woocommerce"
    easypost = "easypost"


class StoreState(enum.StrEnum):
    installing = "installing"
    active = "active"
    uninstalled = "uninstalled"


class InboxState(enum.StrEnum):
    pending = "pending"
    processing = "processing"
    done = "done"
    ignored = "ignored"
    failed = "failed"


class EffectState(enum.StrEnum):
    in_progress = "in_progress"  # claimed; the outside call may be under way
    unknown = "unknown"  # the call failed in a way that leaves its outcome unknown
    done = "done"
    failed = "failed"  # permanently refused by the outside system


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class Account(Base):
    """A merchant. Every store, order and record belongs to one."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Store(Base):
    """A connected storefront: a Shopify shop or a WooCommerce store."""

    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform", "domain", name="uq_stores_platform_domain"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform))
    domain: Mapped[str] = mapped_column(String(255))  # shop domain or store URL
    state: Mapped[StoreState] = mapped_column(_enum(StoreState), default=StoreState.installing)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # Fernet token
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # Fernet token
    scopes: Mapped[str | None] = mapped_column(String(1000), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[datetime | None] = mapped_column(default=None)
    uninstalled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxEvent(Base):
    """An inbound event, committed before the platform gets its 2xx."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("platform", "dedupe_key", name="uq_inbox_platform_dedupe"),
        Index("ix_inbox_state_received", "state", "received_at"),
        Index("ix_inbox_store_received", "store_id", "received_at"),  # the stores page: last webhook
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[InboxState] = mapped_column(_enum(InboxState), default=InboxState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class Effect(Base):
    """The effects ledger: one row per outside side effect, keyed for idempotency."""

    __tablename__ = "effects"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[EffectState] = mapped_column(_enum(EffectState), default=EffectState.in_progress)
    owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    outside_id: Mapped[str | None] = mapped_column(String(255), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class TimelineEntry(Base):
    """Who did what and why, to an order or a store. Append-only."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_subject", "account_id", "subject", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))  # "order:<id>", "store:<id>"
    actor: Mapped[str] = mapped_column(String(100))  # who: "webhook:shopify", "job:...", "user:..."
    action: Mapped[str] = mapped_column(String(100))  # what
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # why
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A job that exhausted its retries or failed permanently; retryable by an operator."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_account_state", "account_id", "state", "failed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The merchant the job worked for (from its store, order, event, shipment or return), shown on
    # that merchant's console; None for jobs of the whole service (sweeps, schedules).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), default=None
    )
    job_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50))
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default="dead")  # dead | retry_requested | retried
    retried_at: Mapped[datetime | None] = mapped_column(default=None)


MAX_KEY = 300  # characters of an order's shipping address key
MAX_IP = 64  # characters of a buyer's IP address (IPv6 needs 45)


class Order(Base):
    """An order as Waybill holds it: the canonical order (``data``) plus what we decided."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_order_id", name="uq_orders_store_platform_order"),
        Index("ix_orders_account_updated", "account_id", "platform_updated_at"),
        # The console's orders grid: newest first per account, by stage, by number.
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_account_stage", "account_id", "stage", "created_at"),
        Index("ix_orders_account_number", "account_id", "number"),
        Index("ix_orders_account_country", "account_id", "ship_country", "created_at"),
        # The risk rules' history: same e-mail, same address, same IP, by when placed.
        Index("ix_orders_account_email_placed", "account_id", "email", "placed_at"),
        Index("ix_orders_account_ship_key_placed", "account_id", "ship_key", "placed_at"),
        Index("ix_orders_account_ip_placed", "account_id", "browser_ip", "placed_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform))
    platform_order_id: Mapped[str] = mapped_column(String(40))  # exact 64-bit id, as text
    number: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320), default=None, index=True)
    stage: Mapped[str] = mapped_column(String(32), default=Stage.RECEIVED.value)  # core/lifecycle.py
    financial_status: Mapped[str] = mapped_column(String(32))
    fulfillment_status: Mapped[str] = mapped_column(String(32))
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    platform_updated_at: Mapped[datetime] = mapped_column()
    # When the held version was read from the platform by polling; null: a webhook pushed
    # it. Within one platform second a later read wins (core.orders.supersedes).
    platform_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hold_reason: Mapped[str | None] = mapped_column(Text, default=None)  # why it must not ship yet
    # The risk verdict: {"score", "decision", "facts": [{"rule", "weight", "detail"}], "reason"}.
    risk: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Who reviewed a held order and what they decided: {"reviewer", "decision", "reason", "at"}.
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    redacted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the console's search and destination filter read, kept from ``data`` on every
    # write (``order_search``): lower-cased number, e-mails, names and SKUs; the
    # destination country. Erasing the order's personal data erases them too.
    search: Mapped[str | None] = mapped_column(Text, default=None)
    ship_country: Mapped[str | None] = mapped_column(String(2), default=None)
    # What the risk rules' history counts match on, kept from ``data`` on every write
    # (``order_history_keys``): when the order was placed, its shipping address however it
    # was typed (``core.addresses.Address.key``) and the buyer's IP. Erasing the order's
    # personal data erases the last two.
    placed_at: Mapped[datetime | None] = mapped_column(default=None)
    ship_key: Mapped[str | None] = mapped_column(String(MAX_KEY), default=None)
    browser_ip: Mapped[str | None] = mapped_column(String(MAX_IP), default=None)


MAX_SEARCH = 2000  # characters of an order's search text


def order_search(
    number: str | None, email: str | None, data: dict[str, Any] | None
) -> tuple[str, str | None]:
    """(search text, destination country) of an order: what the console's grid matches."""
    data = data or {}
    parts: list[Any] = [number, email, data.get("email")]
    for key in ("shipping_address", "billing_address"):
        address = data.get(key) or {}
        parts += [address.get("name"), address.get("company")]
    parts += [item.get("sku") for item in data.get("line_items") or [] if isinstance(item, dict)]
    seen: list[str] = []
    for part in parts:
        text = " ".join(str(part).lower().split()) if part else ""
        if text and text not in seen:
            seen.append(text)
    country = str((data.get("shipping_address") or {}).get("country_code") or "").strip().upper()
    return " | ".join(seen)[:MAX_SEARCH], (country[:2] or None)


def order_history_keys(data: dict[str, Any] | None) -> tuple[datetime | None, str | None, str | None]:
    """(placed at, shipping address key, browser IP) of an order: what the risk rules'
    history counts match on (``sync.pipeline.gather_input``)."""
    data = data or {}
    try:
        placed = parse_time(str(data["created_at"]))
    except (KeyError, TypeError, ValueError):
        placed = None
    address = data.get("shipping_address") or {}
    key = address_key(address.get("country_code"), address.get("postal_code"), address.get("line1"))
    ip = str(data.get("browser_ip") or "").strip()
    return placed, (key[:MAX_KEY] if key else None), (ip[:MAX_IP] or None)


@event.listens_for(Order, "before_insert")
@event.listens_for(Order, "before_update")
def _order_search(mapper: Any, connection: Any, target: Order) -> None:
    target.search, target.ship_country = order_search(target.number, target.email, target.data)
    target.placed_at, target.ship_key, target.browser_ip = order_history_keys(target.data)


class DataExport(Base):
    """What Waybill holds about one customer, prepared for a privacy data request."""

    __tablename__ = "data_exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(64))
    customer_email: Mapped[str | None] = mapped_column(String(320), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockItem(Base):
    """One SKU at one location in a merchant's stock ledger: available = on_hand - reserved."""

    __tablename__ = "stock_items"
    __table_args__ = (UniqueConstraint("account_id", "sku", "location", name="uq_stock_items_sku_location"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(64), default="default")
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer, default=None)
    low_stock_since: Mapped[datetime | None] = mapped_column(default=None)
    # The channel level that seeded on hand (``initial_import``): the store it was read from, the
    # platform's time of that level, and the units the store's open orders had out of it that
    # are not back on hand yet (None: the channel does not tell). An order of that store whose
    # units the channel took by then gets them back when it arrives (``sync/stock_orders.py``).
    # None throughout: seeded otherwise, or before these columns.
    seeded_store_id: Mapped[int | None] = mapped_column(
        ForeignKey("stores.id", ondelete="SET NULL"), default=None
    )
    seeded_level_at: Mapped[datetime | None] = mapped_column(default=None)
    seeded_out: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockMovement(Base):
    """An immutable ledger entry: what moved, why, and from where. ``key`` makes it happen once."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_stock_movements_key"),
        Index("ix_stock_movements_item_at", "stock_item_id", "at"),
        # An order's movements, read whole each time one of its versions is applied.
        Index("ix_stock_movements_order_id", "order_id"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    stock_item_id: Mapped[int] = mapped_column(ForeignKey("stock_items.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(200))
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"), default=None)
    order_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("orders.id", ondelete="SET NULL"),
        default=None,
    )
    note: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogLink(Base):
    """A SKU on one channel: where its stock lives there and what we know of its level."""

    __tablename__ = "catalog_links"
    __table_args__ = (
        UniqueConstraint("store_id", "sku", name="uq_catalog_links_store_sku"),
        Index("ix_catalog_links_item", "store_id", "inventory_item_id"),
        Index("ix_catalog_links_product", "store_id", "product_id", "variant_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(64), default="default")  # the ledger location it publishes
    product_id: Mapped[int] = mapped_column(BigInteger)  # Shopify product / WooCommerce product or parent
    variant_id: Mapped[int | None] = mapped_column(
        BigInteger, default=None
    )  # Shopify variant / Woo variation
    inventory_item_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # Shopify only
    location_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # Shopify location
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    tracked: Mapped[bool] = mapped_column(default=True)
    # What the channel shows, as far as we know, and when (the platform's time); kept current by our
    # writes, by the channel's own sales (orders we ingest) and by what the channel tells us.
    channel_qty: Mapped[int | None] = mapped_column(Integer, default=None)
    channel_qty_at: Mapped[datetime | None] = mapped_column(default=None)
    # Units of sales made in ``channel_qty_at``'s own second, taken off ``channel_qty`` though the
    # level may have counted them already (platform times have whole seconds): the channel shows
    # between ``channel_qty`` and ``channel_qty + channel_qty_open``. 0 once a level is read or written.
    channel_qty_open: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_pushed: Mapped[int | None] = mapped_column(Integer, default=None)
    pushed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The latest value the channel reported (webhook or read), not yet settled into the ledger.
    observed_qty: Mapped[int | None] = mapped_column(Integer, default=None)
    observed_at: Mapped[datetime | None] = mapped_column(default=None)
    observed_received_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the channel's catalog says one unit weighs and measures (grams; L x W x H in cm), for parcels.
    grams: Mapped[int | None] = mapped_column(Integer, default=None)
    length_cm: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    width_cm: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockBuffer(Base):
    """Safety stock held back from one channel: per SKU, or the channel default (``sku`` = "*")."""

    __tablename__ = "stock_buffers"
    __table_args__ = (UniqueConstraint("store_id", "sku", name="uq_stock_buffers_store_sku"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255), default="*")
    kind: Mapped[str] = mapped_column(String(16))  # absolute | percent
    value: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class StockDirty(Base):
    """A (channel, SKU) whose published level must be pushed; rows coalesce repeated changes."""

    __tablename__ = "stock_dirty"
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(255), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Shipment(Base):
    """One parcel of one order: its box, the rates considered, the label bought, the write-back.

    ``state``: planned (parcel chosen) -> created (EasyPost shipment exists, id committed)
    -> purchased (label bought) -> fulfilled (written back to the storefront); voided
    (label refunded) or failed (a clear reason in ``problem``).
    """

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "package", name="uq_shipments_order_package"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    package: Mapped[int] = mapped_column(Integer, default=1)  # 1, 2, ... when an order needs several parcels
    state: Mapped[str] = mapped_column(String(16), default="planned")
    parcel: Mapped[dict[str, Any]] = mapped_column(default=dict)  # core.shipping.Parcel.to_dict()
    easypost_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)  # shp_...
    rates: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # RateChoice.to_dict()
    label: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # core.shipping.Label.to_dict()
    tracking_code: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    fulfillment_ref: Mapped[str | None] = mapped_column(String(128), default=None)  # storefront's id/note
    problem: Mapped[str | None] = mapped_column(Text, default=None)
    # Tracking (sync/tracking): the carrier's tracker and where the parcel is, in carrier time.
    tracker_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)  # trk_...
    carrier: Mapped[str | None] = mapped_column(String(32), default=None)
    service: Mapped[str | None] = mapped_column(String(64), default=None)
    route_class: Mapped[str | None] = mapped_column(String(16), default=None)  # core.transit.RouteClass
    delivery_state: Mapped[str | None] = mapped_column(String(24), default=None)  # core.tracking
    est_delivery_at: Mapped[datetime | None] = mapped_column(default=None)  # the carrier's latest estimate
    promised_at: Mapped[datetime | None] = mapped_column(default=None)  # its first: on time is judged by it
    last_scan_at: Mapped[datetime | None] = mapped_column(default=None)  # carrier time, latest scan
    last_heard_at: Mapped[datetime | None] = mapped_column(default=None)  # last event or refresh received
    shipped_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrackingScan(Base):
    """One carrier scan of one parcel, recorded once (``key``: its time, status and words)."""

    __tablename__ = "tracking_scans"
    __table_args__ = (UniqueConstraint("shipment_id", "key", name="uq_tracking_scans_shipment_key"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    happened_at: Mapped[datetime] = mapped_column()  # the carrier's time
    status: Mapped[str] = mapped_column(String(24))
    status_detail: Mapped[str | None] = mapped_column(String(64), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    place: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryException(Base):
    """A parcel that needs attention: why, what to do, and who dealt with it.

    ``state``: open -> acknowledged -> resolved (a person, with a note), or cleared (the
    parcel moved again or was delivered). At most one unfinished (open or acknowledged)
    exception per shipment and kind, kept so under the shipment's row lock.
    """

    __tablename__ = "delivery_exceptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # core.tracking.ExceptionKind
    reason: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # what we recommend doing
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # threshold_s, last_scan_at, ...
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    actor: Mapped[str | None] = mapped_column(String(100), default=None)


class Return(Base):
    """A customer's return of some of an order's units: requested, decided by policy, a
    return label, the parcel back, inspected, then refunded or exchanged (core.returns).

    ``state``: core.returns.ReturnState. ``key`` makes a request land once (the storefront's
    return id, the portal's form token, the merchant's idempotency key). Money is text
    (Decimal); the return parcel's tracking is kept here like a shipment's.
    """

    __tablename__ = "returns"
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_returns_account_key"),
        Index("ix_returns_account_state", "account_id", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # portal | storefront | merchant
    state: Mapped[str] = mapped_column(String(20), default="requested")
    resolution: Mapped[str] = mapped_column(String(16), default="refund")  # refund | exchange
    platform_return_id: Mapped[str | None] = mapped_column(String(128), default=None)  # the storefront's
    # The policy's decision: refusals (rule, reason), fee, who pays shipping, the window's end.
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # {"actor", "note", "at"}
    # Evidence rules' facts and what they say; a risky return waits for a person.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    hold_reason: Mapped[str | None] = mapped_column(Text, default=None)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The return parcel (customer -> merchant), tracked like an outbound one.
    label: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # core.shipping.Label.to_dict()
    easypost_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tracker_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    tracking_code: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    carrier: Mapped[str | None] = mapped_column(String(32), default=None)
    service: Mapped[str | None] = mapped_column(String(64), default=None)
    delivery_state: Mapped[str | None] = mapped_column(String(24), default=None)
    first_scan_at: Mapped[datetime | None] = mapped_column(default=None)  # carrier time: the parcel left
    last_scan_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)  # to the merchant's address
    arrival_weight_oz: Mapped[float | None] = mapped_column(default=None)
    # What is owed back ({"items", "shipping", "fee", "label_cost", "total", "currency"}), as text.
    refund: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    refund_ref: Mapped[str | None] = mapped_column(String(128), default=None)  # the storefront's refund
    exchange_shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipments.id", ondelete="SET NULL"), default=None
    )
    problem: Mapped[str | None] = mapped_column(Text, default=None)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    label_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    inspected_at: Mapped[datetime | None] = mapped_column(default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnItem(Base):
    """Units of one order line in a return: why, what instead (an exchange), and how they came back."""

    __tablename__ = "return_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    line_id: Mapped[str] = mapped_column(String(40))  # the order line's platform id (exact)
    sku: Mapped[str | None] = mapped_column(String(128), default=None)
    title: Mapped[str] = mapped_column(String(255), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[str] = mapped_column(String(32))  # Decimal as text, tax included, after discounts
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    photo_url: Mapped[str | None] = mapped_column(Text, default=None)
    exchange_sku: Mapped[str | None] = mapped_column(String(128), default=None)
    exchange_price: Mapped[str | None] = mapped_column(String(32), default=None)
    condition: Mapped[str | None] = mapped_column(String(16), default=None)  # core.returns.Condition
    inspected_at: Mapped[datetime | None] = mapped_column(default=None)


class TrustedCustomer(Base):
    """A merchant's allowlist: customers whose orders the risk rules never hold."""

    __tablename__ = "trusted_customers"
    __table_args__ = (UniqueConstraint("account_id", "email", name="uq_trusted_customers_email"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(enum.StrEnum):
    """What a console user may do: owner everything, staff all but users and settings,
    packer only pick, pack and print."""

    owner = "owner"
    staff = "staff"
    packer = "packer"


class User(Base):
    """A person who signs in to the console: e-mail and password (argon2 hash), or a Shopify
    admin user signed in by the shop's session token (``shopify_user_id``)."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("account_id", "shopify_user_id", name="uq_users_account_shopify_user"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, default=None)  # lower-cased
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)  # None: no password yet
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.staff)
    shopify_user_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class UserLink(Base):
    """A one-time link sent by e-mail: an invitation to join an account, or a password reset.

    Only the hash of its secret is kept; it is used once, before ``expires_at``.
    """

    __tablename__ = "user_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.staff)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AccountSettings(Base):
    """A merchant's own settings over config.yaml's (risk weights, boxes, service levels,
    carriers, notifications, return policy), validated before they are kept; every change
    has an audit entry on the timeline (subject ``settings``)."""

    __tablename__ = "account_settings"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)


class ConsoleSession(Base):
    """A signed-in console browser. The cookie holds a random key; only its hash is kept here.

    A session is valid while it is not ended, its API token is not revoked, and it is
    within the idle and absolute lifetimes (``console`` in config.yaml).
    """

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # Signed in with an API token (token_id) or as a user (user_id): exactly one is set.
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True, default=None
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    # The shop whose admin frames this session (signed in by a Shopify session token), if any.
    embedded_shop: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class PendingInstall(Base):
    """WooCommerce keys delivered by the store's server, waiting for the browser that started the install.

    They join no account until that browser comes back to the return URL; unclaimed rows
    expire with the install token.
    """

    __tablename__ = "pending_installs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(255))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PackProgress(Base):
    """The units scanned into an order's parcel so far at the packing bench, per SKU, kept here so a
    page reload or a second tablet sees the same count (``sync.shipping.packing.scan_unit``).
    Removed when the order's pack scan is recorded."""

    __tablename__ = "pack_progress"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # SKU (title without one): units
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelFile(Base):
    """A purchased label's file, fetched once from where the label points (``label_url``) for batch
    printing (``sync.shipping.label_files``), and when it was last printed and by whom."""

    __tablename__ = "label_files"
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)  # the label_url it was fetched from (a new label: fetched again)
    content_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(default=None)
    printed_by: Mapped[str | None] = mapped_column(String(200), default=None)
