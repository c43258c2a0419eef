"""The simulator's data: one :class:`ShopData` per shop, plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEFAULT_VARIANT_TITLE = "Default Title"


@dataclass
class Location:
    id: int
    name: str
    address: dict[str, str | None]
    active: bool = True
    fulfills_online_orders: bool = True


@dataclass
class Product:
    id: int
    title: str
    handle: str
    created_at: float
    updated_at: float
    vendor: str = "Waybill Demo"
    product_type: str = ""
    status: str = "ACTIVE"
    variant_ids: list[int] = field(default_factory=list)


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    title: str
    price: Decimal
    inventory_item_id: int
    position: int
    created_at: float
    updated_at: float
    grams: int = 0


@dataclass
class InventoryItem:
    id: int
    variant_id: int
    sku: str
    tracked: bool = True
    # The variant's weight as the merchant entered it (``measurement.weight``); 0: not weighed.
    weight_value: Decimal = Decimal(0)
    weight_unit: str = "GRAMS"


@dataclass
class Level:
    item_id: int
    location_id: int
    available: int
    on_hand: int
    updated_at: float


@dataclass
class LineItem:
    id: int
    title: str
    sku: str
    quantity: int
    price: Decimal
    variant_id: int | None = None
    product_id: int | None = None
    variant_title: str | None = None
    grams: int = 0
    requires_shipping: bool = True
    refunded: int = 0

    @property
    def variant_label(self) -> str | None:
        """The variant's title as line items show it: None for a product's default variant."""
        return None if self.variant_title in (None, "", DEFAULT_VARIANT_TITLE) else self.variant_title

    @property
    def name(self) -> str:
        """Shopify's line name (REST ``name``, GraphQL ``name``): ``Product - Variant``, or the product."""
        return f"{self.title} - {self.variant_label}" if self.variant_label else self.title


@dataclass
class Order:
    id: int
    number: int
    email: str
    created_at: float
    updated_at: float
    currency: str
    line_items: list[LineItem]
    shipping_address: dict[str, str | None]
    shipping_price: Decimal = Decimal("0.00")
    shipping_method: str = "Standard"
    financial_status: str = "PAID"
    cancelled_at: float | None = None
    cancel_reason: str | None = None
    closed: bool = False
    test: bool = False
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)
    refund_ids: list[int] = field(default_factory=list)
    return_ids: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def customer_id(self) -> int:
        """The buyer's customer record (one per order in the sandbox)."""
        return self.id + 2

    @property
    def subtotal(self) -> Decimal:
        return sum((li.price * li.quantity for li in self.line_items), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping_price


@dataclass
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total: int
    remaining: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    lines: list[FulfillmentOrderLine]
    status: str = "OPEN"
    request_status: str = "UNSUBMITTED"


@dataclass
class FulfillmentLine:
    id: int
    line_item_id: int
    quantity: int


@dataclass
class Fulfillment:
    id: int
    order_id: int
    created_at: float
    updated_at: float
    lines: list[FulfillmentLine]
    tracking: list[dict[str, str | None]]
    notify_customer: bool = False
    status: str = "SUCCESS"
    events: list[dict[str, Any]] = field(default_factory=list)
    event_calls: int = 0  # fulfillmentEventCreate calls that named this fulfilment (accepted or not)


@dataclass
class ReturnLine:
    id: int
    fulfillment_line_id: int
    quantity: int
    processed: int = 0
    reason: str = "UNKNOWN"  # ReturnReason enum value
    reason_note: str = ""
    customer_note: str | None = None


@dataclass
class Return:
    id: int
    order_id: int
    name: str
    created_at: float
    lines: list[ReturnLine]
    status: str = "REQUESTED"
    decline: dict[str, str | None] | None = None
    closed_at: float | None = None
    approved_at: float | None = None


@dataclass
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    restock_type: str
    location_id: int | None = None


@dataclass
class Refund:
    id: int
    order_id: int
    created_at: float
    note: str | None
    lines: list[RefundLine]
    amount: Decimal
    shipping: Decimal = Decimal("0.00")
    return_id: int | None = None


@dataclass
class RiskAssessment:
    order_id: int
    risk_level: str
    facts: list[dict[str, str]]
    created_at: float


@dataclass
class AdjustmentGroup:
    id: int
    created_at: float
    reason: str
    reference_document_uri: str | None
    changes: list[dict[str, Any]]


@dataclass
class Subscription:
    id: int
    topic: str
    uri: str
    format: str
    created_at: float
    updated_at: float
    include_fields: list[str] | None = None


@dataclass
class ShopData:
    """Everything one shop holds, plus what the app did to it (for assertions)."""

    id: int
    domain: str
    name: str
    email: str
    token: str
    plan: str
    currency: str = "USD"
    timezone: str = "America/New_York"
    locations: dict[int, Location] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    variants: dict[int, Variant] = field(default_factory=dict)
    items: dict[int, InventoryItem] = field(default_factory=dict)
    levels: dict[tuple[int, int], Level] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    fulfillment_orders: dict[int, FulfillmentOrder] = field(default_factory=dict)
    fulfillments: dict[int, Fulfillment] = field(default_factory=dict)
    returns: dict[int, Return] = field(default_factory=dict)
    refunds: dict[int, Refund] = field(default_factory=dict)
    risk_assessments: list[RiskAssessment] = field(default_factory=list)
    adjustment_groups: dict[int, AdjustmentGroup] = field(default_factory=dict)
    inventory_writes: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    removed_subscriptions: list[Subscription] = field(default_factory=list)
    # idempotency key -> (mutation name, variables fingerprint, payload)
    idempotency: dict[str, tuple[str, str, Any]] = field(default_factory=dict)
    scopes: str = ""
    order_number: int = 1000

    def variant_by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants.values() if v.sku == sku), None)

    def fulfillment_line(self, line_id: int) -> tuple[Fulfillment, FulfillmentLine] | None:
        for fulfillment in self.fulfillments.values():
            for line in fulfillment.lines:
                if line.id == line_id:
                    return fulfillment, line
        return None
