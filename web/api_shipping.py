"""Pick and pack in the JSON API: the pick list for a batch of ready orders, and pack scans.

Routes join the API blueprint of web/api.py; each is listed in web/openapi.py. An order
is looked up in the caller's account only: another merchant's order is not found.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from sync import shipping
from web.api import _error, authenticated, bp, runtime
from web.edge import MAX_BIG_ID, parse_id

MAX_SCANS = 1000  # codes in one pack scan
MAX_ORDERS = 500  # orders in one pick list


@bp.get("/pick-list")
@authenticated
def pick_list() -> Any:
    """One line per SKU in walking (bin) order, for ?order=ID... or every ready_to_ship order."""
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
def pack(order_id: int) -> Any:
    """Check the scanned SKUs against the order: 200 when they match (the label is bought next),
    422 with what is missing or extra when they do not (the order stays ready_to_ship)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "expected a JSON object: {scanned: [codes], actor}")
    scanned, actor = body.get("scanned"), body.get("actor")
    if not isinstance(scanned, list) or not all(isinstance(c, str) for c in scanned):
        return _error(400, "scanned must be a list of SKUs or barcodes (text)")
    if len(scanned) > MAX_SCANS:
        return _error(400, f"at most {MAX_SCANS} codes in one scan")
    if not isinstance(actor, str) or not actor.strip():
        return _error(400, "actor is required: who packed the parcel (text)")
    result = shipping.record_pack_scan(runtime(), g.account_id, order_id, scanned, actor)  # see web/errors.py
    if not result["ok"]:
        return jsonify(error=f"contents do not match the order: {result['message']}", **result), 422
    return jsonify(result)
