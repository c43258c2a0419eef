"""The ``/v2`` route table: thin handlers from HTTP to the simulator's domain objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.harness import json_response

from . import addresses as addr
from . import label_files
from .common import Json, not_found, paginate, param_required
from .parcels import build_customs_info, build_customs_item, build_parcel
from .refunds import public_refund, refund_codes, request_refund
from .scenarios import check

if TYPE_CHECKING:
    from .simulator import Call, EasyPostSimulator

Result = tuple[int, Any]


def _body(call: Call, key: str) -> Json:
    value = call.body.get(key)
    if not isinstance(value, dict) or not value:
        raise param_required(key)
    return value


def _get(store: dict[str, Json], object_id: str) -> Json:
    if object_id not in store:
        raise not_found()
    return store[object_id]


# -- addresses
def create_address(sim: EasyPostSimulator, call: Call) -> Result:
    fields = _body(call, "address")
    address = addr.build_address(sim.ids, sim.clock.now(), call.mode, fields)
    strict = addr.wants(call.body.get("verify_strict") or fields.get("verify_strict"))
    if strict or addr.wants(call.body.get("verify") or fields.get("verify")):
        address, errors = addr.verify(address, sim.clock.now())
        if errors and strict:
            raise addr.verify_failure(errors)
    sim.shipping.addresses[address["id"]] = address
    return 201, address


def create_and_verify_address(sim: EasyPostSimulator, call: Call) -> Result:
    address = addr.build_address(sim.ids, sim.clock.now(), call.mode, _body(call, "address"))
    verified, errors = addr.verify(address, sim.clock.now())
    if errors:
        raise addr.verify_failure(errors)
    sim.shipping.addresses[verified["id"]] = verified
    return 200, {"address": verified}


def verify_address(sim: EasyPostSimulator, call: Call, address_id: str) -> Result:
    verified, errors = addr.verify(_get(sim.shipping.addresses, address_id), sim.clock.now())
    if errors:
        raise addr.verify_failure(errors)
    verified["id"] = sim.ids.new("adr")  # EasyPost answers with a new, verified Address
    sim.shipping.addresses[verified["id"]] = verified
    return 200, {"address": verified}


def list_addresses(sim: EasyPostSimulator, call: Call) -> Result:
    return 200, paginate(list(sim.shipping.addresses.values()), call.args, "addresses")


# -- parcels and customs
def create_parcel(sim: EasyPostSimulator, call: Call) -> Result:
    parcel = build_parcel(sim.ids, sim.clock.now(), call.mode, _body(call, "parcel"))
    sim.shipping.parcels[parcel["id"]] = parcel
    return 201, parcel


def create_customs_item(sim: EasyPostSimulator, call: Call) -> Result:
    item = build_customs_item(sim.ids, sim.clock.now(), call.mode, _body(call, "customs_item"))
    sim.shipping.customs_items[item["id"]] = item
    return 201, item


def create_customs_info(sim: EasyPostSimulator, call: Call) -> Result:
    fields = _body(call, "customs_info")
    info = build_customs_info(sim.ids, sim.clock.now(), call.mode, fields, sim.shipping.customs_items)
    sim.shipping.customs_infos[info["id"]] = info
    return 201, info


# -- shipments
def create_shipment(sim: EasyPostSimulator, call: Call) -> Result:
    return 201, sim.shipping.create(sim.clock.now(), call.mode, call.body.get("shipment"), call.host)


def list_shipments(sim: EasyPostSimulator, call: Call) -> Result:
    shipments = list(sim.shipping.shipments.values())
    purchased = str(call.args.get("purchased", "")).lower()
    if purchased in ("true", "false"):
        shipments = [s for s in shipments if (s["postage_label"] is not None) == (purchased == "true")]
    return 200, paginate(shipments, call.args, "shipments")


def buy_shipment(sim: EasyPostSimulator, call: Call, shipment_id: str) -> Result:
    return 200, sim.shipping.buy(sim.clock.now(), call.mode, shipment_id, call.body, call.host)


def refund_shipment(sim: EasyPostSimulator, call: Call, shipment_id: str) -> Result:
    return 200, request_refund(sim.shipping, sim.clock.now(), shipment_id)


def insure_shipment(sim: EasyPostSimulator, call: Call, shipment_id: str) -> Result:
    return 200, sim.shipping.insure(sim.clock.now(), shipment_id, call.body)


def rerate_shipment(sim: EasyPostSimulator, call: Call, shipment_id: str) -> Result:
    return 200, sim.shipping.rerate(sim.clock.now(), shipment_id)


def retrieve_rate(sim: EasyPostSimulator, call: Call, rate_id: str) -> Result:
    for shipment in sim.shipping.shipments.values():
        for rate in shipment["rates"]:
            if rate["id"] == rate_id:
                return 200, rate
    raise not_found()


# -- refunds
def create_refunds(sim: EasyPostSimulator, call: Call) -> Result:
    return 201, refund_codes(sim.shipping, sim.clock.now(), _body(call, "refund"))


def list_refunds(sim: EasyPostSimulator, call: Call) -> Result:
    return 200, paginate([public_refund(r) for r in sim.shipping.refunds.values()], call.args, "refunds")


def retrieve_refund(sim: EasyPostSimulator, call: Call, refund_id: str) -> Result:
    return 200, public_refund(_get(sim.shipping.refunds, refund_id))


# -- trackers
def create_tracker(sim: EasyPostSimulator, call: Call) -> Result:
    fields = _body(call, "tracker")
    if not fields.get("tracking_code"):
        raise param_required("tracker.tracking_code")
    tracker, created = sim.tracking.create(
        sim.clock.now(), call.mode, str(fields["tracking_code"]), fields.get("carrier")
    )
    if created:
        sim.events.emit(call.mode, "tracker.created", tracker)
    return 200, tracker


def list_trackers(sim: EasyPostSimulator, call: Call) -> Result:
    codes = call.args.getlist("tracking_codes[]") or [c for c in [call.args.get("tracking_code")] if c]
    if codes:
        wanted = set(codes)
        ids = sorted(tid for (code, _), tid in sim.tracking.by_code.items() if code in wanted)
        order = list(sim.tracking.trackers)
        trackers = [sim.tracking.trackers[tid] for tid in sorted(ids, key=order.index)]
    else:
        trackers = list(sim.tracking.trackers.values())
    if call.args.get("carrier"):
        trackers = [t for t in trackers if t["carrier"].upper() == call.args["carrier"].upper()]
    return 200, paginate(trackers, call.args, "trackers")


# -- events and webhooks
def list_events(sim: EasyPostSimulator, call: Call) -> Result:
    return 200, paginate(sim.events.summaries(), call.args, "events")


def create_webhook(sim: EasyPostSimulator, call: Call) -> Result:
    return 201, sim.events.create_webhook(call.mode, _body(call, "webhook"))


def list_webhooks(sim: EasyPostSimulator, call: Call) -> Result:
    return 200, {"webhooks": [h for h in sim.events.webhooks.values() if h["mode"] == call.mode]}


def update_webhook(sim: EasyPostSimulator, call: Call, hook_id: str) -> Result:
    # The client sends the fields unwrapped; the API also accepts them under "webhook".
    wrapped = call.body.get("webhook")
    params: Json = wrapped if isinstance(wrapped, dict) else call.body
    return 201, sim.events.update_webhook(hook_id, params)


def delete_webhook(sim: EasyPostSimulator, call: Call, hook_id: str) -> Result:
    sim.events.delete_webhook(hook_id)
    return 200, {}


def retrieve_event(sim: EasyPostSimulator, call: Call, event_id: str) -> Result:
    return 200, sim.events.public_event(event_id)


def retrieve_webhook(sim: EasyPostSimulator, call: Call, hook_id: str) -> Result:
    return 200, sim.events.get_webhook(hook_id)


def _retrieve(store: Callable[[EasyPostSimulator], dict[str, Json]]) -> Callable[..., Result]:
    """A handler answering one stored object by id (404 otherwise)."""

    def handler(sim: EasyPostSimulator, call: Call, object_id: str) -> Result:
        return 200, _get(store(sim), object_id)

    return handler


ROUTES: list[tuple[str, list[str], str, Callable[..., Result]]] = [
    ("/addresses", ["POST"], "address.create", create_address),
    ("/addresses/create_and_verify", ["POST"], "address.create_and_verify", create_and_verify_address),
    ("/addresses", ["GET"], "address.list", list_addresses),
    ("/addresses/<object_id>", ["GET"], "address.retrieve", _retrieve(lambda sim: sim.shipping.addresses)),
    ("/addresses/<address_id>/verify", ["GET"], "address.verify", verify_address),
    ("/parcels", ["POST"], "parcel.create", create_parcel),
    ("/parcels/<object_id>", ["GET"], "parcel.retrieve", _retrieve(lambda sim: sim.shipping.parcels)),
    ("/customs_items", ["POST"], "customs_item.create", create_customs_item),
    (
        "/customs_items/<object_id>",
        ["GET"],
        "customs_item.retrieve",
        _retrieve(lambda sim: sim.shipping.customs_items),
    ),
    ("/customs_infos", ["POST"], "customs_info.create", create_customs_info),
    (
        "/customs_infos/<object_id>",
        ["GET"],
        "customs_info.retrieve",
        _retrieve(lambda sim: sim.shipping.customs_infos),
    ),
    ("/shipments", ["POST"], "shipment.create", create_shipment),
    ("/shipments", ["GET"], "shipment.list", list_shipments),
    ("/shipments/<object_id>", ["GET"], "shipment.retrieve", _retrieve(lambda sim: sim.shipping.shipments)),
    ("/shipments/<shipment_id>/buy", ["POST"], "shipment.buy", buy_shipment),
    ("/shipments/<shipment_id>/refund", ["POST"], "shipment.refund", refund_shipment),
    ("/shipments/<shipment_id>/insure", ["POST"], "shipment.insure", insure_shipment),
    ("/shipments/<shipment_id>/rerate", ["POST"], "shipment.rerate", rerate_shipment),
    ("/rates/<rate_id>", ["GET"], "rate.retrieve", retrieve_rate),
    ("/refunds", ["POST"], "refund.create", create_refunds),
    ("/refunds", ["GET"], "refund.list", list_refunds),
    ("/refunds/<refund_id>", ["GET"], "refund.retrieve", retrieve_refund),
    ("/trackers", ["POST"], "tracker.create", create_tracker),
    ("/trackers", ["GET"], "tracker.list", list_trackers),
    ("/trackers/<object_id>", ["GET"], "tracker.retrieve", _retrieve(lambda sim: sim.tracking.trackers)),
    ("/events", ["GET"], "event.list", list_events),
    ("/events/<event_id>", ["GET"], "event.retrieve", retrieve_event),
    ("/webhooks", ["POST"], "webhook.create", create_webhook),
    ("/webhooks", ["GET"], "webhook.list", list_webhooks),
    ("/webhooks/<hook_id>", ["GET"], "webhook.retrieve", retrieve_webhook),
    ("/webhooks/<hook_id>", ["PATCH", "PUT"], "webhook.update", update_webhook),
    ("/webhooks/<hook_id>", ["DELETE"], "webhook.delete", delete_webhook),
]


def _label_file(sim: EasyPostSimulator) -> Any:
    """A bought label's file at its ``label_url`` (PNG, PDF or ZPL, as it was bought); else 404."""

    def handler(request: Request, day: str, name: str) -> Response:
        ext = name.rpartition(".")[2]
        for shipment in list(sim.shipping.shipments.values()):
            label = shipment.get("postage_label") or {}
            if str(label.get("label_url") or "").endswith(f"/{day}/{name}"):
                rate = shipment.get("selected_rate") or {}
                body = label_files.render(
                    ext,
                    str(rate.get("carrier", "")),
                    str(rate.get("service", "")),
                    str(shipment["tracking_code"]),
                )
                return Response(body, mimetype=label_files.TYPES.get(ext, "application/octet-stream"))
        return Response("Not Found", status=404, mimetype="text/plain")

    return handler


def _control_advance(sim: EasyPostSimulator) -> Any:
    def handler(request: Request) -> Response:
        data = request.get_json(silent=True) or {}
        try:
            seconds = float(data.get("seconds", 0))
            step_s = float(data["step_s"]) if data.get("step_s") is not None else None
        except (TypeError, ValueError):
            return json_response({"error": "seconds and step_s must be numbers"}, 400)
        if seconds < 0 or (step_s is not None and step_s <= 0):
            return json_response({"error": "seconds must be >= 0 and step_s > 0"}, 400)
        deliveries = sim.advance(seconds, step_s)
        return json_response({"now": sim.clock.now(), "delivered": len(deliveries)})

    return handler


def _control_script(sim: EasyPostSimulator) -> Any:
    """``{"tracker", "scenario", **params}``, or ``{"scripts": [those, ...]}`` (all checked first)."""

    def handler(request: Request) -> Response:
        data = request.get_json(silent=True) or {}
        listed = data.get("scripts")
        items: list[Any] = listed if isinstance(listed, list) else [data]
        scripts = []
        for item in items:
            if not isinstance(item, dict):
                return json_response({"error": "each script is an object"}, 400)
            params = {k: v for k, v in item.items() if k not in ("tracker", "scenario")}
            scripts.append((str(item.get("tracker", "")), str(item.get("scenario", "")), params))
        try:
            for _, scenario, params in scripts:
                check(scenario, params)
            for tracker, scenario, params in scripts:
                sim.script_tracker(tracker, scenario, **params)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True, "scripted": len(scripts)})

    return handler


def _control_mix(sim: EasyPostSimulator) -> Any:
    """``POST {"mix": {scenario: share or {"share", **params}}}``; both verbs answer the mix in force."""

    def handler(request: Request) -> Response:
        if request.method == "POST":
            mix = (request.get_json(silent=True) or {}).get("mix")
            if not isinstance(mix, dict):
                return json_response({"error": "mix must be an object of scenario: share"}, 400)
            try:
                sim.script_mix(mix)
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        mixed = {name: {"share": share, **params} for name, (share, params) in sim.tracking.mix.items()}
        return json_response({"mix": mixed})

    return handler


def _control_tracking(sim: EasyPostSimulator) -> Any:
    def handler(request: Request) -> Response:
        return json_response(sim.tracking_report())

    return handler


def register(sim: EasyPostSimulator) -> None:
    """Add the API routes, the label file route and the EasyPost control routes."""
    for rule, methods, op, handler in ROUTES:
        sim.api(rule, methods, op, handler)
    sim.route("/files/postage_label/<day>/<name>", _label_file(sim), ["GET"], endpoint="_label_file")
    sim.route("/_sandbox/easypost/advance", _control_advance(sim), ["POST"], endpoint="_ep_advance")
    sim.route("/_sandbox/easypost/script_tracker", _control_script(sim), ["POST"], endpoint="_ep_script")
    sim.route("/_sandbox/easypost/tracking", _control_tracking(sim), ["GET"], endpoint="_ep_tracking")
    sim.route("/_sandbox/easypost/scenario_mix", _control_mix(sim), ["GET", "POST"], endpoint="_ep_mix")
