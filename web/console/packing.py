"""Console area: pick, pack and print (least role: packer).

- ``/app/pick``: the pick list of the oldest ready orders, one line per SKU in bin order
  (``sync.shipping.pick_list_for``, the API's ``/pick-list``), with the orders it covers;
  printable.
- ``/app/pack`` and ``/app/pack/<id>``: scan-to-pack for a barcode scanner. An order number
  (or the pick slip's ``WB-<id>``) opens the order; each scanned unit is checked on the
  server (``sync.shipping.scan_unit``) and counted there, so a reload or a second tablet sees
  the same count; the last unit records the pack scan (``record_pack_scan``, the API's
  ``POST /orders/<id>/pack``) and the page shows the label once it is bought.
- ``/app/labels``: bought labels to print and printed; batch print as one 4x6 PDF in the
  order of the pick list (``/app/labels/print?order=<id>&...``, or the selected labels);
  reprint; mark printed (a ``label.printed`` timeline entry per parcel).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, request, url_for
from sqlalchemy import func, select

from core.errors import OrderNotFound
from core.lifecycle import Stage
from db.models import LabelFile, Role, Shipment, utcnow
from db.models import Order as OrderRow
from sync import shipping
from sync.shipping import label_files
from sync.shipping.packing import orders_for_code, pack_state, restart_pack, scan_unit
from web import runtime
from web.console import FILE, FRAGMENT, bp, page, render
from web.edge import MAX_BIG_ID, parse_id

PICK_BATCH = 50  # orders on one pick list unless ?size= says otherwise
PICK_MAX = 500  # the API's limit
PAGE = 50  # labels per page


def _ids(values: list[str]) -> list[int]:
    """Ids from the query or form; a malformed one is a clear 400."""
    parsed = [parse_id(v, MAX_BIG_ID) for v in values]
    if any(p is None for p in parsed):
        abort(400, "ids must be whole numbers")
    return [p for p in parsed if p is not None]


def _actor() -> str:
    return str(getattr(g, "actor", None) or "console")


# --- pick list -------------------------------------------------------------------------------------


@bp.get("/app/pick")
@page(Role.packer)
def pick() -> Any:
    """The oldest ready orders (up to ``size``) and what to pick for them, in walking order."""
    size = parse_id(request.args.get("size", str(PICK_BATCH)), PICK_MAX) or PICK_BATCH
    rt = runtime()
    with rt.session() as s:
        ready = s.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.account_id == g.account_id, OrderRow.stage == Stage.READY_TO_SHIP)
        )
        batch = list(
            s.execute(
                select(OrderRow.id, OrderRow.number, OrderRow.created_at)
                .where(OrderRow.account_id == g.account_id, OrderRow.stage == Stage.READY_TO_SHIP)
                .order_by(OrderRow.created_at, OrderRow.id)
                .limit(size)
            )
        )
    lines = shipping.pick_list_for(rt, g.account_id, [oid for oid, _, _ in batch]) if batch else []
    return render(
        "pick.html",
        lines=lines,
        orders=batch,
        ready=ready or 0,
        size=size,
        units=sum(line["quantity"] for line in lines),
        now=utcnow(),
    )


# --- scan-to-pack ----------------------------------------------------------------------------------


@bp.get("/app/pack")
@page(Role.packer)
def pack() -> Any:
    """Scan an order number (or a pick slip's code) to open the order at the packing bench."""
    code = request.args.get("code", "").strip()
    matches: list[dict[str, Any]] = []
    status = 200
    if code:
        matches = orders_for_code(runtime(), g.account_id, code)
        if len(matches) == 1:
            return redirect(url_for("console.pack_order", order_id=matches[0]["id"]))
        if not matches:
            status = 404
    with runtime().session() as s:
        ready = list(
            s.execute(
                select(OrderRow.id, OrderRow.number)
                .where(OrderRow.account_id == g.account_id, OrderRow.stage == Stage.READY_TO_SHIP)
                .order_by(OrderRow.created_at, OrderRow.id)
                .limit(20)
            )
        )
    return render("pack.html", code=code, matches=matches, ready=ready, status=status)


def _state_or_404(order_id: int) -> dict[str, Any]:
    try:
        return pack_state(runtime(), g.account_id, order_id)
    except OrderNotFound:
        abort(404)


@bp.get("/app/pack/<bigid:order_id>")
@page(Role.packer)
def pack_order(order_id: int) -> Any:
    state = _state_or_404(order_id)
    return render("pack_order.html", state=state, result=None, labels=_labels_of(order_id))


@bp.post("/app/pack/<bigid:order_id>/scan")
@page(Role.packer)
def pack_scan(order_id: int) -> Any:
    """One scanned code: counted (green) or refused (red), answered as the result panel."""
    code = request.form.get("code", "")
    try:
        result = scan_unit(runtime(), g.account_id, order_id, code, _actor())
    except OrderNotFound:
        abort(404)
    except (shipping.ShippingError, shipping.ShippingInputError) as exc:
        state = _state_or_404(order_id)
        result = {**state, "ok": False, "code": code.strip(), "message": str(exc), "packed": None}
    htmx = request.headers.get("HX-Request") == "true"
    status = 200 if htmx or result["ok"] else 422
    template = "pack_result.html" if htmx else "pack_order.html"
    return render(template, status, state=result, result=result, labels=_labels_of(order_id))


@bp.post("/app/pack/<bigid:order_id>/restart")
@page(Role.packer)
def pack_restart(order_id: int) -> Any:
    try:
        restart_pack(runtime(), g.account_id, order_id, _actor())
    except OrderNotFound:
        abort(404)
    flash("Scanned units cleared: scan the parcel again.", "info")
    return redirect(url_for("console.pack_order", order_id=order_id))


@bp.get("/app/pack/<bigid:order_id>/label")
@page(Role.packer, kind=FRAGMENT)
def pack_label(order_id: int) -> Any:
    """The order's label once bought (the page asks again until then)."""
    state = _state_or_404(order_id)
    return render("pack_label.html", state=state, labels=_labels_of(order_id))


def _labels_of(order_id: int) -> list[int]:
    with runtime().session() as s:
        return list(
            s.scalars(
                select(Shipment.id)
                .where(
                    Shipment.order_id == order_id,
                    Shipment.account_id == g.account_id,
                    Shipment.state.in_(label_files.PRINTABLE),
                )
                .order_by(Shipment.package)
            )
        )


# --- labels ----------------------------------------------------------------------------------------


@bp.get("/app/labels")
@page(Role.packer)
def labels() -> Any:
    """Bought labels not printed yet (``?show=printed``: printed), newest first, a page at a time."""
    printed = request.args.get("show") == "printed"
    number = parse_id(request.args.get("page", "1"), 100_000) or 1
    where = [Shipment.account_id == g.account_id, Shipment.state.in_(label_files.PRINTABLE)]
    where.append(LabelFile.printed_at.is_not(None) if printed else LabelFile.printed_at.is_(None))
    with runtime().session() as s:
        base = select(Shipment, LabelFile.printed_at, LabelFile.printed_by, OrderRow.number).join(
            OrderRow, OrderRow.id == Shipment.order_id
        )
        base = base.outerjoin(LabelFile, LabelFile.shipment_id == Shipment.id).where(*where)
        rows = list(s.execute(base.order_by(Shipment.id.desc()).limit(PAGE + 1).offset((number - 1) * PAGE)))
        total = s.scalar(
            select(func.count())
            .select_from(Shipment)
            .outerjoin(LabelFile, LabelFile.shipment_id == Shipment.id)
            .where(*where)
        )
        items = [
            {
                "id": sh.id,
                "order_id": sh.order_id,
                "number": num,
                "package": sh.package,
                "carrier": (sh.label or {}).get("carrier") or sh.carrier or "",
                "service": (sh.label or {}).get("service") or sh.service or "",
                "tracking_code": sh.tracking_code or "",
                "bought_at": sh.updated_at,
                "printed_at": printed_at,
                "printed_by": printed_by,
            }
            for sh, printed_at, printed_by, num in rows[:PAGE]
        ]
    return render(
        "labels.html",
        items=items,
        printed=printed,
        page_number=number,
        more=len(rows) > PAGE,
        total=total or 0,
    )


@bp.route("/app/labels/print", methods=["GET", "POST"])
@page(Role.packer, kind=FILE)
def labels_print() -> Any:
    """One PDF of the labels of ``order`` ids (or the ``shipment`` ids chosen), in the order of the
    pick list, one 4x6 page per label. GET shows it (the orders grid links here); the labels
    page's form POSTs and downloads it."""
    values = request.values
    orders, chosen = _ids(values.getlist("order")), _ids(values.getlist("shipment"))
    rt = runtime()
    try:
        ids = label_files.batch(rt, g.account_id, orders, chosen)
        pdf = label_files.document(rt, g.account_id, ids)
    except OrderNotFound:
        abort(404)
    except label_files.LabelFetchError as exc:
        return _refused(502, str(exc))
    except (shipping.ShippingError, shipping.ShippingInputError) as exc:
        return _refused(409 if isinstance(exc, shipping.ShippingError) else 400, str(exc))
    name = f"labels-{len(ids)}.pdf"
    disposition = "attachment" if request.method == "POST" else "inline"
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    # The scan-to-pack page shows the label in a frame of its own origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(status: int, message: str) -> Any:
    if request.method == "POST":
        flash(message, "error")
        return redirect(url_for("console.labels"))
    return render("labels_error.html", status, message=message)


@bp.post("/app/labels/printed")
@page(Role.packer)
def labels_printed() -> Any:
    """Mark the chosen labels printed (who and when, on each order's timeline)."""
    chosen = _ids(request.form.getlist("shipment"))
    try:
        count = label_files.mark_printed(runtime(), g.account_id, chosen, _actor())
    except OrderNotFound:
        abort(404)
    except (shipping.ShippingError, shipping.ShippingInputError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.labels"))
    flash(f"{count} label(s) marked printed.", "ok")
    back = request.form.get("back", "")
    if back.startswith("/app/pack/") and back[len("/app/pack/") :].isdigit():
        return redirect(back)
    return redirect(url_for("console.labels"))
