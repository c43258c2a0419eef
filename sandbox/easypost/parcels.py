"""Parcels, customs items and customs infos: stored objects shaped as EasyPost returns them."""

from __future__ import annotations

from typing import Any

from .common import ApiError, IdMaker, Json, iso, money

CUSTOMS_INFO_DEFAULTS: Json = {
    "contents_explanation": "",
    "contents_type": "merchandise",
    "customs_certify": False,
    "customs_signer": None,
    "eel_pfc": None,
    "non_delivery_option": "return",
    "restriction_comments": None,
    "restriction_type": "none",
    "declaration": None,
}


def _number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(
            422, "PARAMETER.INVALID", "Invalid parameter.", [{"field": field, "message": "must be a number"}]
        ) from exc


def _stamped(ids: IdMaker, prefix: str, kind: str, now: float) -> Json:
    stamp = iso(now)
    return {"id": ids.new(prefix), "object": kind, "created_at": stamp, "updated_at": stamp}


def build_parcel(ids: IdMaker, now: float, mode: str, fields: Json) -> Json:
    """A Parcel; ``weight`` (ounces) is required, as EasyPost requires it."""
    weight = _number(fields.get("weight"), "parcel.weight")
    if weight is None or weight <= 0:
        raise ApiError(
            422,
            "PARAMETER.REQUIRED",
            "Missing required parameter.",
            [{"field": "parcel.weight", "message": "cannot be blank"}],
        )
    parcel = _stamped(ids, "prcl", "Parcel", now)
    for dim in ("length", "width", "height"):
        parcel[dim] = _number(fields.get(dim), f"parcel.{dim}")
    parcel.update({"predefined_package": fields.get("predefined_package"), "weight": weight, "mode": mode})
    return parcel


def build_customs_item(ids: IdMaker, now: float, mode: str, fields: Json) -> Json:
    item = _stamped(ids, "cstitem", "CustomsItem", now)
    item.update(
        {
            "description": fields.get("description"),
            "hs_tariff_number": fields.get("hs_tariff_number"),
            "origin_country": fields.get("origin_country"),
            "quantity": int(fields.get("quantity") or 1),
            "value": money(fields.get("value") or 0),
            "weight": _number(fields.get("weight"), "weight") or 0.0,
            "code": fields.get("code"),
            "mode": mode,
            "manufacturer": fields.get("manufacturer"),
            "currency": fields.get("currency"),
            "eccn": fields.get("eccn"),
            "printed_commodity_identifier": fields.get("printed_commodity_identifier"),
        }
    )
    return item


def build_customs_info(ids: IdMaker, now: float, mode: str, fields: Json, items: dict[str, Json]) -> Json:
    """A CustomsInfo; nested items are created (or reused by id) and also stored in ``items``."""
    info = _stamped(ids, "cstinfo", "CustomsInfo", now)
    for key, default in CUSTOMS_INFO_DEFAULTS.items():
        info[key] = fields.get(key, default)
    info["mode"] = mode
    nested = []
    for raw in fields.get("customs_items") or []:
        if isinstance(raw, dict) and set(raw) == {"id"}:
            if raw["id"] not in items:
                raise ApiError(404, "NOT_FOUND", "The requested resource could not be found.")
            nested.append(items[raw["id"]])
            continue
        item = build_customs_item(ids, now, mode, raw)
        items[item["id"]] = item
        nested.append(item)
    info["customs_items"] = nested
    return info
