"""Console area: stores (staff).

Each store of the account with its platform, state and health: webhook subscriptions (as
the last check left them), the last webhook received, failed inbound events, the last
reconciliation and the catalog import's progress. Buttons connect a Shopify shop or a
WooCommerce store through the install flows (``web/install.py``), queue a reconciliation
(``sync.reconcile.request_reconcile``) or a catalog import (``sync.catalog.request_import``);
a store's card polls itself (htmx) while one of those is under way.

In sandbox mode a "Connect a sandbox store" button starts a simulated Shopify or
WooCommerce store in this process (``sandbox/console.py``) and connects it through the
same install flows; outside sandbox mode the route does not exist for anyone (404).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import select

from db.models import Role, Store
from sync.catalog import PROGRESS, request_import
from sync.reconcile import RECONCILED_AT, REQUESTED_AT, request_reconcile
from sync.stores import webhook_health
from web import runtime
from web.console import FRAGMENT, bp, page, render

# A reconciliation asked for longer ago than this and not finished is not waited for on screen.
RECONCILE_WAIT = timedelta(minutes=10)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _card(store: Store, health: dict[str, Any]) -> dict[str, Any]:
    settings = store.settings or {}
    hooks = settings.get("webhooks") or {}
    reconciled = _when(settings.get(RECONCILED_AT))
    asked = _when(settings.get(REQUESTED_AT))
    now = datetime.now(UTC)
    reconciling = (
        asked is not None and (reconciled is None or reconciled < asked) and now - asked < RECONCILE_WAIT
    )
    progress = dict(settings.get(PROGRESS) or {})
    importing = progress.get("step") in ("queued", "reading", "linking")
    catalog = settings.get("catalog") or {}
    return {
        "id": store.id,
        "platform": str(store.platform),
        "domain": store.domain,
        "state": str(store.state),
        "installed_at": _when(store.installed_at),
        "hooks_ok": hooks.get("ok"),
        "hooks_checked_at": _when(hooks.get("checked_at")),
        "hooks_error": hooks.get("error"),
        "last_webhook_at": _when(health.get("last_webhook_at")),
        "failed": health.get("failed", 0),
        "reconciled_at": reconciled,
        "reconciling": reconciling,
        "progress": progress,
        "importing": importing,
        "imported_at": _when(catalog.get("imported_at")),
        "mapped": catalog.get("mapped"),
        "busy": reconciling or importing,
    }


def _cards(store_id: int | None = None) -> list[dict[str, Any]]:
    with runtime().session() as s:
        query = select(Store).where(Store.account_id == g.account_id).order_by(Store.id)
        if store_id is not None:
            query = query.where(Store.id == store_id)
        stores = list(s.scalars(query))
        health = webhook_health(s, g.account_id, [st.id for st in stores])
        return [_card(st, health[st.id]) for st in stores]


def _one(store_id: int) -> dict[str, Any]:
    found = _cards(store_id)
    if not found:
        abort(404)  # another merchant's store is simply not there
    return found[0]


def _answer(store_id: int, message: str) -> Any:
    """htmx gets the store's card back (it polls from there); a plain form, the page."""
    if request.headers.get("HX-Request") == "true":
        return render("stores_card.html", store=_one(store_id), message=message)
    flash(message, "ok")
    return redirect(url_for("console.stores") + f"#store-{store_id}", code=303)


@bp.get("/app/stores")
@page(Role.staff)
def stores() -> Any:
    rt = runtime()
    return render("stores.html", stores=_cards(), sandbox=rt.settings.sandbox)


@bp.get("/app/stores/<int:store_id>/card")
@page(Role.staff, kind=FRAGMENT)
def store_card(store_id: int) -> Any:
    return render("stores_card.html", store=_one(store_id), message=None)


@bp.post("/app/stores/<int:store_id>/reconcile")
@page(Role.staff)
def store_reconcile(store_id: int) -> Any:
    store = _one(store_id)
    if not request_reconcile(runtime(), store["id"], g.actor):
        return render(
            "stores_card.html", status=409, store=store, message="Only a connected store is reconciled."
        )
    return _answer(store_id, "Reconciliation queued: missed orders, stock changes and webhooks are checked.")


@bp.post("/app/stores/<int:store_id>/catalog")
@page(Role.staff)
def store_catalog(store_id: int) -> Any:
    store = _one(store_id)
    if not request_import(runtime(), store["id"], g.actor):
        return render(
            "stores_card.html",
            status=409,
            store=store,
            message="Only a connected store's catalog is imported.",
        )
    return _answer(store_id, "Catalog import queued.")


@bp.post("/app/stores/sandbox")
@page(Role.staff)
def store_sandbox() -> Any:
    """Connect a simulated store through the real install flow (sandbox mode only)."""
    rt = runtime()
    if not rt.settings.sandbox:
        abort(404)
    from sandbox.console import SandboxUnavailable, shopify_shop, woocommerce_store
    from web.install import connect_shopify

    platform = request.form.get("platform", "")
    try:
        if platform == "shopify":
            return connect_shopify(rt, shopify_shop(rt, g.account_name or "merchant"), g.account_id)
        if platform == "woocommerce":
            return redirect(url_for("install.woo_start", store_url=woocommerce_store(rt)), code=303)
    except SandboxUnavailable as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.stores"), code=303)
    flash("Choose Shopify or WooCommerce.", "error")
    return redirect(url_for("console.stores"), code=303)
