"""Pick and pack in the JSON API: the pick list for a batch of ready orders, and pack scans.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py). An order
is looked up in the caller's account only: another merchant's order is not found.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from sync import shipping
from web import api_models as m
from web.api import _error, authenticated, bp, runtime
from web.api_doc import operation
from web.edge import MAX_BIG_ID, parse_id

MAX_ORDERS = 500  # orders in one pick list


@bp.get("/pick-list")
@authenticated
@operation(m.PickList, query=m.PickListQuery, tag="pick and pack")
def pick_list() -> Any:
    """What to pick for a batch of orders: one line per SKU, in bin order.

    For ?order=ID (repeated for several) or every ready_to_ship order."""
    raw = request.args.getlist("order")
    parsed = [parse_id(value, MAX_BIG_ID) for value in raw]
    ids = [i for i in parsed if i is not None] if raw else None
    if ids is not None and len(ids) < len(parsed):
        return _error(400, "order must be an order id (a whole number), repeated for several")
    if ids is not None and len(ids) > MAX_ORDERS:
        return _error(400, f"at most {MAX_ORDERS} orders in one pick list")
    lines = shipping.pick_list_for(runtime(), g.account_id, ids)  # refusals: web/errors.py
    orders = sorted({o["id"] for line in lines for o in line["orders"]})
    return jsonify(lines=lines, orders=orders, units=sum(line["quantity"] for line in lines))


@bp.post("/orders/<bigid:order_id>/pack")
@authenticated
@operation(
    m.PackResult,
    json=m.PackRequest,
    ok_words="contents verified: the label is bought next",
    also={422: (m.PackResult, "contents do not match: the order stays ready_to_ship")},
    refusals={409: "the order is not ready to pack (stage or hold)"},
    tag="pick and pack",
)
def pack(order_id: int, json: m.PackRequest) -> Any:
    """Record a pack scan: the scanned SKUs are checked against the order before its label.

    200 when they match (the label is bought next), 422 with what is missing or extra when
    they do not (the order stays ready_to_ship)."""
    result = shipping.record_pack_scan(
        runtime(), g.account_id, order_id, json.scanned, json.actor
    )  # web/errors.py
    if not result["ok"]:
        return jsonify(error=f"contents do not match the order: {result['message']}", **result), 422
    return jsonify(result)
