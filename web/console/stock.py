"""Console area: stock. Levels per SKU and per channel, reserved, buffers, low-stock
thresholds, forecasts (days of cover), one SKU's movements, adjustments and counts, and
the differences the last inventory audit found.

Reads come from ``sync.stock_reports`` (as the API's and the CLI's); every change goes
through ``sync.stock_admin`` (``adjust``, ``count``, ``set_threshold``, ``set_buffer``),
the functions ``POST /api/v1/inventory/<sku>/adjustments`` and ``/counts`` call: the
movement, the SKU's timeline entry (naming who acted) and the push to every channel that
lists the SKU. A refused input changes nothing and is shown on the page (400).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import select

from core.errors import InvalidInput, NotFound
from db.models import Role, StockItem, Store, TimelineEntry
from sync import stock_admin
from sync.stock_pages import last_audits, movements_page, stock_page
from web import runtime
from web.console import bp, page, render

PER_PAGE = 50
MOVEMENTS = 50
HISTORY = 20
WHOLE = re.compile(r"^[+-]?\d{1,12}$")


def _page_number() -> int:
    raw = (request.args.get("page") or "1").strip()
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def _number(raw: str | None) -> object:
    """A whole number typed in a form; anything else is handed on as typed, so the domain
    function refuses it with its own words."""
    text = (raw or "").strip()
    return int(text) if WHOLE.match(text) else text


def _key(kind: str, sku: str) -> str | None:
    """The form's one-time token: submitting the same form twice applies it once."""
    token = (request.form.get("once") or "").strip()
    return f"console-{kind}:{sku}:{token}"[:255] if token else None


@bp.get("/app/stock")
@page(Role.staff)
def stock() -> Any:
    rt = runtime()
    search = (request.args.get("q") or "").strip()[:255]
    low = request.args.get("low") == "1"
    number = _page_number()
    with rt.session() as s:
        found = stock_page(
            s,
            g.account_id,
            rt.settings,
            datetime.now(UTC).date(),
            search=search,
            low_only=low,
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
        audits = last_audits(s, g.account_id)
    pages = max(1, -(-found.total // PER_PAGE))
    return render(
        "stock.html",
        found=found,
        search=search,
        low=low,
        number=number,
        pages=pages,
        audits=audits,
        location=rt.settings.inventory.location,
    )


def _sku_context(sku: str) -> dict[str, Any]:
    rt = runtime()
    inv = rt.settings.inventory
    with rt.session() as s:
        item = s.scalar(
            select(StockItem).where(
                StockItem.account_id == g.account_id, StockItem.sku == sku, StockItem.location == inv.location
            )
        )
        if item is None:
            abort(404)
        [row] = stock_page(s, g.account_id, rt.settings, datetime.now(UTC).date(), sku=sku).rows
        moves = movements_page(s, item, MOVEMENTS)
        audits = last_audits(s, g.account_id, sku=sku)
        history = list(
            s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.account_id == g.account_id, TimelineEntry.subject == f"sku:{sku}")
                .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
                .limit(HISTORY)
            )
        )
        stores = list(s.scalars(select(Store).where(Store.account_id == g.account_id).order_by(Store.id)))
        s.expunge_all()
    return {
        "row": row,
        "moves": moves,
        "audits": audits,
        "history": history,
        "stores": stores,
        "location": inv.location,
        "default_threshold": inv.low_stock_threshold,
        "once": secrets.token_urlsafe(12),
    }


@bp.get("/app/stock/<path:sku>")
@page(Role.staff)
def stock_sku(sku: str) -> Any:
    return render("stock_sku.html", **_sku_context(sku))


def _refused(sku: str, exc: Exception) -> Any:
    if isinstance(exc, NotFound):
        abort(404)
    flash(str(exc), "error")
    return render("stock_sku.html", status=400, form=request.form, **_sku_context(sku))


def _back(sku: str) -> Any:
    return redirect(url_for("console.stock_sku", sku=sku), code=303)


@bp.post("/app/stock/<path:sku>/adjust")
@page(Role.staff)
def stock_adjust(sku: str) -> Any:
    try:
        level = stock_admin.adjust(
            runtime(),
            g.account_id,
            sku,
            _number(request.form.get("delta")),
            request.form.get("note"),
            actor=g.actor,
            key=_key("adjust", sku),
        )
    except (InvalidInput, NotFound) as exc:
        return _refused(sku, exc)
    if level.applied:
        flash(
            f"Adjusted {sku} by {level.on_hand_delta:+d}: on hand {level.on_hand}, available "
            f"{level.available}. Every channel that lists it is being updated.",
            "ok",
        )
    else:
        flash("That adjustment was already applied; nothing changed.", "info")
    return _back(sku)


@bp.post("/app/stock/<path:sku>/count")
@page(Role.staff)
def stock_count(sku: str) -> Any:
    try:
        level = stock_admin.count(
            runtime(),
            g.account_id,
            sku,
            _number(request.form.get("on_hand")),
            request.form.get("note"),
            actor=g.actor,
            key=_key("count", sku),
        )
    except (InvalidInput, NotFound) as exc:
        return _refused(sku, exc)
    if level.applied:
        flash(
            f"Counted {sku}: on hand {level.on_hand} ({level.on_hand_delta:+d}), available "
            f"{level.available}. Every channel that lists it is being updated.",
            "ok",
        )
    else:
        flash("That count was already recorded; nothing changed.", "info")
    return _back(sku)


@bp.post("/app/stock/<path:sku>/threshold")
@page(Role.staff)
def stock_threshold(sku: str) -> Any:
    raw = (request.form.get("threshold") or "").strip()
    try:
        value = _number(raw) if raw else None
        if value is not None and not isinstance(value, int):
            raise stock_admin.StockInputError("threshold must be a whole number (or empty for the default)")
        stock_admin.set_threshold(runtime(), g.account_id, sku, value, actor=g.actor)
    except (InvalidInput, NotFound) as exc:
        return _refused(sku, exc)
    flash(f"Low-stock threshold of {sku}: {value if value is not None else 'the default'}.", "ok")
    return _back(sku)


@bp.post("/app/stock/<path:sku>/buffer")
@page(Role.staff)
def stock_buffer(sku: str) -> Any:
    store_raw = (request.form.get("store_id") or "").strip()
    raw = (request.form.get("buffer") or "").strip()
    try:
        if not store_raw.isdigit() or len(store_raw) > 9:
            raise stock_admin.UnknownStore("no such store")
        buffer = stock_admin.set_buffer(
            runtime(),
            g.account_id,
            int(store_raw),
            sku,
            raw if raw.lower() not in ("", "none") else None,
            g.actor,
        )
    except (InvalidInput, NotFound) as exc:
        if isinstance(exc, stock_admin.UnknownStore):
            exc = stock_admin.StockInputError("choose one of your stores")
        return _refused(sku, exc)
    flash(f"Buffer of {sku} on store {store_raw}: {raw if buffer is not None else 'none'}.", "ok")
    return _back(sku)
