"""Console area: the orders grid, the order page and the review queue.

Every view reads the signed-in account's orders only (another account's order is 404) and
changes them through the same domain functions as the JSON API and the CLI:
``sync.review.approve/reject`` (a reviewer's decision), ``sync.review.edit_address`` (a held
order's address corrected and verified again), ``sync.shipping.resume_soon`` (``waybill ship
run``'s release, the buying left to the ``ship`` job: no carrier call inside a request) and
``sync.shipping.void_order`` (``waybill ship void``). Label printing is the packing area's
``/app/labels/print?order=ID...`` (one PDF).

The grid filters in SQL on indexed columns (account, stage, created_at, number, e-mail,
destination, the shipments' tracking code) and pages with LIMIT/OFFSET, fetching one row
more than it shows to know whether a next page exists (no COUNT over the account).
Customer names and SKUs live in the order's JSON; the search matches them in
``orders.search``, a short lower-cased text kept from the JSON on every write
(``db.models.order_search``), so no order's JSON is parsed to answer a search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import flash, g, redirect, request, url_for
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound as HttpNotFound

from core.errors import InvalidInput, Permanent, Refusal, Retryable
from core.lifecycle import NAMES, Stage
from db.models import DeliveryException, Order, Return, Role, Shipment, Store, TrackingScan
from db.timeline import entries
from sync import review, shipping
from sync.pipeline import MAX_REASON
from web import runtime
from web.console import bp, page, render
from web.console.auth import safe_next

PAGE_SIZE = 50
MAX_PAGE = 2000
MAX_QUERY = 200
MAX_BULK = 100  # orders in one bulk action
MIN_TEXT_SEARCH = 3  # shorter terms match numbers, e-mails and tracking codes exactly only
HOLD_KINDS: dict[str, tuple[str, str]] = {  # filter value -> (label, LIKE pattern on hold_reason)
    "review": ("Held for review", "review:%"),
    "rules": ("Rejected by rules", "rejected by rules:%"),
    "shipping": ("Shipping problem", "shipping:%"),
    "oversold": ("Oversold", "%oversold%"),
}
REVIEW_KINDS = ("review", "rules")  # holds a person decides (approve or reject)
LABELS_PRINT = "/app/labels/print"  # the packing area's batch print (one PDF)


@dataclass
class Filters:
    stage: str = ""
    store: int | None = None
    since: date | None = None
    until: date | None = None
    country: str = ""
    hold: str = ""
    q: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def args(self, **override: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "stage": self.stage,
            "store": self.store or "",
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "country": self.country,
            "hold": self.hold,
            "q": self.q,
            "page": self.page if self.page > 1 else "",
        }
        values.update(override)
        return {k: str(v) for k, v in values.items() if v not in ("", None, 1)}

    def url(self, **override: Any) -> str:
        query = urlencode(self.args(**override))
        return url_for("console.orders") + (f"?{query}" if query else "")


def _date(value: str, name: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{name} must be a date (YYYY-MM-DD)")
        return None


def parse_filters(args: Any, store_ids: set[int]) -> Filters:
    """The grid's filters from the query string; what is wrong goes to ``errors``."""
    f = Filters()
    stage = (args.get("stage") or "").strip()
    if stage and stage not in NAMES:
        f.errors.append(f"stage must be one of: {', '.join(NAMES)}")
    else:
        f.stage = stage
    store = (args.get("store") or "").strip()
    if store:
        if store.isdigit() and int(store) in store_ids:
            f.store = int(store)
        else:
            f.errors.append("store must be one of your stores")
    f.since = _date((args.get("since") or "").strip(), "from", f.errors)
    f.until = _date((args.get("until") or "").strip(), "to", f.errors)
    if f.since and f.until and f.since > f.until:
        f.errors.append("the from date is after the to date")
    country = (args.get("country") or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        f.errors.append("destination must be a two-letter country code (e.g. US)")
    else:
        f.country = country
    hold = (args.get("hold") or "").strip()
    if hold and hold not in HOLD_KINDS:
        f.errors.append(f"hold reason must be one of: {', '.join(HOLD_KINDS)}")
    else:
        f.hold = hold
    q = (args.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        f.errors.append(f"search is longer than {MAX_QUERY} characters")
    else:
        f.q = q
    raw_page = (args.get("page") or "1").strip()
    if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
        f.page = int(raw_page)
    else:
        f.errors.append(f"page must be a whole number from 1 to {MAX_PAGE}")
    return f


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def exact_condition(account_id: int, q: str) -> Any:
    """Orders whose number, e-mail or a parcel's tracking code is ``q`` (all indexed)."""
    term = q.strip()
    bare = term.lstrip("#")
    tracked = select(Shipment.order_id).where(
        Shipment.account_id == account_id, Shipment.tracking_code == term
    )
    return or_(Order.number.in_({term, bare, f"#{bare}"}), Order.email == term.lower(), Order.id.in_(tracked))


def search_condition(account_id: int, q: str) -> Any:
    """Orders matching ``q``: number, e-mail, tracking code exactly, or, for three characters
    or more, part of a number, e-mail, customer name or SKU (``orders.search``, a short
    lower-cased text kept from the order's data: no JSON is parsed per row)."""
    term = " ".join(q.lower().split())
    found = [exact_condition(account_id, q)]
    if len(term) >= MIN_TEXT_SEARCH:
        found.append(Order.search.like(_like(term), escape="\\"))
    return or_(*found)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def order_query(account_id: int, f: Filters) -> Select[Any]:
    query = select(Order).where(Order.account_id == account_id)
    if f.stage:
        query = query.where(Order.stage == f.stage)
    if f.store is not None:
        query = query.where(Order.store_id == f.store)
    if f.since:
        query = query.where(Order.created_at >= _start(f.since))
    if f.until:
        query = query.where(Order.created_at < _start(f.until + timedelta(days=1)))
    if f.country:
        query = query.where(Order.ship_country == f.country)
    if f.hold:
        query = query.where(Order.hold_reason.like(HOLD_KINDS[f.hold][1]))
    if f.q:
        query = query.where(search_condition(account_id, f.q))
    return query.order_by(Order.created_at.desc(), Order.id.desc())


def _stores(s: Session, account_id: int) -> list[Store]:
    return list(s.scalars(select(Store).where(Store.account_id == account_id).order_by(Store.id)))


def row_view(o: Order) -> dict[str, Any]:
    """What the grid shows of an order (read from its JSON without parsing the whole order)."""
    data = o.data or {}
    ship = data.get("shipping_address") or {}
    total = data.get("total") or {}
    return {
        "id": o.id,
        "number": o.number,
        "created_at": o.created_at,
        "customer": ship.get("name") or (data.get("billing_address") or {}).get("name") or o.email or "",
        "country": ship.get("country_code") or "",
        "total": f"{total.get('amount')} {total.get('currency')}" if total.get("amount") else "",
        "stage": o.stage,
        "hold_reason": o.hold_reason,
        "store_id": o.store_id,
        "held": o.stage == Stage.ON_HOLD,
    }


def stage_badge(stage: str) -> str:
    if stage in (Stage.ON_HOLD,):
        return "warn"
    if stage in (Stage.REJECTED, Stage.CANCELLED):
        return "bad"
    if stage in (Stage.FULFILLED, Stage.DELIVERED, Stage.PARTIALLY_FULFILLED, Stage.LABEL_PURCHASED):
        return "ok"
    return "info"


@bp.app_template_filter("stage_badge")
def _stage_badge(stage: str) -> str:
    return stage_badge(stage)


@bp.app_template_filter("utc")
def _utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


@bp.get("/app/orders")
@page(Role.staff)
def orders() -> Any:
    with runtime().session() as s:
        stores = _stores(s, g.account_id)
        f = parse_filters(request.args, {st.id for st in stores})
        rows: list[dict[str, Any]] = []
        more = False
        if not f.errors:
            found = list(
                s.scalars(order_query(g.account_id, f).limit(PAGE_SIZE + 1).offset((f.page - 1) * PAGE_SIZE))
            )
            more = len(found) > PAGE_SIZE
            rows = [row_view(o) for o in found[:PAGE_SIZE]]
    names = {st.id: st.domain for st in stores}
    partial = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "results"
    return render(
        "orders_results.html" if partial else "orders.html",
        status=400 if f.errors else 200,
        f=f,
        rows=rows,
        more=more,
        stores=stores,
        store_names=names,
        stages=NAMES,
        hold_kinds=HOLD_KINDS,
        page_size=PAGE_SIZE,
        here=f.url(),
    )


def _owned(s: Session, account_id: int, ids: list[int]) -> list[int]:
    """Those of ``ids`` that are orders of the account, in the order given."""
    if not ids:
        return []
    mine = set(s.scalars(select(Order.id).where(Order.account_id == account_id, Order.id.in_(ids))))
    return [i for i in ids if i in mine]


def _ids(values: list[str]) -> list[int] | None:
    out: list[int] = []
    for value in values:
        if not value.isdigit() or len(value) > 19:
            return None
        if int(value) not in out:
            out.append(int(value))
    return out


def _back(default: str) -> str:
    return safe_next(request.form.get("back")) or default


@bp.post("/app/orders/bulk")
@page(Role.staff)
def bulk() -> Any:
    """Approve, ship or print the checked orders."""
    back = _back(url_for("console.orders"))
    action = request.form.get("action", "")
    ids = _ids(request.form.getlist("order"))
    if ids is None:
        flash("Orders must be chosen from the list.", "error")
        return redirect(back, 303)
    if not ids:
        flash("Choose at least one order first.", "error")
        return redirect(back, 303)
    if len(ids) > MAX_BULK:
        flash(f"At most {MAX_BULK} orders at once.", "error")
        return redirect(back, 303)
    if action not in ("approve", "ship", "print"):
        flash("Choose approve, ship or print labels.", "error")
        return redirect(back, 303)
    reason = (request.form.get("reason") or "").strip()
    if action == "approve" and not reason:
        flash("Approving needs a reason (kept on each order's timeline).", "error")
        return redirect(back, 303)
    if len(reason) > MAX_REASON:
        flash(f"The reason is longer than {MAX_REASON} characters.", "error")
        return redirect(back, 303)
    with runtime().session() as s:
        mine = _owned(s, g.account_id, ids)
    if len(mine) < len(ids):
        raise HttpNotFound()
    if action == "print":
        return redirect(LABELS_PRINT + "?" + urlencode([("order", i) for i in mine]), 303)
    done: list[str] = []
    refused: list[str] = []
    for order_id in mine:
        try:
            if action == "approve":
                review.approve(runtime(), g.account_id, order_id, g.actor, reason)
                done.append(str(order_id))
            else:
                stage = shipping.resume_soon(runtime(), order_id, g.actor)
                done.append(f"{order_id} ({stage})")
        except Refusal as exc:
            refused.append(f"{order_id}: {exc}")
        except (Permanent, Retryable) as exc:
            refused.append(f"{order_id}: the carrier or store failed ({type(exc).__name__})")
    verb = "Approved" if action == "approve" else "Sent to shipping"
    if done:
        flash(f"{verb} {len(done)} order(s): {', '.join(done)}.", "ok")
    if refused:
        flash("Not done: " + "; ".join(refused), "error")
    return redirect(back, 303)


# --- the order page ------------------------------------------------------------------


def _order_of(s: Session, order_id: int) -> Order:
    row = s.get(Order, order_id)
    if row is None or row.account_id != g.account_id:
        raise HttpNotFound()
    return row


def _money(value: Any) -> str:
    if isinstance(value, dict) and value.get("amount") is not None:
        return f"{value['amount']} {value.get('currency', '')}".strip()
    return ""


@bp.app_template_filter("money")
def _money_filter(value: Any) -> str:
    return _money(value)


def order_context(s: Session, row: Order) -> dict[str, Any]:
    shipments = list(
        s.scalars(select(Shipment).where(Shipment.order_id == row.id).order_by(Shipment.package))
    )
    scans: dict[int, list[TrackingScan]] = {sh.id: [] for sh in shipments}
    if shipments:
        for scan in s.scalars(
            select(TrackingScan)
            .where(TrackingScan.shipment_id.in_(list(scans)), TrackingScan.account_id == row.account_id)
            .order_by(TrackingScan.happened_at, TrackingScan.id)
        ):
            scans[scan.shipment_id].append(scan)
    returns = list(
        s.scalars(
            select(Return)
            .where(Return.account_id == row.account_id, Return.order_id == row.id)
            .order_by(Return.id)
        )
    )
    exceptions = list(
        s.scalars(
            select(DeliveryException)
            .where(DeliveryException.account_id == row.account_id, DeliveryException.order_id == row.id)
            .order_by(DeliveryException.opened_at)
        )
    )
    store = s.get(Store, row.store_id)
    data = row.data or {}
    return {
        "o": row,
        "data": data,
        "ship": data.get("shipping_address") or {},
        "bill": data.get("billing_address") or {},
        "items": data.get("line_items") or [],
        "shipments": shipments,
        "scans": scans,
        "returns": returns,
        "exceptions": exceptions,
        "store": store,
        "timeline": entries(s, row.account_id, f"order:{row.id}"),
        "risk": row.risk or {},
        "held": row.stage == Stage.ON_HOLD and row.review is None,
        "decidable": row.stage == Stage.ON_HOLD and row.review is None and row.risk is not None,
        "voidable": any(sh.state == "purchased" for sh in shipments),
        "address_fields": review.ADDRESS_FIELDS,
        "labels_print": LABELS_PRINT,
    }


def _show(order_id: int, status: int = 200, **extra: Any) -> Any:
    with runtime().session() as s:
        row = _order_of(s, order_id)
        ctx = order_context(s, row)
        return render("order.html", status=status, **ctx, **extra)


@bp.get("/app/orders/<bigid:order_id>")
@page(Role.staff)
def order(order_id: int) -> Any:
    return _show(order_id)


def _decide(order_id: int, decision: str) -> Any:
    reason = (request.form.get("reason") or "").strip()
    back = _back(url_for("console.order", order_id=order_id))
    with runtime().session() as s:
        _order_of(s, order_id)
    decide = review.approve if decision == "approve" else review.reject
    try:
        decide(runtime(), g.account_id, order_id, g.actor, reason)
    except Refusal as exc:
        if request.form.get("back"):
            flash(f"Order {order_id}: {exc}", "error")
            return redirect(back, 303)
        return _show(order_id, 400 if isinstance(exc, InvalidInput) else 409, error=str(exc))
    flash(f"Order {order_id} {'approved' if decision == 'approve' else 'rejected'}.", "ok")
    return redirect(back, 303)


@bp.post("/app/orders/<bigid:order_id>/approve")
@page(Role.staff)
def approve(order_id: int) -> Any:
    return _decide(order_id, "approve")


@bp.post("/app/orders/<bigid:order_id>/reject")
@page(Role.staff)
def reject(order_id: int) -> Any:
    return _decide(order_id, "reject")


@bp.post("/app/orders/<bigid:order_id>/address")
@page(Role.staff)
def address(order_id: int) -> Any:
    with runtime().session() as s:
        _order_of(s, order_id)
    fields = {name: request.form.get(name) for name in review.ADDRESS_FIELDS}
    try:
        result = review.edit_address(runtime(), g.account_id, order_id, fields, g.actor)
    except Refusal as exc:
        return _show(order_id, 400, error=str(exc), address_form=fields)
    except (Permanent, Retryable) as exc:
        return _show(order_id, 502, error=f"the address could not be verified now ({type(exc).__name__})")
    checked = {True: " The carrier can deliver there.", False: " The carrier cannot deliver there."}
    flash(f"Shipping address saved and verified again.{checked.get(result['deliverable'], '')}", "ok")
    return redirect(url_for("console.order", order_id=order_id), 303)


@bp.post("/app/orders/<bigid:order_id>/ship")
@page(Role.staff)
def ship(order_id: int) -> Any:
    with runtime().session() as s:
        _order_of(s, order_id)
    try:
        stage = shipping.resume_soon(runtime(), order_id, g.actor)
    except Refusal as exc:
        return _show(order_id, 409, error=str(exc))
    flash(f"Order {order_id}: {stage}; its labels are being bought and written back.", "ok")
    return redirect(url_for("console.order", order_id=order_id), 303)


@bp.post("/app/orders/<bigid:order_id>/void")
@page(Role.staff)
def void(order_id: int) -> Any:
    reason = (request.form.get("reason") or "").strip() or "voided from the console"
    if len(reason) > MAX_REASON:
        return _show(order_id, 400, error=f"the reason is longer than {MAX_REASON} characters")
    with runtime().session() as s:
        _order_of(s, order_id)
    try:
        count = shipping.void_order(runtime(), order_id, reason, g.actor)
    except (Permanent, Retryable) as exc:
        return _show(order_id, 502, error=f"the labels could not be voided now ({type(exc).__name__})")
    flash(f"Order {order_id}: {count} label(s) voided.", "ok")
    return redirect(url_for("console.order", order_id=order_id), 303)


# --- the review queue ------------------------------------------------------------------


@bp.get("/app/review", endpoint="review")
@page(Role.staff)
def review_queue() -> Any:
    with runtime().session() as s:
        held = list(
            s.scalars(
                select(Order)
                .where(
                    Order.account_id == g.account_id,
                    Order.stage == Stage.ON_HOLD,
                    or_(*(Order.hold_reason.like(HOLD_KINDS[k][1]) for k in REVIEW_KINDS)),
                )
                .order_by(Order.created_at, Order.id)
                .limit(PAGE_SIZE)
            )
        )
        rows = [{**row_view(o), "risk": o.risk or {}} for o in held]
    return render("review.html", rows=rows, page_size=PAGE_SIZE)
