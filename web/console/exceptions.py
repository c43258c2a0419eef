"""Console area: delivery exceptions. Parcels that need a person (a failed delivery, a stall,
a parcel going back to the sender...), with why, what Waybill recommends, and links to the
order; filtered by kind and state, oldest first (the order they ask for attention).

Reads and steps are ``sync.tracking.desk``'s, as ``/api/v1/exceptions``:
``acknowledge`` (open -> acknowledged) and ``resolve`` (with a note, required). The step
is recorded on the order's timeline under the signed-in user (``g.actor``). A refused step
(already finished, no note) changes nothing and is shown on the page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import func, select

from core.errors import Conflict, InvalidInput, NotFound
from db.models import DeliveryException, Role, Shipment
from sync.tracking import desk
from web import runtime
from web.console import bp, page, render

PER_PAGE = 50
STATE_TABS = (("unfinished", "Needs attention"), *((s, s.capitalize()) for s in desk.STATES), ("all", "All"))


def _filters() -> dict[str, Any]:
    state = request.values.get("state") or "unfinished"
    kind = request.values.get("kind") or None
    after_raw = (request.values.get("after") or "").strip()
    after = int(after_raw) if after_raw.isdigit() and len(after_raw) < 11 else None
    if state not in desk.FILTERS:
        state = "unfinished"
    if kind is not None and kind not in desk.KINDS:
        kind = None
    return {"state": state, "kind": kind, "after": after}


def _listing(status: int = 200) -> Any:
    rt = runtime()
    filters = _filters()
    found = desk.list_exceptions(rt, g.account_id, limit=PER_PAGE, **filters)
    with rt.session() as s:
        counts = dict(
            s.execute(
                select(DeliveryException.state, func.count())
                .where(DeliveryException.account_id == g.account_id)
                .group_by(DeliveryException.state)
            ).all()
        )
        ids = [e["shipment_id"] for e in found.exceptions]
        parcels = {
            row.id: row
            for row in s.execute(
                select(Shipment.id, Shipment.package, Shipment.carrier, Shipment.tracking_code).where(
                    Shipment.account_id == g.account_id, Shipment.id.in_(ids)
                )
            )
        }
    counts["unfinished"] = counts.get("open", 0) + counts.get("acknowledged", 0)
    counts["all"] = sum(v for k, v in counts.items() if k in desk.STATES)
    return render(
        "exceptions.html",
        status=status,
        found=found,
        parcels=parcels,
        counts=counts,
        tabs=STATE_TABS,
        kinds=desk.KINDS,
        **filters,
    )


@bp.get("/app/exceptions")
@page(Role.staff)
def exceptions() -> Any:
    return _listing()


def _step(exception_id: int, action: str) -> Any:
    rt = runtime()
    note = request.form.get("note")
    try:
        if action == "acknowledge":
            row = desk.acknowledge(rt, g.account_id, exception_id, g.actor, note)
        else:
            row = desk.resolve(rt, g.account_id, exception_id, g.actor, note or "")
    except NotFound:
        abort(404)
    except (Conflict, InvalidInput) as exc:
        flash(str(exc), "error")
        return _listing(status=409 if isinstance(exc, Conflict) else 400)
    what = "acknowledged" if action == "acknowledge" else "resolved"
    flash(f"Exception {row['id']} (order {row['order_number'] or row['order_id']}) {what}.", "ok")
    filters = _filters()
    return redirect(
        url_for("console.exceptions", state=filters["state"], kind=filters["kind"], after=filters["after"]),
        code=303,
    )


@bp.post("/app/exceptions/<int:exception_id>/acknowledge")
@page(Role.staff)
def exception_acknowledge(exception_id: int) -> Any:
    return _step(exception_id, "acknowledge")


@bp.post("/app/exceptions/<int:exception_id>/resolve")
@page(Role.staff)
def exception_resolve(exception_id: int) -> Any:
    return _step(exception_id, "resolve")
