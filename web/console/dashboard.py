"""Console area: the dashboard at ``/``.

What a merchant looks at first: orders by stage, what needs a person now, today's
shipped parcels, and charts over a bounded window (server-rendered SVG, no chart library;
each chart has a text alternative with its figures and a data table). Every figure is
one aggregate query over indexed columns of the signed-in account and a bounded window:
nothing loads the account's orders into Python. Days are UTC days.

A packer sees the shipping work only (ready to ship, packed, shipped today).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import current_app, g, request
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from core.lifecycle import NAMES, Stage
from db.models import (
    DeadLetter,
    DeliveryException,
    Effect,
    Order,
    Return,
    Role,
    Shipment,
    StockDirty,
    Store,
    StoreState,
)
from db.users import may
from sync.stock_calls import EFFECT_KIND as STOCK_PUSH
from web import runtime
from web.console import bp, page, render
from web.console.orders import HOLD_KINDS, REVIEW_KINDS

WINDOWS = (14, 30)  # days a chart may cover
MAX_STORES = 50  # stores listed on the dashboard
ON_TIME_DAYS = 30  # deliveries judged for the on-time rates
MAX_DURATIONS = 20_000  # rows read per chart where the database has no median (SQLite)
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 180, 44, 22, 10


def _today() -> date:
    return datetime.now(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _is_pg(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _day(s: Session, column: Any) -> ColumnElement[str]:
    """The UTC day of a timestamp as YYYY-MM-DD."""
    if _is_pg(s):
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _seconds(s: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    if _is_pg(s):
        return func.extract("epoch", later - earlier)  # type: ignore[return-value]
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _medians(
    s: Session, day: ColumnElement[str], seconds: ColumnElement[float], where: list[Any]
) -> dict[str, float]:
    """Median of ``seconds`` per day: PostgreSQL's percentile_cont; SQLite has none, so its
    (bounded) rows are read and the median taken here."""
    if _is_pg(s):
        median = func.percentile_cont(0.5).within_group(seconds)
        rows = s.execute(select(day, median).where(*where).group_by(day))
        return {str(d): float(m) for d, m in rows if m is not None}
    found: dict[str, list[float]] = defaultdict(list)
    for d, value in s.execute(select(day, seconds).where(*where).limit(MAX_DURATIONS)):
        if value is not None:
            found[str(d)].append(float(value))
    return {d: statistics.median(values) for d, values in found.items()}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A bar chart as SVG geometry, with its figures for the text alternative and table."""

    key: str
    title: str
    unit: str
    bars: list[Bar]
    top: float
    summary: str
    width: int = CHART_W
    height: int = CHART_H

    @property
    def rows(self) -> list[tuple[str, str]]:
        return [(b.label, b.text) for b in self.bars]

    @property
    def ticks(self) -> list[tuple[float, str]]:
        plot = self.height - PAD_B - PAD_T
        return [(PAD_T + plot * (1 - f), _fmt(self.top * f)) for f in (0, 0.5, 1)]


def _fmt(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def bar_chart(
    key: str, title: str, unit: str, series: Sequence[tuple[str, float | None]], summary: str
) -> Chart:
    """Bars for ``series`` (label, value or None for no data)."""
    top = max([v for _, v in series if v is not None] + [0.0])
    top = top or 1.0
    plot_w = CHART_W - PAD_L - 8
    plot_h = CHART_H - PAD_B - PAD_T
    step = plot_w / max(1, len(series))
    bars = []
    for i, (label, value) in enumerate(series):
        v = value or 0.0
        h = plot_h * v / top
        text = "no data" if value is None else f"{_fmt(v)} {unit}".strip()
        bars.append(Bar(PAD_L + i * step + step * 0.15, PAD_T + plot_h - h, step * 0.7, h, label, v, text))
    return Chart(key, title, unit, bars, top, summary)


def _days(window: int) -> list[str]:
    today = _today()
    return [(today - timedelta(days=window - 1 - i)).isoformat() for i in range(window)]


def _counts_per_day(s: Session, column: Any, where: list[Any], window: int) -> dict[str, int]:
    day = _day(s, column)
    rows = s.execute(
        select(day, func.count())
        .where(*where, column >= _midnight(_today() - timedelta(days=window - 1)))
        .group_by(day)
    )
    return {str(d): int(n) for d, n in rows}


def _summary(title: str, series: Sequence[tuple[str, float | None]], unit: str, as_count: bool) -> str:
    """The chart's figures in words (its text alternative)."""
    known = [(d, v) for d, v in series if v is not None and (v or not as_count)]
    if not known:
        return f"{title}: nothing in the last {len(series)} days."
    peak = max(known, key=lambda dv: dv[1])
    highest = f"highest {_fmt(peak[1])} {unit} on {peak[0]}"
    if as_count:
        total = sum(v for _, v in known)
        return f"{title}: {_fmt(total)} {unit} in the last {len(series)} days, {highest}."
    low = min(known, key=lambda dv: dv[1])
    return f"{title}: {len(known)} days with data, {highest}, lowest {_fmt(low[1])} {unit} on {low[0]}."


def stage_counts(s: Session, account_id: int) -> dict[str, int]:
    rows = s.execute(
        select(Order.stage, func.count()).where(Order.account_id == account_id).group_by(Order.stage)
    )
    found = {str(stage): int(n) for stage, n in rows}
    return {name: found.get(name, 0) for name in NAMES}


def shipped_today(s: Session, account_id: int) -> int:
    return int(
        s.scalar(
            select(func.count()).where(
                Shipment.account_id == account_id, Shipment.shipped_at >= _midnight(_today())
            )
        )
        or 0
    )


def attention(s: Session, account_id: int) -> list[tuple[str, int, str]]:
    """What needs a person now: (what, how many, the endpoint that shows them)."""
    held = s.scalar(
        select(func.count()).where(
            Order.account_id == account_id,
            Order.stage == Stage.ON_HOLD,
            or_(*(Order.hold_reason.like(HOLD_KINDS[k][1]) for k in REVIEW_KINDS)),
        )
    )
    other_holds = s.scalar(
        select(func.count()).where(
            Order.account_id == account_id,
            Order.stage == Stage.ON_HOLD,
            ~or_(*(Order.hold_reason.like(HOLD_KINDS[k][1]) for k in REVIEW_KINDS)),
        )
    )
    exceptions = s.scalar(
        select(func.count()).where(
            DeliveryException.account_id == account_id, DeliveryException.state == "open"
        )
    )
    stores = select(Store.id).where(Store.account_id == account_id)
    mine = or_(
        DeadLetter.kwargs["account_id"].as_integer() == account_id,
        DeadLetter.kwargs["store_id"].as_integer().in_(stores),
        exists().where(
            Order.id == DeadLetter.kwargs["order_id"].as_integer(), Order.account_id == account_id
        ),
    )
    dead = s.scalar(select(func.count()).where(DeadLetter.state == "dead", mine))
    disconnected = s.scalar(
        select(func.count()).where(Store.account_id == account_id, Store.state != StoreState.active)
    )
    returns = s.scalar(
        select(func.count()).where(
            Return.account_id == account_id, Return.state.in_(("requested", "received"))
        )
    )
    return [
        ("Held for review", int(held or 0), "console.review"),
        ("Other holds (stock, shipping)", int(other_holds or 0), "console.orders"),
        ("Open delivery exceptions", int(exceptions or 0), "console.exceptions"),
        ("Failed jobs", int(dead or 0), "console.jobs"),
        ("Stores not connected", int(disconnected or 0), "console.stores"),
        ("Returns waiting (to decide or inspect)", int(returns or 0), "console.returns"),
    ]


def charts(s: Session, account_id: int, window: int) -> list[Chart]:
    days = _days(window)
    since = _midnight(_today() - timedelta(days=window - 1))
    orders = _counts_per_day(s, Order.created_at, [Order.account_id == account_id], window)
    shipped = _counts_per_day(s, Shipment.shipped_at, [Shipment.account_id == account_id], window)
    to_label = _medians(
        s,
        _day(s, Shipment.shipped_at),
        _seconds(s, Shipment.shipped_at, Order.created_at) / 3600.0,
        [
            Shipment.account_id == account_id,
            Shipment.shipped_at >= since,
            Shipment.package == 1,
            Order.id == Shipment.order_id,
        ],
    )
    push = _medians(
        s,
        _day(s, Effect.completed_at),
        _seconds(s, Effect.completed_at, Effect.created_at),
        [
            Effect.kind == STOCK_PUSH,
            Effect.account_id == account_id,
            Effect.created_at >= since,
            Effect.completed_at.is_not(None),
        ],
    )
    out = []
    for key, title, unit, values, as_count in (
        ("orders", "Orders received per day", "orders", orders, True),
        ("shipments", "Parcels shipped (labels bought) per day", "parcels", shipped, True),
        ("to-label", "Order to label, median hours per day", "h", to_label, False),
        ("stock-push", "Stock push to the channel's answer, median seconds per day", "s", push, False),
    ):
        series: list[tuple[str, float | None]] = [
            (d, float(values.get(d, 0)) if as_count else values.get(d)) for d in days
        ]
        out.append(bar_chart(key, title, unit, series, _summary(title, series, unit, as_count)))
    return out


def on_time(s: Session, account_id: int) -> list[dict[str, Any]]:
    """Per carrier, parcels delivered in the last ``ON_TIME_DAYS`` days and how many by the
    carrier's first estimate (as ``sync.tracking.performance`` judges them, without grace)."""
    since = _midnight(_today() - timedelta(days=ON_TIME_DAYS - 1))
    promise = func.coalesce(Shipment.promised_at, Shipment.est_delivery_at)
    rows = s.execute(
        select(
            Shipment.carrier,
            func.count(),
            func.count(promise),
            func.sum(case((and_(promise.is_not(None), Shipment.delivered_at <= promise), 1), else_=0)),
        )
        .where(
            Shipment.account_id == account_id,
            Shipment.delivered_at >= since,
            Shipment.carrier.is_not(None),
        )
        .group_by(Shipment.carrier)
        .order_by(Shipment.carrier)
    )
    out = []
    for carrier, delivered, estimated, in_time in rows:
        rate = None
        if estimated:
            rate = (Decimal(int(in_time or 0)) * 100 / int(estimated)).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP
            )
        out.append(
            {
                "carrier": carrier,
                "delivered": int(delivered),
                "estimated": int(estimated),
                "on_time": int(in_time or 0),
                "rate": rate,
            }
        )
    return out


def oldest_unpushed(s: Session, account_id: int) -> datetime | None:
    """When the oldest stock change still waiting for a channel was marked."""
    found: datetime | None = s.scalar(
        select(func.min(StockDirty.marked_at))
        .join(Store, Store.id == StockDirty.store_id)
        .where(Store.account_id == account_id, Store.state == StoreState.active)
    )
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


@bp.get("/")
@page(Role.packer)
def home() -> Any:
    raw = request.args.get("days", "")
    window = int(raw) if raw.isdigit() and int(raw) in WINDOWS else WINDOWS[0]
    full = may(g.role, Role.staff)
    with runtime().session() as s:
        stages = stage_counts(s, g.account_id)
        today = shipped_today(s, g.account_id)
        ctx: dict[str, Any] = {"stages": stages, "shipped_today": today, "full": full, "window": window}
        if full:
            waiting = oldest_unpushed(s, g.account_id)
            ctx.update(
                attention=attention(s, g.account_id),
                charts=charts(s, g.account_id, window),
                on_time=on_time(s, g.account_id),
                oldest_unpushed=waiting,
                unpushed_minutes=None
                if waiting is None
                else int((datetime.now(UTC) - waiting).total_seconds() // 60),
                windows=WINDOWS,
                stores=list(
                    s.execute(
                        select(Store.domain, Store.platform, Store.state)
                        .where(Store.account_id == g.account_id)
                        .order_by(Store.id)
                        .limit(MAX_STORES)
                    )
                ),
                url_endpoints=set(current_app.view_functions),
                on_time_days=ON_TIME_DAYS,
            )
    return render("dashboard.html", account=g.account_name, **ctx)
