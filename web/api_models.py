"""The JSON API's request and response models: the OpenAPI document at /api/v1/openapi.json is
generated from them (``web.api_doc``), and every request body and query is parsed through them
before a view runs.

Request models refuse what the view refused before they existed, with the same message: a
field's failure answers ``messages[field]`` (or a validator's own words), a body that is not
an object answers ``expected a JSON object: <shape>``. A value whose rules belong to a domain
function (a stock delta, a return's items, a note's length) is described here and checked
there, so the console, the CLI and the API refuse it alike.

Response models describe what the views answer, field for field: money and other exact
amounts are decimal strings, our ids whole numbers, platform ids strings, times UTC ISO 8601
strings. They are not re-validated at run time; the API tests and the schemathesis run hold
the answers to them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.lifecycle import NAMES
from core.returns import Condition, ReturnState
from sync import pipeline
from sync.tracking import desk as tracking_desk

MAX_ID = 2**31 - 1  # INTEGER ids (web/edge.py)
MAX_BIG_ID = 2**63 - 1  # BIGINT ids: orders
MAX_ACTOR_INPUT = 64  # characters of a body's actor
MAX_SCANS = 1000  # codes in one pack scan

# --- shared pieces ------------------------------------------------------------------------

Id = Annotated[int, Field(description="a Waybill id")]
Time = Annotated[datetime, Field(description="UTC, ISO 8601")]
DecimalText = Annotated[
    Decimal,
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "description": "an exact decimal"}),
]
Platform = Literal["shopify", "woocommerce"]
StageName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(NAMES)})]
ReturnStateName = Annotated[str, WithJsonSchema({"type": "string", "enum": [s.value for s in ReturnState]})]
ConditionName = Literal["resellable", "damaged", "wrong_item", "missing"]
assert {c.value for c in Condition} == set(ConditionName.__args__)  # type: ignore[attr-defined]
KindName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(tracking_desk.KINDS)})]
ExceptionStateName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(tracking_desk.STATES)})]
RouteClass = Literal["local", "domestic", "international"]
JsonObject = dict[str, Any]


def _schema(extra: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema(extra)


def refused(message: str) -> PydanticCustomError:
    """A validator's refusal, answered word for word."""
    return PydanticCustomError("refused", message)


# --- requests -----------------------------------------------------------------------------


class Checked(BaseModel):
    """A request part parsed before the view: the refusal says which field and how."""

    model_config = ConfigDict(extra="ignore")

    shape: ClassVar[str] = ""  # "expected a JSON object: <shape>" when the body is not one
    empty_is_object: ClassVar[bool] = False  # an empty body reads as {} (else: not an object)
    messages: ClassVar[dict[str, str]] = {}  # field -> what a wrong value answers

    @classmethod
    def refusal(cls, exc: ValidationError) -> str:
        first = exc.errors()[0]
        if first["type"] == "refused":
            return str(first["msg"])
        loc = first["loc"]
        if not loc:
            return f"expected a JSON object: {cls.shape}"
        field = str(loc[0])
        return cls.messages.get(field, f"{field}: {str(first['msg']).lower()}")


class ReviewRequest(Checked):
    """Approve or reject a held order."""

    shape: ClassVar[str] = "{reviewer, reason}"
    messages: ClassVar[dict[str, str]] = {
        "reviewer": "reviewer is required (text)",
        "reason": "reason is required (text)",
    }
    reviewer: StrictStr = Field(min_length=1, description="who decided")
    reason: StrictStr = Field(min_length=1, max_length=pipeline.MAX_REASON, description="why")

    @field_validator("reviewer", "reason", mode="after")
    @classmethod
    def _words(cls, value: str, info: Any) -> str:
        if not value.strip():
            raise refused(cls.messages[info.field_name])
        if info.field_name == "reason" and len(value) > pipeline.MAX_REASON:
            raise refused(f"reason is longer than {pipeline.MAX_REASON} characters")
        return value

    @classmethod
    def refusal(cls, exc: ValidationError) -> str:
        first = exc.errors()[0]
        if first["type"] == "string_too_long":
            return f"reason is longer than {pipeline.MAX_REASON} characters"
        return super().refusal(exc)


class TrustRequest(Checked):
    """Trust a customer: their orders are never held by the risk rules."""

    shape: ClassVar[str] = "{email, note}"
    messages: ClassVar[dict[str, str]] = {"email": "email is required (text)", "note": "note must be text"}
    email: StrictStr = Field(json_schema_extra={"format": "email"})
    note: StrictStr | None = None


class EmailQuery(Checked):
    email: Annotated[str | None, _schema({"type": "string", "description": "or in the JSON body"})] = None


class OrdersQuery(Checked):
    stage: Annotated[
        str | None, _schema({"type": "string", "enum": list(NAMES), "description": "one stage only"})
    ] = None
    limit: Annotated[
        str | None,
        _schema(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 500,
                "description": "1 to 500 (default 100); values outside are clamped",
            }
        ),
    ] = None


class SkuMovementsQuery(Checked):
    limit: Annotated[
        str | None,
        _schema(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 500,
                "description": "latest movements, 1 to 500 (default 50); values outside are clamped",
            }
        ),
    ] = None


class IdempotencyHeader(Checked):
    idempotency_key: Annotated[
        str | None,
        _schema(
            {
                "type": "string",
                "maxLength": 100,
                "description": "a retried request with the same key changes nothing (answers 200)",
            }
        ),
    ] = Field(default=None, alias="Idempotency-Key")


class AdjustmentRequest(Checked):
    """Move on hand by a delta; ``sync.stock_admin.adjust`` checks the numbers."""

    shape: ClassVar[str] = "{delta, note}"
    messages: ClassVar[dict[str, str]] = {"note": "note must be text"}
    model_config = ConfigDict(json_schema_extra={"required": ["delta", "note"]})
    delta: Annotated[Any, _schema({"type": "integer", "not": {"const": 0}, "description": "units, +/-"})] = (
        None
    )
    note: Annotated[StrictStr | None, _schema({"type": "string", "minLength": 1, "description": "why"})] = (
        None
    )


class CountRequest(Checked):
    """Set on hand to a counted quantity; ``sync.stock_admin.count`` checks the number."""

    shape: ClassVar[str] = "{on_hand, note}"
    messages: ClassVar[dict[str, str]] = {"on_hand": "on_hand is required", "note": "note must be text"}
    on_hand: Annotated[Any, _schema({"type": "integer", "minimum": 0, "description": "units counted"})]
    note: Annotated[StrictStr | None, _schema({"type": "string"})] = None


class PackRequest(Checked):
    shape: ClassVar[str] = "{scanned: [codes], actor}"
    messages: ClassVar[dict[str, str]] = {
        "scanned": "scanned must be a list of SKUs or barcodes (text)",
        "actor": "actor is required: who packed the parcel (text)",
    }
    scanned: list[StrictStr] = Field(description="SKUs or barcodes scanned")
    actor: StrictStr = Field(min_length=1, description="who packed the parcel")

    @field_validator("scanned", mode="after")
    @classmethod
    def _bounded(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_SCANS:
            raise refused(f"at most {MAX_SCANS} codes in one scan")
        return value

    @field_validator("actor", mode="after")
    @classmethod
    def _someone(cls, value: str) -> str:
        if not value.strip():
            raise refused(cls.messages["actor"])
        return value


class PickListQuery(Checked):
    order: Annotated[
        list[str] | None,
        _schema(
            {
                "type": "array",
                "items": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIG_ID},
                "description": "an order id; repeat for several (default: every ready_to_ship order)",
                "style": "form",
                "explode": True,
            }
        ),
    ] = None


Actor = Annotated[
    StrictStr | None,
    Field(max_length=MAX_ACTOR_INPUT),
    _schema(
        {"type": "string", "maxLength": MAX_ACTOR_INPUT, "description": "who (default: the account's name)"}
    ),
]
ACTOR_MESSAGE = f"actor must be text of at most {MAX_ACTOR_INPUT} characters"


class ExceptionStep(Checked):
    """Acknowledge or resolve a delivery exception (a note is required to resolve)."""

    shape: ClassVar[str] = "{note, actor}"
    empty_is_object: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {"note": "note must be text", "actor": ACTOR_MESSAGE}
    note: Annotated[
        StrictStr | None,
        _schema(
            {"type": "string", "maxLength": tracking_desk.MAX_NOTE, "description": "required to resolve"}
        ),
    ] = None
    actor: Actor = None


class ExceptionsQuery(Checked):
    state: Annotated[
        str | None,
        _schema(
            {
                "type": "string",
                "enum": list(tracking_desk.FILTERS),
                "description": "unfinished (default: open or acknowledged), all, or one state",
            }
        ),
    ] = None
    kind: Annotated[str | None, _schema({"type": "string", "enum": list(tracking_desk.KINDS)})] = None
    limit: Annotated[
        str | None,
        _schema(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 500,
                "description": "1 to 500 (default 50); values outside are clamped",
            }
        ),
    ] = None
    after: Annotated[
        str | None,
        _schema(
            {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_BIG_ID,
                "description": "the previous page's next_after: exceptions with a larger id",
            }
        ),
    ] = None


class PerformanceQuery(Checked):
    carrier: Annotated[str | None, _schema({"type": "string", "maxLength": 32})] = None
    route_class: Annotated[
        str | None, _schema({"type": "string", "enum": ["local", "domestic", "international"]})
    ] = None


class ReturnsQuery(Checked):
    state: Annotated[str | None, _schema({"type": "string", "enum": [s.value for s in ReturnState]})] = None
    held: Annotated[
        str | None,
        _schema(
            {
                "type": "string",
                "enum": ["true", "false"],
                "description": "true: only returns held for a person's review; false: only the others",
            }
        ),
    ] = None
    limit: Annotated[
        str | None,
        _schema(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 500,
                "description": "1 to 500 (default 100); values outside are clamped",
            }
        ),
    ] = None


class ReturnAsk(BaseModel):
    """One line of a return request (``sync.returns.requests`` checks each value)."""

    line_id: str = Field(max_length=40, description="the order line's id")
    quantity: int = Field(ge=1, le=10000)
    reason: str = Field(max_length=32, description="one of returns.reasons")
    note: str | None = Field(default=None, max_length=1000)
    photo_url: str | None = Field(default=None, max_length=2000)
    exchange_sku: str | None = Field(default=None, max_length=128)
    exchange_price: str | None = Field(default=None, description="a decimal amount")


def _ask_schema() -> dict[str, Any]:
    schema = ReturnAsk.model_json_schema()
    for prop in schema["properties"].values():  # optional text: a string when given
        for option in prop.pop("anyOf", []):
            if option.get("type") != "null":
                prop.update(option)
        prop.pop("default", None)
    return schema


class ReturnRequest(Checked):
    """Ask for a return on a customer's behalf."""

    shape: ClassVar[str] = (
        "{order_id, items: [{line_id, quantity, reason, note, exchange_sku}], resolution, actor}"
    )
    empty_is_object: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {
        "order_id": "order_id must be the id of one of your orders",
        "actor": ACTOR_MESSAGE,
        "items": "items must be a list of {line_id, quantity, reason} objects",
        "resolution": "resolution must be refund or exchange",
    }
    order_id: StrictInt = Field(gt=0, le=MAX_BIG_ID, json_schema_extra={"format": "int64", "minimum": 1})
    actor: Actor = None
    items: Annotated[
        list[dict[str, Any]],
        Field(min_length=1),
        _schema({"type": "array", "minItems": 1, "maxItems": 100, "items": _ask_schema()}),
    ]
    resolution: Annotated[StrictStr, _schema({"type": "string", "enum": ["refund", "exchange"]})] = "refund"


class ReturnNote(Checked):
    """Approve a refused return anyway (the note is required)."""

    shape: ClassVar[str] = "{note, actor}"
    empty_is_object: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {"note": "note must be text", "actor": ACTOR_MESSAGE}
    model_config = ConfigDict(json_schema_extra={"required": ["note"]})
    actor: Actor = None
    note: Annotated[StrictStr | None, _schema({"type": "string", "minLength": 1, "maxLength": 1000})] = None


class ReturnReason(Checked):
    """Approve, reject or close a return (the reason is required)."""

    shape: ClassVar[str] = "{reason, actor}"
    empty_is_object: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {"reason": "reason must be text", "actor": ACTOR_MESSAGE}
    model_config = ConfigDict(json_schema_extra={"required": ["reason"]})
    actor: Actor = None
    reason: Annotated[StrictStr | None, _schema({"type": "string", "minLength": 1, "maxLength": 1000})] = None


class ReturnReceive(Checked):
    """The parcel received and inspected: a condition for each item id, the weight if weighed."""

    shape: ClassVar[str] = "{conditions: {item id: condition}, weight_oz, actor}"
    empty_is_object: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {
        "conditions": "conditions must map each item id to resellable, damaged, wrong_item or missing",
        "weight_oz": "weight_oz must be a number of ounces",
        "actor": ACTOR_MESSAGE,
    }
    conditions: Annotated[
        dict[str, StrictStr],
        _schema(
            {
                "type": "object",
                "description": "item id -> its condition",
                "additionalProperties": {"type": "string", "enum": [c.value for c in Condition]},
            }
        ),
    ]
    weight_oz: Annotated[
        StrictInt | float | StrictStr | None,
        _schema({"type": ["number", "string"], "description": "the parcel's weight on arrival"}),
    ] = None
    actor: Actor = None

    @field_validator("weight_oz", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool) or (value is not None and not isinstance(value, int | float | str)):
            raise refused(cls.messages["weight_oz"])
        return value


# --- responses ----------------------------------------------------------------------------


class Error(BaseModel):
    """Every refusal and failure: what went wrong, in words."""

    error: str


class Document(BaseModel):
    """This OpenAPI document."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    paths: JsonObject


class Account(BaseModel):
    id: Id
    name: str


class Store(BaseModel):
    id: Id
    platform: Platform
    domain: str
    state: Literal["installing", "active", "uninstalled"]
    scopes: str | None
    installed_at: Time | None


class StoreList(BaseModel):
    stores: list[Store]


class TimelineEntry(BaseModel):
    at: Time
    actor: str
    action: str
    reason: str | None
    data: JsonObject


class Timeline(BaseModel):
    entries: list[TimelineEntry]


class DataExportSummary(BaseModel):
    id: Id
    store_id: Id
    request_id: str
    created_at: Time


class DataExportList(BaseModel):
    exports: list[DataExportSummary]


class DataExport(BaseModel):
    id: Id
    store_id: Id
    request_id: str
    data: JsonObject = Field(description="the customer's orders and their timelines")


class ApiToken(BaseModel):
    id: Id
    prefix: str
    created_at: Time
    last_used_at: Time | None
    revoked_at: Time | None


class ApiTokenList(BaseModel):
    tokens: list[ApiToken]


class Money(BaseModel):
    amount: DecimalText
    currency: str


class OrderLine(BaseModel):
    """One order in a list: where it stands and why."""

    id: Annotated[int, Field(description="a Waybill id (64 bits)")]
    store_id: Id
    platform: Platform
    platform_order_id: str = Field(description="the platform's exact id")
    number: str
    stage: StageName
    hold_reason: str | None = Field(description="why it must not ship yet")
    financial_status: str
    fulfillment_status: str
    total: Money | None
    score: int | None = Field(description="the risk score, once verified")
    updated_at: Time


class OrderList(BaseModel):
    orders: list[OrderLine]


class RiskFact(BaseModel):
    rule: str
    weight: int
    detail: str


class RiskVerdict(BaseModel):
    score: int
    decision: Literal["approve", "hold", "reject"]
    facts: list[RiskFact]
    reason: str


class Review(BaseModel):
    reviewer: str
    decision: Literal["approve", "reject"]
    reason: str
    at: Time


class Shipment(BaseModel):
    """A parcel: its box, every rate considered and the one chosen, its label."""

    id: Id
    package: int
    state: str
    parcel: JsonObject
    easypost_id: str | None
    rates_considered: list[JsonObject] = Field(description="a rate, whether it was eligible, and why")
    rate_chosen: JsonObject | None
    rate_reason: str | None
    label: JsonObject | None
    tracking_code: str | None
    fulfillment_ref: str | None
    problem: str | None


class OrderDetail(OrderLine):
    """The order as held, its risk verdict with the facts, review, parcels and timeline."""

    risk: RiskVerdict | None
    review: Review | None
    shipments: list[Shipment]
    order: JsonObject = Field(description="the canonical order (money as decimal strings)")
    timeline: list[TimelineEntry]


class TrustedCustomer(BaseModel):
    email: str
    trusted: bool


class TrustedCustomerRow(BaseModel):
    email: str
    note: str | None
    created_at: Time


class TrustedCustomerList(BaseModel):
    customers: list[TrustedCustomerRow]


class Channel(BaseModel):
    store_id: Id
    platform: Platform
    domain: str
    tracked: bool
    published: int | None = Field(
        description="max(0, available - the channel's buffer); null when not tracked"
    )
    channel_qty: int | None = Field(description="what the channel shows")
    channel_qty_at: Time | None


class InventoryItem(BaseModel):
    sku: str
    location: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved; negative when oversold")
    low_stock: bool
    low_stock_since: Time | None
    threshold: int | None = Field(description="the SKU's own low-stock threshold")
    channels: list[Channel]


class InventoryList(BaseModel):
    location: str
    items: list[InventoryItem]


class Movement(BaseModel):
    reason: str
    source: str
    on_hand_delta: int
    reserved_delta: int
    on_hand_after: int
    reserved_after: int
    available_after: int
    at: Time
    order_id: int | None
    store_id: int | None
    note: str | None


class Forecast(BaseModel):
    sku: str
    velocity: float = Field(description="units/day, exponentially weighted")
    sigma: float = Field(description="standard deviation of daily sales")
    days_of_cover: float | None = Field(description="null when nothing sells")
    safety_stock: float
    reorder_point: int
    reorder_now: bool


class ForecastList(BaseModel):
    forecasts: list[Forecast]


class InventoryDetail(InventoryItem):
    movements: list[Movement] = Field(description="newest first")
    forecast: Forecast | None


class StockLevel(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    on_hand_delta: int
    applied: bool = Field(description="false when this Idempotency-Key was already applied")


class PickOrder(BaseModel):
    id: int
    number: str


class PickLine(BaseModel):
    bin: str | None
    sku: str
    title: str
    quantity: int
    orders: list[PickOrder]


class PickList(BaseModel):
    lines: list[PickLine]
    orders: list[int]
    units: int


class PackResult(BaseModel):
    order_id: int
    ok: bool
    message: str
    missing: dict[str, int] = Field(description="SKU: units")
    extra: dict[str, int] = Field(description="SKU: units")
    unknown: list[str]
    stage: StageName
    error: str | None = Field(default=None, description="present when the contents do not match")


class DeliveryException(BaseModel):
    id: Id
    shipment_id: Id
    order_id: int
    order_number: str | None
    kind: KindName
    state: ExceptionStateName
    reason: str
    action: str = Field(description="what to do about it")
    data: JsonObject
    opened_at: Time
    acknowledged_at: Time | None
    resolved_at: Time | None
    cleared_at: Time | None
    note: str | None
    actor: str | None


class DeliveryExceptionPage(BaseModel):
    exceptions: list[DeliveryException]
    next_after: int | None = Field(description="?after= for the next page")


class Scan(BaseModel):
    happened_at: Time
    status: str
    status_detail: str | None
    message: str | None
    place: str | None


class OpenException(BaseModel):
    id: Id
    kind: str
    state: str
    reason: str
    action: str
    opened_at: Time


class ParcelItem(BaseModel):
    title: str
    quantity: int


class ShipmentTracking(BaseModel):
    shipment_id: Id
    order_id: int
    order_number: str
    package: int
    tracking_code: str | None
    carrier: str | None
    service: str | None
    route_class: str | None
    state: str | None = Field(description="the delivery state; null before the first word")
    state_words: str
    est_delivery_at: Time | None
    shipped_at: Time | None
    delivered_at: Time | None
    last_scan_at: Time | None
    scans: list[Scan] = Field(description="newest first")
    exceptions: list[OpenException] = Field(description="open or acknowledged")
    items: list[ParcelItem]
    destination_city: str | None


TransitDays = Annotated[
    str | None,
    _schema(
        {"type": ["string", "null"], "pattern": "^[0-9]+(\\.[0-9]+)?$", "description": "a decimal, exact"}
    ),
]


class CarrierRow(BaseModel):
    carrier: str
    service: str
    route_class: RouteClass
    shipments: int = Field(description="delivered parcels")
    estimated: int = Field(description="of them, with an estimate")
    on_time: int
    on_time_rate: Annotated[
        str | None,
        _schema(
            {
                "type": ["string", "null"],
                "description": "on_time / estimated (0..1, 4 places); null without estimates",
            }
        ),
    ]
    transit_days_p50: TransitDays
    transit_days_p90: TransitDays


class CarrierPerformance(BaseModel):
    performance: list[CarrierRow]


TextOrNull = str | None
ObjectOrNull = JsonObject | None


class Return(BaseModel):
    id: Id
    order_id: int
    store_id: Id
    state: ReturnStateName
    resolution: Literal["refund", "exchange"]
    source: Literal["portal", "storefront", "merchant"]
    platform_return_id: TextOrNull
    decision: JsonObject = Field(description="the policy's decision: accepted, refusals [{rule, reason}]")
    override: ObjectOrNull
    hold_reason: TextOrNull
    evidence: ObjectOrNull
    review: ObjectOrNull
    label: ObjectOrNull = Field(description="the return label once bought (label_url, tracking_code...)")
    tracking_code: TextOrNull
    carrier: TextOrNull
    delivery_state: TextOrNull
    refund: ObjectOrNull = Field(description="amounts as decimal strings")
    refund_ref: TextOrNull
    exchange_shipment_id: int | None
    problem: TextOrNull
    requested_at: Time | None
    label_sent_at: Time | None
    received_at: Time | None
    inspected_at: Time | None
    refunded_at: Time | None
    closed_at: Time | None


class ReturnList(BaseModel):
    returns: list[Return]


class ReturnItem(BaseModel):
    id: Id
    line_id: str
    sku: TextOrNull
    title: str
    quantity: int
    unit_price: DecimalText
    currency: str
    reason: str
    note: TextOrNull
    exchange_sku: TextOrNull
    exchange_price: Annotated[
        Decimal | None,
        PlainSerializer(lambda d: None if d is None else str(d), return_type=str | None),
        _schema({"type": ["string", "null"], "format": "decimal"}),
    ]
    condition: ConditionName | None


class ReturnTimelineEntry(BaseModel):
    at: Time
    actor: str
    action: str
    reason: TextOrNull


class ReturnDetail(Return):
    items: list[ReturnItem]
    timeline: list[ReturnTimelineEntry]
