"""Typed, validated settings: ``config.yaml`` < ``WAYBILL_CONFIG`` file < environment < overrides.

Loaded once per process (``load_settings``). A bad value raises
:class:`SettingsError` naming the key and what was wrong; entry points print it and
exit non-zero.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "config.yaml"


class SettingsError(Exception):
    """A setting is missing or invalid. The message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetryPolicy(_Strict):
    max: int = Field(5, ge=0, le=50)
    base_s: float = Field(2.0, gt=0)
    factor: float = Field(3.0, ge=1)
    max_s: float = Field(600.0, gt=0)
    jitter: float = Field(0.25, ge=0, le=1)


class OutagePolicy(_Strict):
    """How jobs wait for a backing service that is down (the database, Redis): waits grow
    from ``base_s`` by half the outage so far, at most ``max_s``, +/- ``jitter``; none
    spends a retry. A job still failing for the outage ``give_up_s`` after it began is
    dead-lettered (when the database takes the record)."""

    base_s: float = Field(1.0, gt=0)
    max_s: float = Field(15.0, gt=0)
    jitter: float = Field(0.25, ge=0, le=1)
    give_up_s: float = Field(21600.0, gt=0)


class QueueSettings(_Strict):
    names: list[str] = ["intake", "orders", "inventory", "shipping", "tracking", "returns", "reconcile"]
    embedded_threads: int = Field(4, ge=1, le=64)
    # RQ queues each queue is split into, keyed by merchant account, worked round robin
    # (sync/queue.py): merchants past this many share partitions. 1 = no split.
    partitions: int = Field(32, ge=1, le=256)
    job_timeout_s: int = Field(300, gt=0)
    failure_ttl_s: int = Field(604800, gt=0)
    retry: RetryPolicy = RetryPolicy()
    retry_by_queue: dict[str, dict[str, float]] = {}
    outage: OutagePolicy = OutagePolicy()
    # How long a job may keep waiting for throttles (429, THROTTLED) without spending a
    # retry, from the first throttle in a row; past it a throttle spends one like a 5xx.
    throttle_budget_s: float = Field(1800.0, gt=0)

    @field_validator("names")
    @classmethod
    def _names_are_rq_safe(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not all(c.isalnum() or c in "_-" for c in name):
                raise ValueError(f"queue name {name!r} may hold only letters, digits, '_' and '-'")
        if len(set(names)) != len(names):
            raise ValueError("queue names must be unique")
        return names

    @model_validator(mode="after")
    def _overrides_are_valid(self) -> QueueSettings:
        for queue in self.retry_by_queue:
            self.policy_for(queue)
        return self

    def policy_for(self, queue: str) -> RetryPolicy:
        return RetryPolicy.model_validate({**self.retry.model_dump(), **self.retry_by_queue.get(queue, {})})


class Schedule(_Strict):
    """One periodic job (its job name is its key under ``schedules``): run every ``every_s``
    seconds on ``queue``. A number alone is the interval, on the job's own queue."""

    every_s: float = Field(gt=0)
    queue: str | None = None  # None: the queue the job is registered on

    @model_validator(mode="before")
    @classmethod
    def _interval_alone(cls, value: Any) -> Any:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"every_s": value}
        return value


class ShopifySettings(_Strict):
    api_version: str = "2026-10"
    base_url: str | None = None  # sandbox mode only: where the simulated shops live
    api_key: str | None = None
    api_secret: SecretStr | None = None
    scopes: str = "read_orders"


class EasyPostSettings(_Strict):
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    base_url: str | None = None  # sandbox mode only: where the simulated EasyPost lives ("/v2" is added)
    timeout_s: float = Field(30, gt=0)


class WebhookSettings(_Strict):
    max_body_bytes: int = Field(2 * 1024 * 1024, gt=0)
    # Bodies nested deeper than this are refused (a Shopify order is about 6 levels deep).
    max_depth: int = Field(64, ge=2, le=512)
    # customers/redact and shop/redact triggered longer than this before they reached us are
    # not acted on: Shopify retries for 4 hours, so older ones are replays (4 h + 1 h margin).
    privacy_max_age_s: float = Field(5 * 3600, gt=0)


class ConsoleSettings(_Strict):
    session_idle_minutes: float = Field(120, gt=0)  # a console session unused this long ends
    session_max_hours: float = Field(12, gt=0)  # and every session ends this long after sign-in
    # Sign-in and password-reset requests (POST) per client address.
    sign_in_rate_limit: str = "20 per minute"
    invite_hours: float = Field(72, gt=0)  # an invitation link works this long
    reset_hours: float = Field(2, gt=0)  # a password-reset link works this long

    @field_validator("sign_in_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if not _RATE_LIMIT.match(value):
            raise ValueError('must read like "20 per minute" or "100/hour"')
        return value.strip()


class DatabaseSettings(_Strict):
    """PostgreSQL session limits and TCP keepalives (SQLite ignores them). 0 turns one off."""

    # A transaction left idle this long is ended by PostgreSQL (its locks released).
    idle_in_transaction_timeout_s: float = Field(30, ge=0)
    # A statement running this long is cancelled. Migrations run without this limit.
    statement_timeout_s: float = Field(60, ge=0)
    # TCP keepalives, on both ends: a peer that vanished is found in about
    # idle + interval x count seconds; unacknowledged data for tcp_user_timeout_s also ends it.
    keepalive_idle_s: int = Field(10, ge=0)
    keepalive_interval_s: int = Field(5, ge=0)
    keepalive_count: int = Field(3, ge=0)
    tcp_user_timeout_s: float = Field(30, ge=0)
    # What sits between Waybill and PostgreSQL: "none" (direct connections, or a pooler in
    # session mode) or "transaction" (PgBouncer's pool_mode = transaction: consecutive
    # transactions of one connection may run on different server sessions, so Waybill
    # sends no startup options and uses no server-side prepared statements or session state;
    # the limits above are set per transaction). See docs/operations.md.
    pooler: Literal["none", "transaction"] = "none"


class InboxSettings(_Strict):
    sweep_after_s: float = Field(30, ge=0)
    # How webhooks are written to the inbox (webhooks/inbox.py): auto = grouped on PostgreSQL.
    writer: Literal["auto", "plain", "grouped"] = "auto"
    # How a committed event reaches Redis (sync/queue.py): auto = raw on a plain TCP connection.
    hand_off: Literal["auto", "plain", "raw"] = "auto"


class ReconcileSettings(_Strict):
    initial_lookback_s: float = Field(86400, ge=0)  # how far back the first poll of a new store looks
    # Wait before reading a store again when one platform second showed two contents.
    recheck_s: float = Field(2.0, ge=0)


class EffectsSettings(_Strict):
    lease_s: float = Field(120, gt=0)
    wait_poll_s: float = Field(0.05, gt=0)


class InventorySettings(_Strict):
    location: str = "default"  # the ledger location every channel publishes (one per store for now)
    push_delay_s: float = Field(1.0, ge=0)  # wait before a push job runs, to gather more changes
    settle_s: float = Field(2.0, ge=0)  # wait before a channel's reported level is read as a merchant edit
    heal: Literal["ledger", "channel", "report"] = "ledger"  # what an audit does with a difference
    default_buffer: str | None = None  # e.g. "2" (units) or "10%" held back from every channel
    low_stock_threshold: int | None = Field(None, ge=0)  # default per-SKU alert threshold
    lead_time_days: float = Field(14, gt=0)
    service_level: float = Field(0.95, gt=0, lt=1)
    velocity_alpha: float = Field(0.3, gt=0, le=1)
    history_days: int = Field(56, ge=1, le=730)


class RiskSettings(_Strict):
    """Fraud and verification rules (core/risk.py): each rule's weight is added when it fires."""

    approve_below: int = Field(30, ge=0)  # score < approve_below: approved
    reject_at: int = Field(90, ge=1)  # score >= reject_at: rejected; in between: held for review
    reject_action: Literal["cancel", "hold"] = "hold"  # what a rejection does on the storefront
    high_value: Decimal = Field(Decimal("500"), ge=0)  # order total (shop currency) counted as high value
    high_risk_countries: list[str] = []  # ISO 3166-1 alpha-2 codes of destinations held back
    disposable_domains: list[str] = []  # e-mail domains added to the built-in list
    velocity_window_h: float = Field(24, gt=0)
    velocity_max_orders: int = Field(3, ge=1)  # more orders than this from one email/address/IP: fires
    expedited_codes: list[str] = ["express", "overnight", "next_day", "priority", "expedited"]
    verify_addresses: bool = True  # EasyPost address verification before approval
    allowlist: list[str] = []  # trusted customer e-mails: never held by rules (per account in the API)
    weights: dict[str, int] = {
        "high_value": 25,
        "country_mismatch": 20,
        "address_mismatch": 10,
        "high_risk_destination": 40,
        "velocity": 30,
        "disposable_email": 25,
        "new_customer_expedited_high_value": 30,
        "platform_risk_high": 60,
        "platform_risk_medium": 25,
        "address_undeliverable": 100,
    }


class Box(_Strict):
    """A carton: inner dimensions in cm, weights in grams, cost in the shop currency."""

    name: str
    length_cm: Decimal = Field(gt=0)
    width_cm: Decimal = Field(gt=0)
    height_cm: Decimal = Field(gt=0)
    tare_g: int = Field(0, ge=0)
    max_weight_g: int = Field(gt=0)
    cost: Decimal = Field(Decimal("0"), ge=0)


class ServiceLevel(_Strict):
    """What the buyer paid for: the most days delivery may take, and carrier services to prefer."""

    max_days: int | None = Field(None, ge=1)  # None: any speed, cheapest wins


class ShippingSettings(_Strict):
    ship_from: dict[str, str] = {}  # the merchant's address: name, street1, city, state, zip, country, phone
    boxes: list[Box] = []
    default_item_grams: int = Field(500, gt=0)  # a unit neither its order line nor the catalog weighs
    default_item_cm: list[Decimal] = [Decimal("20"), Decimal("15"), Decimal("10")]  # L x W x H when unknown
    item_dimensions: dict[str, list[Decimal]] = {}  # SKU -> [L, W, H] in cm
    bins: dict[str, str] = {}  # SKU -> bin location, for pick lists
    service_levels: dict[str, ServiceLevel] = {
        "standard": ServiceLevel(max_days=None),
        "expedited": ServiceLevel(max_days=3),
        "overnight": ServiceLevel(max_days=1),
    }
    method_map: dict[str, str] = {}  # buyer's shipping method code or title (lowercase) -> service level
    default_level: str = "standard"
    carriers_allow: list[str] = []  # empty: every carrier on the account
    carriers_deny: list[str] = []
    insure_above: Decimal | None = Field(None, ge=0)  # insure parcels whose contents are worth more
    # Rate choice by delivery record: the cheapest rate whose carrier and service delivered on
    # time at least this share (0..1) on the parcel's route class, over on_time_min_samples
    # deliveries with an estimate; None: the cheapest (docs/transit.md).
    on_time_min: Decimal | None = Field(None, ge=0, le=1)
    on_time_min_samples: int = Field(20, ge=1)
    auto_ship: bool = True  # approved orders get labels at once; false: they wait for `ship run` or the API
    verify_packing: bool = False  # scanned SKUs must match the order before a label is bought
    notify_customer: bool = True  # Shopify fulfilmentCreate notifyCustomer; WooCommerce customer note
    customs_signer: str = "Shipping Manager"


class TrackingNotices(_Strict):
    """Which customer notices tracking sends (one per kind and parcel, through the notifier)."""

    exceptions: bool = True  # failure, return to sender, held for pickup, attempted delivery, stalled
    delays: bool = True  # the estimated delivery passed, or the carrier reports a delay
    milestones: bool = False  # also out for delivery and delivered


class MerchantTracking(_Strict):
    """One merchant's (account's) overrides of the tracking settings; unset keys inherit."""

    name: str | None = None  # shown on the tracking page (default: the account's name)
    logo_url: str | None = None
    customer_milestones: list[str] | None = None
    order_status: dict[str, str] | None = None
    notices: TrackingNotices | None = None
    templates: dict[str, dict[str, str]] | None = None
    branded_page: bool | None = None


class TrackingSettings(_Strict):
    """Carrier tracking, delivery exceptions and customer notices (docs/tracking.md)."""

    default_gap_h: float = Field(36, gt=0)  # stall threshold until a route has history
    gap_percentile: float = Field(0.95, gt=0, lt=1)
    gap_margin: float = Field(1.5, ge=1)
    gap_min_samples: int = Field(30, ge=1)
    late_grace_h: float = Field(12, ge=0)  # an estimate passed by this much is late
    customer_milestones: list[str] = ["out_for_delivery", "delivered", "exception"]
    order_status: dict[str, str] = {}  # milestone -> storefront order status, e.g. {"delivered": "delivered"}
    notices: TrackingNotices = TrackingNotices()
    templates: dict[str, dict[str, str]] = {}  # notice kind -> {"subject": ..., "body": ...}
    branded_page: bool = False  # write back Waybill's tracking page instead of the carrier's
    merchants: dict[str, MerchantTracking] = {}  # account name -> overrides


_REASONS = [
    "unwanted",
    "defective",
    "wrong_item",
    "not_as_described",
    "size_too_small",
    "size_too_large",
    "other",
]
_MERCHANT_FAULT = ["defective", "wrong_item", "not_as_described"]
_RETURN_STATES = frozenset(
    [
        "requested",
        "approved",
        "refused",
        "label_sent",
        "in_transit",
        "received",
        "inspected",
        "refunded",
        "exchanged",
        "closed",
    ]
)
_RATE_LIMIT = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?\s*$")
EvidenceLevel = Literal["carrier_scan", "delivered", "inspected"]


class MerchantReturns(_Strict):
    """One merchant's (account's) overrides of the returns settings; unset keys inherit."""

    window_days: int | None = Field(None, ge=0)
    non_returnable_skus: list[str] | None = None
    non_returnable_tags: list[str] | None = None
    final_sale_tags: list[str] | None = None
    reasons: list[str] | None = Field(None, min_length=1)
    photo_reasons: list[str] | None = None
    note_reasons: list[str] | None = None
    merchant_pays_reasons: list[str] | None = None
    restocking_fee_pct: Decimal | None = Field(None, ge=0, le=100)
    refund_shipping_reasons: list[str] | None = None
    exchange_allowed: bool | None = None
    exchange_difference: Literal["refund", "absorb"] | None = None
    refund_after: EvidenceLevel | None = None
    refund_at_first_scan_when_clean: bool | None = None
    light_parcel_ratio: Decimal | None = Field(None, ge=0, le=1)
    high_return_rate: Decimal | None = Field(None, gt=0, le=1)
    high_return_rate_min_orders: int | None = Field(None, ge=1)
    serial_returns: int | None = Field(None, ge=1)
    serial_days: int | None = Field(None, ge=1)
    address: dict[str, str] | None = None
    label: Literal["prepaid", "none"] | None = None
    order_status: dict[str, str] | None = None


class ReturnsSettings(_Strict):
    """Returns policy, labels and the portal (core/returns.py, docs/returns.md)."""

    window_days: int = Field(30, ge=0)  # days from delivery (else from fulfilment) a return may be asked
    non_returnable_skus: list[str] = []
    non_returnable_tags: list[str] = []  # product tags, any case
    final_sale_tags: list[str] = []
    reasons: list[str] = Field(default_factory=lambda: list(_REASONS), min_length=1)
    photo_reasons: list[str] = ["defective"]
    note_reasons: list[str] = ["not_as_described", "other"]
    merchant_pays_reasons: list[str] = Field(default_factory=lambda: list(_MERCHANT_FAULT))
    restocking_fee_pct: Decimal = Field(Decimal("0"), ge=0, le=100)
    refund_shipping_reasons: list[str] = Field(default_factory=lambda: list(_MERCHANT_FAULT))
    exchange_allowed: bool = True
    exchange_difference: Literal["refund", "absorb"] = "refund"
    refund_after: EvidenceLevel = "delivered"
    refund_at_first_scan_when_clean: bool = False
    light_parcel_ratio: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    high_return_rate: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    high_return_rate_min_orders: int = Field(3, ge=1)
    serial_returns: int = Field(3, ge=1)
    serial_days: int = Field(90, ge=1)
    address: dict[str, str] = {}  # the return-to address; empty: shipping.ship_from
    label: Literal["prepaid", "none"] = "prepaid"  # none: the customer sends the parcel back themselves
    order_status: dict[str, str] = {}  # return state -> the store's order status ({"refunded": "refunded"})
    portal_rate_limit: str = "10 per minute"  # per client address, on the portal's order lookup
    merchants: dict[str, MerchantReturns] = {}  # account name -> overrides

    @field_validator("portal_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if not _RATE_LIMIT.match(value):
            raise ValueError('must read like "10 per minute" or "100/hour"')
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> ReturnsSettings:
        _check_returns(self, "")
        for name, own in self.merchants.items():
            _check_returns(self._merged(own), f"merchants.{name}: ")
        return self

    def _merged(self, own: MerchantReturns) -> ReturnsSettings:
        update = {k: v for k, v in own.model_dump(exclude_none=True).items()}
        return self.model_copy(update={**update, "merchants": {}})

    def for_merchant(self, account_name: str) -> ReturnsSettings:
        """The settings of the merchant called ``account_name``: its overrides over these keys
        (``merchants`` empty in the result)."""
        own = self.merchants.get(account_name)
        return self._merged(own if own is not None else MerchantReturns())


def _check_returns(r: ReturnsSettings, where: str) -> None:
    known = set(r.reasons)
    for key in ("photo_reasons", "note_reasons", "merchant_pays_reasons", "refund_shipping_reasons"):
        unknown = sorted(set(getattr(r, key)) - known)
        if unknown:
            raise ValueError(f"{where}{key} names reasons not in reasons: {', '.join(unknown)}")
    states = sorted(set(r.order_status) - _RETURN_STATES)
    if states:
        raise ValueError(f"{where}order_status maps unknown return states: {', '.join(states)}")


class SmtpSettings(_Strict):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    sender: str = "Waybill <no-reply@localhost>"
    timeout_s: float = Field(15, gt=0)


class NotifierSettings(_Strict):
    """Where customer notices go: ``file`` (one JSON file per message under ``file_dir``, for
    development and tests), ``log`` (a line without personal data) or ``smtp``."""

    backend: Literal["file", "log", "smtp"] = "file"
    file_dir: Path | None = None  # unset: <var_dir>/outbox
    smtp: SmtpSettings = SmtpSettings()


class Settings(_Strict):
    mode: Literal["embedded", "production"] = "embedded"
    sandbox: bool = False
    database_url: str = ""
    redis_url: str | None = Field(None, validate_default=True)  # checked against mode (below)
    secret_key: SecretStr | None = None
    public_url: str = ""  # unset: http://localhost:<port>, so callbacks follow PORT
    port: int = Field(8000, ge=1, le=65535)
    var_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    env: dict[str, str] = {}
    shopify: ShopifySettings = ShopifySettings()
    easypost: EasyPostSettings = EasyPostSettings()
    webhooks: WebhookSettings = WebhookSettings()
    console: ConsoleSettings = ConsoleSettings()
    database: DatabaseSettings = DatabaseSettings()
    queue: QueueSettings = QueueSettings()
    schedules: dict[str, Schedule] = {}  # job name -> when and where it runs (sync/schedule.py)
    inbox: InboxSettings = InboxSettings()
    effects: EffectsSettings = EffectsSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    inventory: InventorySettings = InventorySettings()
    risk: RiskSettings = RiskSettings()
    shipping: ShippingSettings = ShippingSettings()
    tracking: TrackingSettings = TrackingSettings()
    returns: ReturnsSettings = ReturnsSettings()
    notifier: NotifierSettings = NotifierSettings()
    testing: bool = False

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        # WAYBILL_LOG_LEVEL=debug works as well as DEBUG; WARN is WARNING.
        if isinstance(value, str):
            value = value.strip().upper()
            return "WARNING" if value == "WARN" else value
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        if not value and info.data.get("mode") == "production":
            raise ValueError("production mode needs REDIS_URL (redis_url)")
        return value or None

    @field_validator("schedules")
    @classmethod
    def _schedules(cls, value: dict[str, Schedule], info: ValidationInfo) -> dict[str, Schedule]:
        queue = info.data.get("queue")
        names = queue.names if isinstance(queue, QueueSettings) else []
        for name, schedule in value.items():
            if schedule.queue is not None and schedule.queue not in names:
                raise ValueError(f"{name}: queue {schedule.queue!r} is not one of queue.names {names}")
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.var_dir.is_absolute():
            self.var_dir = ROOT / self.var_dir
        if self.notifier.file_dir is None:
            self.notifier.file_dir = self.var_dir / "outbox"
        elif not self.notifier.file_dir.is_absolute():
            self.notifier.file_dir = ROOT / self.notifier.file_dir
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'waybill.db'}"
        if not self.public_url:
            self.public_url = f"http://localhost:{self.port}"
        return self

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"


def _safe_load(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's loader where PyYAML was built with it: the same
    documents for a tenth of the CPU (every process start and CLI command reads config.yaml)."""
    if getattr(yaml, "__with_libyaml__", False):
        return yaml.load(text, Loader=yaml.CSafeLoader)
    return yaml.safe_load(text)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = _safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise SettingsError(f"WAYBILL_CONFIG: file not found: {path}") from exc
    except yaml.YAMLError as exc:
        # The problem and where, never the file's text: a site file may hold values best not echoed.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not parseable"
        raise SettingsError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: must be a mapping of settings")
    return data


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _drop_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """``null`` in YAML means "use the default"."""
    return {k: _drop_nulls(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


_SECRET_WORDS = ("secret", "key", "token", "password", "credential")


def shown_value(key: str, value: Any) -> str | None:
    """What an error may echo of a setting's value, or ``None`` when nothing.

    Secret settings show nothing; URLs lose their user and password; only short scalars are
    shown (never a mapping, which could hold anything)."""
    leaf = key.rsplit(".", 1)[-1].lower()
    if not key or any(word in leaf for word in _SECRET_WORDS):
        return None
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if not isinstance(value, str) or len(value) > 200:
        return None
    if leaf.endswith("url"):  # connection strings carry passwords; show only a parsed URL, masked
        return _without_credentials(value) if "://" in value else None
    if "@" in value:
        return None
    return repr(value)


def _without_credentials(url: str) -> str | None:
    """``url`` with any user, password and query (``?password=``) blanked out."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None  # too malformed to tell where a password would be
    if "@" not in parts.netloc and "@" in url:
        return None  # a password may be in there, in a form not parsed as a URL
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return repr(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + host + (f":{port}" if port else ""))
    if parts.query or parts.fragment:
        parts = parts._replace(query="***", fragment="")
    return repr(urlunsplit(parts))


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        shown = shown_value(key, item.get("input"))
        got = f" (got {shown})" if shown is not None else ""
        lines.append(f"setting {key or 'settings'!r}: {item['msg']}{got}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from the config files, the environment and ``overrides``."""
    environ = os.environ if environ is None else environ
    data = _read_yaml(DEFAULT_CONFIG)
    if environ.get("WAYBILL_CONFIG"):
        data = _merge(data, _read_yaml(Path(environ["WAYBILL_CONFIG"])))
    env_names: dict[str, str] = data.get("env") or {}
    for dotted, var in env_names.items():
        if environ.get(var, "") != "":
            _set_dotted(data, dotted, environ[var])
    if overrides:
        data = _merge(data, overrides)
    if not data.get("mode"):
        data["mode"] = "production" if data.get("redis_url") else "embedded"
    try:
        return Settings.model_validate(_drop_nulls(data))
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
