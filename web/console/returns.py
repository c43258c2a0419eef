"""Console area: returns (at ``/app/returns``; ``/returns`` is the customers' portal).

The list by state (and those held for a person), newest first; a return's page with its
items and reasons, the policy's decision and the rules behind it, the evidence flags, the
return label, the parcel's scans, the refund plan and the return's timeline. The steps
are the functions ``/api/v1/returns/<id>/...`` call: ``override`` a refusal (with a note),
``receive`` the parcel (a condition for each item, the weight if weighed), ``approve`` or
``reject`` a held return (with a reason), ``close`` one. The signed-in user is the actor on
the order's timeline. A refused step changes nothing and is shown on the page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import func, select

from core.errors import Conflict, InvalidInput, NotFound
from core.returns import Condition, ReturnState
from db.models import Order, Return, Role, Store
from sync.returns import desk
from sync.returns.common import OPEN
from sync.returns.inspection import RECEIVABLE, SETTLED
from sync.returns.inspection import receive as receive_return
from sync.returns.requests import close as close_return
from sync.returns.requests import override as override_return
from web import runtime
from web.console import bp, page, render

PER_PAGE = 50
MAX_ACTOR = 80  # sync.returns.common.check_actor's limit


def _actor() -> str:
    """The signed-in user as the returns flow names people (it adds its own prefix)."""
    return str(g.actor).removeprefix("user:")[:MAX_ACTOR]


def _whole(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 11 else None


@bp.get("/app/returns")
@page(Role.staff)
def returns() -> Any:
    rt = runtime()
    state = request.args.get("state") or None
    if state is not None and state not in tuple(ReturnState):
        state = None
    held = True if request.args.get("held") == "1" else None
    before = _whole("before")
    rows = desk.list_returns(rt, g.account_id, state=state, held=held, limit=PER_PAGE + 1, before=before)
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    with rt.session() as s:
        counts = dict(
            s.execute(
                select(Return.state, func.count())
                .where(Return.account_id == g.account_id)
                .group_by(Return.state)
            ).all()
        )
        held_count = s.scalar(
            select(func.count())
            .select_from(Return)
            .where(Return.account_id == g.account_id, Return.hold_reason.is_not(None))
        )
        numbers = dict(
            s.execute(
                select(Order.id, Order.number).where(
                    Order.account_id == g.account_id, Order.id.in_([r["order_id"] for r in rows])
                )
            ).all()
        )
    return render(
        "returns.html",
        rows=rows,
        numbers=numbers,
        counts=counts,
        held_count=held_count or 0,
        states=tuple(ReturnState),
        state=state,
        held=held,
        before=before,
        next_before=rows[-1]["id"] if more else None,
    )


def _show(return_id: int, status: int = 200) -> Any:
    rt = runtime()
    try:
        ret = desk.show(rt, g.account_id, return_id)
    except NotFound:
        abort(404)
    with rt.session() as s:
        order = s.get(Order, ret["order_id"])
        store = s.get(Store, ret["store_id"])
        number = order.number if order is not None else None
        store_name = f"{store.platform} · {store.domain}" if store is not None else None
    state = ReturnState(ret["state"])
    can = {
        "override": state == ReturnState.refused,
        "receive": ret["inspected_at"] is None and (state in RECEIVABLE or state in SETTLED),
        "decide": ret["hold_reason"] is not None and ret["review"] is None,
        "close": state in OPEN or state == ReturnState.refused,
    }
    scans = [e for e in ret["timeline"] if e["action"] == "return.scan"]
    return render(
        "returns_show.html",
        status=status,
        ret=ret,
        number=number,
        store_name=store_name,
        can=can,
        scans=scans,
        conditions=[c.value for c in Condition],
    )


@bp.get("/app/returns/<int:return_id>")
@page(Role.staff)
def return_show(return_id: int) -> Any:
    return _show(return_id)


def _act(return_id: int, step: str) -> Any:
    rt = runtime()
    form = request.form
    try:
        if step == "override":
            override_return(rt, g.account_id, return_id, _actor(), form.get("note", ""))
            done = "Refusal overridden: the return is approved."
        elif step == "receive":
            conditions: dict[int | str, Condition | str] = {
                key.removeprefix("condition-"): value
                for key, value in form.items()
                if key.startswith("condition-")
            }
            receive_return(rt, g.account_id, return_id, conditions, form.get("weight_oz") or None, _actor())
            done = "Received and inspected."
        elif step == "approve":
            desk.approve(rt, g.account_id, return_id, _actor(), form.get("reason", ""))
            done = "Approved: the refund goes ahead on its evidence."
        elif step == "reject":
            desk.reject(rt, g.account_id, return_id, _actor(), form.get("reason", ""))
            done = "Rejected: no refund, the return is closed."
        else:
            close_return(rt, g.account_id, return_id, _actor(), form.get("reason", ""))
            done = "Closed."
    except NotFound:
        abort(404)
    except (Conflict, InvalidInput) as exc:
        flash(str(exc), "error")
        return _show(return_id, status=409 if isinstance(exc, Conflict) else 400)
    flash(f"Return {return_id}: {done}", "ok")
    return redirect(url_for("console.return_show", return_id=return_id), code=303)


@bp.post("/app/returns/<int:return_id>/override")
@page(Role.staff)
def return_override(return_id: int) -> Any:
    return _act(return_id, "override")


@bp.post("/app/returns/<int:return_id>/receive")
@page(Role.staff)
def return_receive(return_id: int) -> Any:
    return _act(return_id, "receive")


@bp.post("/app/returns/<int:return_id>/approve")
@page(Role.staff)
def return_approve(return_id: int) -> Any:
    return _act(return_id, "approve")


@bp.post("/app/returns/<int:return_id>/reject")
@page(Role.staff)
def return_reject(return_id: int) -> Any:
    return _act(return_id, "reject")


@bp.post("/app/returns/<int:return_id>/close")
@page(Role.staff)
def return_close(return_id: int) -> Any:
    return _act(return_id, "close")
