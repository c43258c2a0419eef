"""A merchant's own settings: ``account_settings.data`` over config.yaml's sections.

The console's settings page edits six parts of the configuration per account (risk
weights, boxes, service levels, carriers, notifications, return policy). What a merchant
saved is kept as overrides by config section and key (``{"risk": {"weights": {...}},
"shipping": {"boxes": [...]}, ...}``) and validated by the same pydantic models as
``settings.py`` before it is kept: a bad value changes nothing.

:func:`settings_for` is what the flows read: the process's settings with, for one
account, the per-merchant entries of config.yaml (``returns.merchants[<name>]``,
``tracking.merchants[<name>]``) and then the account's saved overrides laid over them.
It is cached per account and refreshed when the row's ``updated_at`` (or the account's
name) changes, so a save in the web process reaches every worker at its next job. Inside
a job (:func:`one_job`, entered by ``sync.jobs.execute``) an account's settings are read
from the database once: the job's later steps use what its first read found (a job's
steps read them up to four times: the storefront, the rules, the plan, the tracking page).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, select

from db.models import Account, AccountSettings, utcnow
from db.timeline import record
from settings import ReturnsSettings, RiskSettings, Settings, ShippingSettings, TrackingSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync.runtime import Runtime

# The parts a merchant edits: part -> the settings keys it holds (config section, key).
PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "risk": (("risk", "approve_below"), ("risk", "reject_at"), ("risk", "high_value"), ("risk", "weights")),
    "boxes": (("shipping", "boxes"),),
    "service_levels": (("shipping", "service_levels"), ("shipping", "default_level")),
    "carriers": (("shipping", "carriers_allow"), ("shipping", "carriers_deny"), ("shipping", "insure_above")),
    "notifications": (("tracking", "notices"), ("shipping", "notify_customer")),
    "returns": (
        ("returns", "window_days"),
        ("returns", "restocking_fee_pct"),
        ("returns", "exchange_allowed"),
        ("returns", "label"),
        ("returns", "refund_after"),
        ("returns", "non_returnable_skus"),
    ),
}
MODELS: dict[str, type[BaseModel]] = {
    "risk": RiskSettings,
    "shipping": ShippingSettings,
    "tracking": TrackingSettings,
    "returns": ReturnsSettings,
}
AUDIT_SUBJECT = "settings"
log = structlog.get_logger("waybill.account_settings")


class SettingsRefused(ValueError):
    """What a merchant submitted is not valid: ``errors`` maps each key (``weights.velocity``,
    ``boxes.0.length_cm``) to what is wrong with it. Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[datetime | None, str]
    settings: Settings


_lock = threading.Lock()
# The settings a job has read, by (runtime, account): None outside a job.
_job_memo: contextvars.ContextVar[dict[tuple[int, int], _Cached] | None] = contextvars.ContextVar(
    "waybill_job_settings", default=None
)
CACHE_ATTR = "_account_settings"  # the per-account cache lives on its runtime (a new app, a new cache)


def _cache_of(rt: Any) -> dict[int, _Cached]:
    cache: dict[int, _Cached] | None = getattr(rt, CACHE_ATTR, None)
    if cache is None:
        cache = {}
        setattr(rt, CACHE_ATTR, cache)
    return cache


# The account's name and stored settings (built once: read by nearly every job).
_STORED = (
    select(Account.name, AccountSettings.data, AccountSettings.updated_at)
    .outerjoin(AccountSettings, AccountSettings.account_id == Account.id)
    .where(Account.id == bindparam("w_account"))
)


def _stored(s: Session, account_id: int) -> tuple[str, dict[str, Any], datetime | None]:
    row = s.execute(_STORED, {"w_account": account_id}).first()
    if row is None:
        return "", {}, None
    return row[0], dict(row[1] or {}), row[2]


@contextmanager
def one_job() -> Iterator[None]:
    """Within: each account's settings are read once (the job's first read is kept)."""
    token = _job_memo.set({})
    try:
        yield
    finally:
        _job_memo.reset(token)


def settings_for(rt: Runtime, account_id: int, s: Session | None = None) -> Settings:
    """The settings the flows use for one account (see the module's text)."""
    return _read(rt, account_id, s).settings


def account_name(rt: Runtime, account_id: int, s: Session | None = None) -> str:
    """The account's name, from the same read as its settings ("" for an account not found):
    inside a job, no second query for it."""
    return _read(rt, account_id, s).stamp[1]


def _read(rt: Runtime, account_id: int, s: Session | None) -> _Cached:
    memo = _job_memo.get()
    if memo is not None and (found := memo.get((id(rt), account_id))) is not None:
        return found
    current = _current(rt, account_id, s)
    if memo is not None:
        memo[(id(rt), account_id)] = current
    return current


def _current(rt: Runtime, account_id: int, s: Session | None) -> _Cached:
    """The account's settings as the database has them now (merged once per change)."""
    if s is None:
        with rt.session() as own:
            name, data, at = _stored(own, account_id)
    else:
        name, data, at = _stored(s, account_id)
    stamp = (at, name)
    with _lock:
        hit = _cache_of(rt).get(account_id)
    if hit is not None and hit.stamp == stamp:
        return hit
    try:
        merged = merge(rt.settings, name, data)
    except SettingsRefused as exc:
        # Saved values that the configuration no longer accepts (config.yaml changed under
        # them): the flows go on with the configuration alone, and say so.
        log.warning("account_settings.ignored", account_id=account_id, keys=sorted(exc.errors))
        merged = merge(rt.settings, name, {})
    cached = _Cached(stamp, merged)
    with _lock:
        _cache_of(rt)[account_id] = cached
    return cached


def forget(rt: Runtime, account_id: int | None = None) -> None:
    """Drop the cached settings of one account (or all of ``rt``'s), the job's own read too."""
    memo = _job_memo.get()
    if memo is not None:
        memo.clear()
    with _lock:
        if account_id is None:
            _cache_of(rt).clear()
        else:
            _cache_of(rt).pop(account_id, None)


def _sections(base: Settings, name: str) -> dict[str, dict[str, Any]]:
    """The editable sections as plain data, the merchant's config.yaml entries applied."""
    returns = base.returns.for_merchant(name).model_dump()
    tracking = base.tracking.model_dump()
    own = base.tracking.merchants.get(name)
    tracking["merchants"] = {}
    if own is not None:
        for key, value in own.model_dump(exclude_none=True).items():
            if key in ("name", "logo_url"):
                continue
            tracking[key] = {**tracking["templates"], **value} if key == "templates" else value
        # The page's name and logo stay per merchant (MerchantTracking reads them there).
        tracking["merchants"] = {name: {"name": own.name, "logo_url": own.logo_url}}
    return {
        "risk": base.risk.model_dump(),
        "shipping": base.shipping.model_dump(),
        "tracking": tracking,
        "returns": returns,
    }


def _validated(sections: dict[str, dict[str, Any]]) -> dict[str, BaseModel]:
    out: dict[str, BaseModel] = {}
    errors: dict[str, str] = {}
    for section, model in MODELS.items():
        try:
            out[section] = model.model_validate(sections[section])
        except ValidationError as exc:
            for item in exc.errors():
                key = ".".join(str(p) for p in item["loc"]) or section
                errors.setdefault(key, str(item["msg"]))
    if not errors:
        errors = _consistency(out)
    if errors:
        raise SettingsRefused(errors)
    return out


def _consistency(models: dict[str, BaseModel]) -> dict[str, str]:
    """What the models accept one by one but the flows could not use together."""
    errors: dict[str, str] = {}
    risk, shipping = models["risk"], models["shipping"]
    assert isinstance(risk, RiskSettings) and isinstance(shipping, ShippingSettings)
    if risk.approve_below > risk.reject_at:
        errors["approve_below"] = "must not be above reject_at"
    if shipping.default_level not in shipping.service_levels:
        errors["default_level"] = "must be one of the service levels"
    names = [b.name for b in shipping.boxes]
    if len(set(names)) != len(names):
        errors["boxes"] = "box names must be unique"
    return errors


def merge(base: Settings, name: str, data: dict[str, Any]) -> Settings:
    """``base`` with the merchant ``name``'s config.yaml entries and ``data`` (saved overrides)."""
    sections = _sections(base, name)
    for section, keys in data.items():
        if section in sections and isinstance(keys, dict):
            saved = dict(keys)
            if section == "risk" and isinstance(saved.get("weights"), dict):
                # A rule config.yaml gains later keeps its weight until the merchant sets one.
                saved["weights"] = {**sections["risk"]["weights"], **saved["weights"]}
            sections[section].update(saved)
    models = _validated(sections)
    return base.model_copy(update=dict(models))


def part_values(settings: Settings, part: str) -> dict[str, Any]:
    """What one part holds in ``settings``, as JSON-ready data (the audit's before/after)."""
    out: dict[str, Any] = {}
    for section, key in PARTS[part]:
        model = getattr(settings, section)
        out[key] = model.model_dump(mode="json", include={key})[key]
    return out


def save_part(rt: Runtime, account_id: int, part: str, values: dict[str, Any], actor: str) -> Settings:
    """Validate and keep one part's new values for the account, with an audit entry on the
    timeline (subject ``settings``); returns the account's new settings.

    Raises :class:`SettingsRefused` (nothing kept) when a value is not valid, and
    ``KeyError`` for an unknown part or key."""
    allowed = {key for _, key in PARTS[part]}
    unknown = set(values) - allowed
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    with rt.session() as s:
        name, data, _ = _stored(s, account_id)
        before = merge(rt.settings, name, data)
        new = {section: dict(v) for section, v in data.items() if isinstance(v, dict)}
        for key, value in values.items():
            new.setdefault(keys_section(part, key), {})[key] = value
        after = merge(rt.settings, name, new)  # SettingsRefused: nothing kept
        # Keep JSON-ready values (Decimals as strings) as the models dumped them.
        for key in values:
            section = keys_section(part, key)
            new[section][key] = getattr(after, section).model_dump(mode="json", include={key})[key]
        row = s.get(AccountSettings, account_id, with_for_update=True)
        if row is None:
            row = AccountSettings(account_id=account_id, data={})
            s.add(row)
        row.data = new
        row.updated_at = utcnow()
        row.updated_by = actor[:200]
        old, changed = part_values(before, part), part_values(after, part)
        record(
            s,
            account_id,
            AUDIT_SUBJECT,
            actor,
            "settings.changed",
            f"{part.replace('_', ' ')} changed",
            {"section": part, "before": old, "after": changed},
        )
    forget(rt, account_id)
    return after


def keys_section(part: str, key: str) -> str:
    for section, name in PARTS[part]:
        if name == key:
            return section
    raise KeyError(key)
