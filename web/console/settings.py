"""Console area: settings (owner only).

The merchant's own risk weights, boxes, service levels, carriers, notifications and
return policy, over config.yaml's (``sync.account_settings``). Each part is one form;
a save is validated by the settings' own models before anything is kept (a bad value is
named next to its field and nothing changes) and leaves an audit entry on the timeline,
listed at the foot of the page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from db.models import Role, TimelineEntry
from sync.account_settings import AUDIT_SUBJECT, PARTS, SettingsRefused, part_values, save_part, settings_for
from web import runtime
from web.console import bp, page, render

TITLES = {
    "risk": "Risk weights",
    "boxes": "Boxes",
    "service_levels": "Service levels",
    "carriers": "Carriers",
    "notifications": "Notifications",
    "returns": "Return policy",
}
AUDIT_SHOWN = 20
BOX_FIELDS = ("name", "length_cm", "width_cm", "height_cm", "tare_g", "max_weight_g", "cost")
NOTICES = ("exceptions", "delays", "milestones")
EXTRA_ROWS = 1  # empty rows offered for a new box or service level


def _words(value: str) -> list[str]:
    return [w.strip() for w in value.replace("\n", ",").split(",") if w.strip()]


def _blank_none(value: str) -> str | None:
    return value.strip() or None


def _parse(part: str, form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The part's values from its form, and how pydantic's error keys map to the form's fields."""
    fields: dict[str, str] = {}
    if part == "risk":
        weights = {
            name[len("weights.") :]: value.strip()
            for name, value in form.items()
            if name.startswith("weights.")
        }
        values: dict[str, Any] = {
            "approve_below": form.get("approve_below", "").strip(),
            "reject_at": form.get("reject_at", "").strip(),
            "high_value": form.get("high_value", "").strip(),
            "weights": weights,
        }
        return values, fields
    if part == "boxes":
        boxes: list[dict[str, Any]] = []
        rows = sorted(
            {int(k.split(".")[1]) for k in form if k.startswith("boxes.") and k.split(".")[1].isdigit()}
        )
        for i in rows:
            row = {f: form.get(f"boxes.{i}.{f}", "").strip() for f in BOX_FIELDS}
            if not any(row.values()):
                continue
            fields.update({f"boxes.{len(boxes)}.{f}": f"boxes.{i}.{f}" for f in BOX_FIELDS})
            boxes.append({k: v for k, v in row.items() if v != ""})
        return {"boxes": boxes}, fields
    if part == "service_levels":
        levels: dict[str, Any] = {}
        rows = sorted(
            {int(k.split(".")[1]) for k in form if k.startswith("levels.") and k.split(".")[1].isdigit()}
        )
        for i in rows:
            name = form.get(f"levels.{i}.name", "").strip().lower()
            days = form.get(f"levels.{i}.max_days", "").strip()
            if not name and not days:
                continue
            levels[name] = {"max_days": days or None}
            fields[f"service_levels.{name}.max_days"] = f"levels.{i}.max_days"
            fields[f"service_levels.{name}"] = f"levels.{i}.name"
        return {
            "service_levels": levels,
            "default_level": form.get("default_level", "").strip().lower(),
        }, fields
    if part == "carriers":
        return {
            "carriers_allow": _words(form.get("carriers_allow", "")),
            "carriers_deny": _words(form.get("carriers_deny", "")),
            "insure_above": _blank_none(form.get("insure_above", "")),
        }, fields
    if part == "notifications":
        return {
            "notices": {n: form.get(f"notices.{n}") == "on" for n in NOTICES},
            "notify_customer": form.get("notify_customer") == "on",
        }, fields
    if part == "returns":
        return {
            "window_days": form.get("window_days", "").strip(),
            "restocking_fee_pct": form.get("restocking_fee_pct", "").strip(),
            "exchange_allowed": form.get("exchange_allowed") == "on",
            "label": form.get("label", ""),
            "refund_after": form.get("refund_after", ""),
            "non_returnable_skus": _words(form.get("non_returnable_skus", "")),
        }, fields
    raise KeyError(part)


def _audit(account_id: int) -> list[dict[str, Any]]:
    with runtime().session() as s:
        rows = s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.account_id == account_id, TimelineEntry.subject == AUDIT_SUBJECT)
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
            .limit(AUDIT_SHOWN)
        )
        out = []
        for row in rows:
            data = row.data or {}
            before, after = data.get("before") or {}, data.get("after") or {}
            changes = [
                (key, before.get(key), after.get(key)) for key in after if before.get(key) != after.get(key)
            ]
            out.append(
                {
                    "at": row.at,
                    "actor": row.actor,
                    "section": TITLES.get(str(data.get("section")), str(data.get("section"))),
                    "changes": changes,
                }
            )
        return out


def _show(
    status: int = 200, errors: dict[str, str] | None = None, failed: str | None = None, submitted: Any = None
) -> Any:
    rt = runtime()
    current = settings_for(rt, g.account_id)
    values = {part: part_values(current, part) for part in PARTS}
    return render(
        "settings.html",
        status=status,
        titles=TITLES,
        values=values,
        errors=errors or {},
        failed=failed,
        submitted=submitted,
        audit=_audit(g.account_id),
        extra_rows=EXTRA_ROWS,
        notices=NOTICES,
        box_fields=BOX_FIELDS,
    )


@bp.get("/app/settings")
@page(Role.owner)
def settings() -> Any:
    return _show()


@bp.post("/app/settings/<part>")
@page(Role.owner)
def settings_save(part: str) -> Any:
    if part not in PARTS:
        abort(404)
    values, fields = _parse(part, request.form)
    try:
        save_part(runtime(), g.account_id, part, values, g.actor)
    except SettingsRefused as exc:
        errors = {fields.get(key, key): message for key, message in exc.errors.items()}
        return _show(400, errors, part, request.form)
    flash(f"{TITLES[part]} saved.", "ok")
    return redirect(url_for("console.settings") + f"#{part}", code=303)
