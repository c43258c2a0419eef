"""Shipments: create (with rates), buy, refund (void), insure, rerate, and Refund objects."""

from __future__ import annotations

import collections
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import label_files
from .addresses import build_address, verify
from .common import ApiError, IdMaker, Json, fee_amount, iso, money, not_found, param_required
from .parcels import build_customs_info, build_parcel
from .rates import INTERNATIONAL_ZONE, build_rates, zone
from .tracking import Tracking
from .transit import DAY

INSURANCE_FEE_RATE = Decimal("0.01")  # 1% of the insured value, as in EasyPost's recorded insure call
DEFAULT_OPTIONS: Json = {"currency": "USD", "payment": {"type": "SENDER"}, "date_advance": 0}


def _fee(kind: str, amount: Decimal | str) -> Json:
    return {"object": "Fee", "type": kind, "amount": fee_amount(amount), "charged": True, "refunded": False}


class Shipping:
    """Owns addresses, parcels, customs, shipments, labels and refunds of one simulator."""

    def __init__(self, ids: IdMaker, tracking: Tracking, emit: Callable[..., Any]) -> None:
        self.ids = ids
        self.tracking = tracking
        self.emit = emit
        self.addresses: dict[str, Json] = {}
        self.parcels: dict[str, Json] = {}
        self.customs_infos: dict[str, Json] = {}
        self.customs_items: dict[str, Json] = {}
        self.shipments: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.labels: list[Json] = []  # every label purchase, in order
        self.label_counts: collections.Counter[str] = collections.Counter()
        self.by_tracking_code: dict[str, str] = {}

    # -- lookups
    def get(self, shipment_id: str) -> Json:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise not_found()
        return shipment

    def _resolve(self, store: dict[str, Json], value: Any, make: Callable[[Json], Json]) -> Json:
        """An object given inline (created now) or by ``{"id": ...}`` (reused)."""
        if isinstance(value, dict) and set(value) == {"id"}:
            if value["id"] not in store:
                raise not_found()
            return store[value["id"]]
        created = make(value)
        store[created["id"]] = created
        return created

    # -- create
    def create(self, now: float, mode: str, params: Any, host: str) -> Json:
        if not isinstance(params, dict) or not params:
            raise param_required("shipment")
        for required in ("to_address", "from_address", "parcel"):
            if not params.get(required):
                raise param_required(f"shipment.{required}")
        to_address = self._resolve(
            self.addresses, params["to_address"], lambda f: build_address(self.ids, now, mode, f)
        )
        from_address = self._resolve(
            self.addresses, params["from_address"], lambda f: build_address(self.ids, now, mode, f)
        )
        parcel = self._resolve(self.parcels, params["parcel"], lambda f: build_parcel(self.ids, now, mode, f))
        customs = None
        if params.get("customs_info"):
            customs = self._resolve(
                self.customs_infos,
                params["customs_info"],
                lambda f: build_customs_info(self.ids, now, mode, f, self.customs_items),
            )
        shipment = self._new_shipment(now, mode, params, to_address, from_address, parcel, customs)
        self.shipments[shipment["id"]] = shipment
        if params.get("service") and params.get("carrier"):
            return self._one_call_buy(now, mode, shipment, params, host)
        return shipment

    def _new_shipment(
        self, now: float, mode: str, params: Json, to: Json, sender: Json, parcel: Json, customs: Json | None
    ) -> Json:
        stamp = iso(now)
        shipment_id = self.ids.new("shp")
        zone_number = zone(sender, to)
        messages: list[Json] = []
        rates = build_rates(self.ids, now, mode, shipment_id, parcel["weight"], zone_number)
        if zone_number == INTERNATIONAL_ZONE and customs is None:
            # Carriers refuse to rate an international parcel without a customs declaration.
            messages = [
                {
                    "carrier": carrier,
                    "carrier_account_id": None,
                    "type": "rate_error",
                    "message": "Customs information is required for international shipments.",
                }
                for carrier in ("USPS", "UPS", "FedEx")
            ]
            rates = []
        return {
            "id": shipment_id,
            "created_at": stamp,
            "is_return": bool(params.get("is_return", False)),
            "messages": messages,
            "mode": mode,
            "options": {**(params.get("options") or {}), **DEFAULT_OPTIONS},
            "reference": params.get("reference"),
            "status": "unknown",
            "tracking_code": None,
            "updated_at": stamp,
            "batch_id": None,
            "batch_status": None,
            "batch_message": None,
            "customs_info": customs,
            "from_address": sender,
            "insurance": None,
            "order_id": None,
            "parcel": parcel,
            "postage_label": None,
            "rates": rates,
            "refund_status": None,
            "scan_form": None,
            "selected_rate": None,
            "tracker": None,
            "to_address": to,
            "usps_zone": min(zone_number, 9),
            "return_address": sender,
            "buyer_address": to,
            "forms": [],
            "fees": [],
            "object": "Shipment",
        }

    def _one_call_buy(self, now: float, mode: str, shipment: Json, params: Json, host: str) -> Json:
        wanted = (str(params["carrier"]).upper(), str(params["service"]))
        rate = next((r for r in shipment["rates"] if (r["carrier"].upper(), r["service"]) == wanted), None)
        if rate is None:
            raise ApiError(
                422, "SHIPMENT.POSTAGE.FAILURE", "No rate matches the requested carrier and service."
            )
        return self.buy(now, mode, shipment["id"], {"rate": {"id": rate["id"]}}, host)

    # -- buy
    def buy(self, now: float, mode: str, shipment_id: str, params: Json, host: str) -> Json:
        shipment = self.get(shipment_id)
        if shipment["postage_label"] is not None:
            raise ApiError(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
        wanted = params.get("rate")
        rate_id = wanted.get("id") if isinstance(wanted, dict) else wanted
        if not rate_id:
            raise param_required("rate")
        rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
        if rate is None:
            raise ApiError(422, "SHIPMENT.POSTAGE.FAILURE", "The rate does not belong to this shipment.")
        code = self._tracking_code(rate["carrier"])
        verified, errors = verify(shipment["to_address"], now)
        if not errors:
            # Buying verifies the destination in place, as EasyPost's bought shipments show.
            shipment["to_address"].update(verified)
        label = self._label(now, host, shipment["options"])
        shipment.update(
            {
                "tracking_code": code,
                "selected_rate": rate,
                "updated_at": iso(now),
                "postage_label": label,
                "fees": [_fee("LabelFee", "0"), _fee("PostageFee", rate["rate"])],
            }
        )
        if params.get("insurance"):
            self._set_insurance(shipment, params["insurance"])
        tracker, _ = self.tracking.create(
            now,
            mode,
            code,
            rate["carrier"],
            shipment_id=shipment_id,
            service=rate["service"],
            span=rate["delivery_days"] * DAY,
            # A return label carries the parcel the other way: EasyPost switches the addresses
            # of an ``is_return`` shipment, so it leaves the buyer (to_address) for the sender.
            origin=shipment["to_address"] if shipment["is_return"] else shipment["from_address"],
            destination=shipment["from_address"] if shipment["is_return"] else shipment["to_address"],
            is_return=shipment["is_return"],
            weight=shipment["parcel"]["weight"],
        )
        shipment["tracker"] = tracker
        self.by_tracking_code[code] = shipment_id
        self.labels.append(
            {
                "shipment_id": shipment_id,
                "tracking_code": code,
                "rate_id": rate["id"],
                "label_url": label["label_url"],
                "at": now,
            }
        )
        self.label_counts[shipment_id] += 1
        self.emit(mode, "tracker.created", tracker)
        return shipment

    def _tracking_code(self, carrier: str) -> str:
        prefixes = {"USPS": ("9400100", 15), "UPS": ("1Z999AA1", 10), "FedEx": ("7", 11)}
        prefix, count = prefixes.get(carrier, ("9400100", 15))
        return prefix + self.ids.digits(count)

    def _label(self, now: float, host: str, options: Json) -> Json:
        stamp = iso(now)
        file_type = str(options.get("label_format") or "PNG").lower()
        if file_type not in label_files.TYPES:
            file_type = "png"
        name = self.ids.new("pl")
        url = f"{host}files/postage_label/{stamp[:10].replace('-', '')}/{name[3:]}.{file_type}"
        return {
            "object": "PostageLabel",
            "id": name,
            "created_at": stamp,
            "updated_at": stamp,
            "date_advance": 0,
            "integrated_form": "none",
            "label_date": stamp,
            "label_resolution": 300,
            "label_size": "4x6",
            "label_type": "default",
            "label_file_type": label_files.file_type(file_type),
            "label_url": url,
            "label_pdf_url": url if file_type == "pdf" else None,
            "label_zpl_url": url if file_type == "zpl" else None,
            "label_epl2_url": None,
            "label_file": None,
        }

    # -- insure, rerate
    def _set_insurance(self, shipment: Json, amount: Any) -> None:
        try:
            value = Decimal(str(amount))
        except ArithmeticError as exc:
            raise ApiError(
                422,
                "PARAMETER.INVALID",
                "Invalid parameter.",
                [{"field": "amount", "message": "must be a number"}],
            ) from exc
        shipment["insurance"] = money(value)
        shipment["fees"] = [f for f in shipment["fees"] if f["type"] != "InsuranceFee"]
        shipment["fees"].append(_fee("InsuranceFee", value * INSURANCE_FEE_RATE))

    def insure(self, now: float, shipment_id: str, params: Json) -> Json:
        shipment = self.get(shipment_id)
        if not params.get("amount"):
            raise param_required("amount")
        if shipment["postage_label"] is None:
            raise ApiError(422, "SHIPMENT.INSURANCE.FAILURE", "Only purchased shipments can be insured.")
        self._set_insurance(shipment, params["amount"])
        shipment["updated_at"] = iso(now)
        return shipment

    def rerate(self, now: float, shipment_id: str) -> Json:
        shipment = self.get(shipment_id)
        zone_number = zone(shipment["from_address"], shipment["to_address"])
        weight = shipment["parcel"]["weight"]
        shipment["rates"] = build_rates(self.ids, now, shipment["mode"], shipment_id, weight, zone_number)
        return {"rates": shipment["rates"]}
