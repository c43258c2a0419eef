"""Erasing a customer (or a whole store) from everything Waybill stored.

What redaction keeps: order number, platform ids, line items (SKU, quantity,
price), totals, statuses and dates, the risk rules that fired with their weights
and score, and every row's structure (stages, shipments, effects, timelines),
because the merchant's accounting, stock ledger and tax records need them and
they identify no one.

What it erases, everywhere Waybill copied it: the customer's e-mail, names,
addresses, phone, IP, notes and customer id in the stored order; the same words
in the order's risk facts (address-verification suggestions included), hold
reason and review; in the order's timeline entries (reason and data) and the
store's; in shipments (parcel, rates, label, problem), effects (result, error),
stock movements (note), inbox events (the raw bodies of the customer's events are
replaced, headers and errors scrubbed) and dead letters (arguments, error); the
customer's data exports and the merchant's trusted-customer entry for them.

Each stored row is erased on its own: one that cannot be read (a body that is
not JSON, nested past any parser's reach) is searched as bytes, and a row that
still fails is counted on the store's timeline and logged by table and id, while
the rest is erased.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors.storefront import reader_for
from db.models import (
    DataExport,
    DeadLetter,
    Effect,
    InboxEvent,
    Order,
    Shipment,
    StockMovement,
    Store,
    TimelineEntry,
    TrustedCustomer,
    utcnow,
)
from db.timeline import write_pending

log = structlog.get_logger("waybill.privacy")

PERSONAL_FIELDS = ("email", "customer_id", "browser_ip", "billing_address", "shipping_address", "note")
ADDRESS_FIELDS = ("name", "company", "line1", "line2", "phone")
REDACTED_BODY = b'{"redacted": true}'
REDACTED = "[redacted]"
# An address-verification suggestion as core.risk words it: the corrected address itself.
_SUGGESTION = re.compile(r"\s*\(suggested: [^)]*\)")
MIN_NEEDLE = 3  # shorter words would erase too much of other people's text
MIN_NAME_PART = 4  # "Ada" alone is too common to erase; "Lovelace" is not
MAX_KEY_PATTERNS = 200  # effects of at most this many orders and shipments are found by key


# --------------------------------------------------------------------------- what to look for


class Eraser:
    """Replaces the customer's words (case-insensitive) in text and in JSON values and keys."""

    def __init__(self, needles: Iterable[str]) -> None:
        words = sorted(
            {n.strip() for n in needles if n and len(n.strip()) >= MIN_NEEDLE}, key=len, reverse=True
        )
        self.pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
        self.raw = [w.lower().encode() for w in words]

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        value = _SUGGESTION.sub("", value)
        return self.pattern.sub(REDACTED, value) if self.pattern is not None else value

    def json(self, value: Any) -> Any:
        """``value`` with every string (and key) erased; iterative, so any depth is fine."""
        if isinstance(value, str):
            return self.text(value)
        if not isinstance(value, dict | list):
            return value
        root: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
        while stack:
            node, parent, slot = stack.pop()
            if isinstance(node, dict):
                copy: dict[Any, Any] = {}
                parent[slot] = copy
                for k, v in node.items():
                    key = self.text(k) if isinstance(k, str) else k
                    copy[key] = None
                    stack.append((v, copy, key))
            elif isinstance(node, list):
                items: list[Any] = [None] * len(node)
                parent[slot] = items
                stack.extend((v, items, i) for i, v in enumerate(node))
            else:
                parent[slot] = self.text(node) if isinstance(node, str) else node
        return root[0]

    def names(self, data: bytes) -> bool:
        """Whether raw bytes (any encoding json reads, or none) hold one of the words."""
        lowered = data.lower()
        if any(w in lowered for w in self.raw):
            return True
        try:
            text = json.dumps(json.loads(data), ensure_ascii=False).lower()
        except (ValueError, RecursionError):
            return False
        return any(w.decode() in text for w in self.raw)


def order_needles(orders: Iterable[Order]) -> list[str]:
    out: list[str] = []
    for order in orders:
        data = order.data if isinstance(order.data, dict) else {}
        out += [str(order.email or ""), str(data.get("email") or ""), str(data.get("browser_ip") or "")]
        note = data.get("note")
        if isinstance(note, str) and len(note) >= 8:
            out.append(note)
        for key in ("billing_address", "shipping_address"):
            address = data.get(key)
            if isinstance(address, dict):
                out += person(*(address.get(f) for f in ADDRESS_FIELDS))
    return out


def person(name: Any, company: Any, line1: Any, line2: Any, phone: Any) -> list[str]:
    out = [str(v) for v in (name, company, line1, line2, phone) if isinstance(v, str)]
    if isinstance(name, str):
        out += [part for part in name.split() if len(part) >= MIN_NAME_PART]
    if isinstance(phone, str):
        digits = "".join(c for c in phone if c.isdigit())
        if len(digits) >= 7:
            out += [digits, digits[-10:]]
    return out


# --------------------------------------------------------------------------- erasing


@dataclass
class Report:
    """What one erasure touched, and the rows it could not (``table:id``)."""

    changed: int = 0
    failed: list[str] = field(default_factory=list)

    def each(self, table: str, rows: Iterable[Any], erase: Callable[[Any], bool]) -> None:
        for row in rows:
            try:
                if erase(row):
                    self.changed += 1
            except Exception as exc:  # one unreadable row must not stop the others
                self.failed.append(f"{table}:{row.id}")
                log.warning("privacy.row_failed", table=table, row_id=row.id, error=type(exc).__name__)


def erase(
    s: Session,
    store: Store,
    orders: list[Order],
    eraser: Eraser,
    emails: set[str],
    whole_inbox: bool,
    keep_event: int | None = None,
) -> Report:
    """Erase what ``orders`` copied everywhere.

    Rows tied to these orders (their timelines, shipments, stock movements, effects, inbox
    events and the dead letters of those) lose every word of the customer's; rows tied to
    no order (the store's timeline, other dead letters) lose the customer's e-mail only,
    since another customer may share a name or an address and their rows are theirs.
    """
    report = Report()
    strict = Eraser(emails)
    ids = {o.id for o in orders}
    platform_ids = {o.platform_order_id for o in orders}
    report.each("orders", orders, lambda o: _erase_order(o, eraser))
    write_pending(s)  # entries recorded earlier in this transaction are erased too
    timeline = s.scalars(
        select(TimelineEntry).where(
            TimelineEntry.account_id == store.account_id,
            # Customer subjects are written with the e-mail lower-cased (sync.review.trust).
            TimelineEntry.subject.in_(
                [f"order:{i}" for i in ids] + [f"store:{store.id}"] + [f"customer:{e}" for e in emails]
            ),
        )
    )
    report.each("timeline_entries", timeline, lambda e: _erase_entry(e, eraser, strict))
    _erase_shipped(s, store, ids, eraser, report)
    redacted: set[int] = set()
    inbox = s.scalars(select(InboxEvent).where(InboxEvent.store_id == store.id))
    report.each(
        "inbox_events",
        inbox,
        lambda e: _erase_event(e, eraser, strict, platform_ids, whole_inbox, keep_event, redacted),
    )
    dead = s.scalars(select(DeadLetter))
    report.each("dead_letters", dead, lambda d: _erase_dead_letter(d, eraser, strict, ids, redacted))
    exports = s.scalars(select(DataExport).where(DataExport.store_id == store.id))
    report.each("data_exports", exports, lambda x: _erase_export(s, x, eraser, emails, whole_inbox))
    if emails:
        trusted = s.scalars(
            select(TrustedCustomer).where(
                TrustedCustomer.account_id == store.account_id, func.lower(TrustedCustomer.email).in_(emails)
            )
        )
        report.each("trusted_customers", trusted, lambda t: _delete(s, t))
    return report


def _erase_shipped(s: Session, store: Store, ids: set[int], eraser: Eraser, report: Report) -> None:
    """The orders' shipments, stock movements, and the effects keyed by an order or a shipment."""
    shipment_ids: set[int] = set()
    if ids:
        shipments = list(s.scalars(select(Shipment).where(Shipment.order_id.in_(ids))))
        shipment_ids = {sh.id for sh in shipments}
        report.each("shipments", shipments, lambda sh: _erase_shipment(sh, eraser))
        moves = s.scalars(select(StockMovement).where(StockMovement.order_id.in_(ids)))
        report.each("stock_movements", moves, lambda m: _set(m, "note", eraser.text(m.note)))
    tied = {str(i) for i in ids | shipment_ids}
    effects = s.scalars(select(Effect).where(Effect.account_id == store.account_id, *_keyed_by(tied)))
    report.each("effects", effects, lambda e: _erase_effect(e, eraser, tied))


def _keyed_by(tied: set[str]) -> list[Any]:
    """Effect keys that name one of these ids second (``label:<order>:...``, ``fulfil:<shipment>``);
    for many ids, no filter (every effect of the account is looked at)."""
    if len(tied) > MAX_KEY_PATTERNS:
        return []
    if not tied:
        return [Effect.id.is_(None)]
    return [or_(*(Effect.key.like(f"%:{i}") | Effect.key.like(f"%:{i}:%") for i in sorted(tied)))]


def _set(row: Any, attr: str, value: Any) -> bool:
    if getattr(row, attr) == value:
        return False
    setattr(row, attr, value)
    return True


def _delete(s: Session, row: Any) -> bool:
    s.delete(row)
    return True


def _erase_order(order: Order, eraser: Eraser) -> bool:
    order.data = eraser.json({**order.data, **dict.fromkeys(PERSONAL_FIELDS)})
    order.email = None
    order.hold_reason = eraser.text(order.hold_reason)
    order.risk = eraser.json(order.risk)
    order.review = eraser.json(order.review)
    order.redacted_at = order.redacted_at or utcnow()
    return True


def _erase_entry(entry: TimelineEntry, eraser: Eraser, strict: Eraser) -> bool:
    use = strict if entry.subject.startswith("store:") else eraser
    changed = _set(entry, "reason", use.text(entry.reason))
    changed |= _set(entry, "data", use.json(entry.data))
    if entry.subject.lower().startswith("customer:"):
        changed |= _set(entry, "subject", f"customer:{REDACTED}")
    return changed


def _erase_shipment(sh: Shipment, eraser: Eraser) -> bool:
    changed = _set(sh, "parcel", eraser.json(sh.parcel))
    changed |= _set(sh, "rates", eraser.json(sh.rates))
    changed |= _set(sh, "label", eraser.json(sh.label))
    changed |= _set(sh, "problem", eraser.text(sh.problem))
    return _set(sh, "fulfillment_ref", eraser.text(sh.fulfillment_ref)) or changed


def _erase_effect(effect: Effect, eraser: Eraser, tied: set[str]) -> bool:
    """Effects are keyed ``<kind>:<order or shipment id>[:...]``; only those of these orders."""
    parts = effect.key.split(":")
    if len(parts) < 2 or parts[1] not in tied:
        return False
    changed = _set(effect, "result", eraser.json(effect.result))
    return _set(effect, "error", eraser.text(effect.error)) or changed


def _erase_event(
    event: InboxEvent,
    eraser: Eraser,
    strict: Eraser,
    platform_ids: set[str],
    whole: bool,
    keep: int | None,
    redacted: set[int],
) -> bool:
    changed = _set(event, "headers", strict.json(event.headers))
    if event.id == keep:
        return _set(event, "last_error", strict.text(event.last_error)) or changed
    if (
        whole
        or event.body == REDACTED_BODY
        or _names_order(str(event.platform), event.body, platform_ids)
        or strict.names(event.body)
    ):
        redacted.add(event.id)
        changed |= _set(event, "last_error", eraser.text(event.last_error))
        return _set(event, "body", REDACTED_BODY) or changed
    return _set(event, "last_error", strict.text(event.last_error)) or changed


def _erase_dead_letter(
    dead: DeadLetter, eraser: Eraser, strict: Eraser, orders: set[int], events: set[int]
) -> bool:
    kwargs = dead.kwargs if isinstance(dead.kwargs, dict) else {}
    mine = kwargs.get("order_id") in orders or kwargs.get("event_id") in events
    use = eraser if mine else strict
    changed = _set(dead, "kwargs", use.json(dead.kwargs))
    return _set(dead, "error", use.text(dead.error) or "") or changed


def _erase_export(s: Session, export: DataExport, eraser: Eraser, emails: set[str], whole: bool) -> bool:
    if whole or (export.customer_email or "").lower() in emails:
        s.delete(export)
        return True
    return _set(export, "data", eraser.json(export.data))


def _names_order(platform: str, body: bytes, platform_ids: set[str]) -> bool:
    """Whether the event is about one of these orders (as the storefront reads its body)."""
    if not platform_ids:
        return False
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    return not reader_for(platform).orders_named(data).isdisjoint(platform_ids)
