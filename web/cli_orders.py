"""`waybill orders ...` and `waybill sync ...`."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.errors import Permanent, Refusal, Retryable
from core.lifecycle import NAMES
from db.models import Order, Store, StoreState
from sync import review
from sync.catalog import import_catalog
from sync.reconcile import reconcile_store
from sync.stock_audit import inventory_audit
from web.cli import BIG_ID, SMALL_ID, outside_failure, rt
from web.cli_stock import account_id_for, account_option
from web.cli_work import report
from web.order_reports import order_detail, order_line

orders_cli = AppGroup("orders", help="Orders Waybill holds.")
sync_cli = AppGroup("sync", help="Reconciliation with the storefronts.")


@orders_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--store", "store_id", type=SMALL_ID, help="Only this store's orders.")
@click.option("--stage", type=click.Choice(NAMES), help="Only orders at this stage (on_hold: review).")
@click.option("--limit", default=100, show_default=True)
def list_orders(as_json: bool, store_id: int | None, stage: str | None, limit: int) -> None:
    """The newest orders first."""
    query = select(Order).order_by(Order.platform_updated_at.desc(), Order.id.desc()).limit(limit)
    if store_id is not None:
        query = query.where(Order.store_id == store_id)
    if stage is not None:
        query = query.where(Order.stage == stage)
    with rt().session() as s:
        items = [order_line(o) for o in s.scalars(query)]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no orders" + (f" from store {store_id}" if store_id is not None else " yet"))
    for i in items:
        total = i["total"] or {}
        click.echo(
            f"{i['id']:>6}  {i['platform']:<12} {i['number']:<12} {i['stage']:<12} "
            f"{i['financial_status']:<18} {total.get('amount')} {total.get('currency')}"
        )


@orders_cli.command("show")
@click.argument("order_id", type=BIG_ID)
@click.option("--json", "as_json", is_flag=True)
def show_order(order_id: int, as_json: bool) -> None:
    """One order: its stage, risk verdict with the facts, review, parcels with the rates
    considered and chosen, and its timeline (who did what, and why)."""
    with rt().session() as s:
        order = s.get(Order, order_id)
        if order is None:
            raise click.ClickException(f"no order {order_id}")
        item = {**order_line(order), **order_detail(s, order)}
    if as_json:
        click.echo(json.dumps(item, indent=2))
        return
    click.echo(
        f"order {item['id']} {item['number']} ({item['platform']} {item['platform_order_id']}) "
        f"{item['stage']}" + (f" - held: {item['hold_reason']}" if item["hold_reason"] else "")
    )
    risk = item["risk"]
    if risk:
        click.echo(f"  risk: score {risk['score']}, {risk['decision']}: {risk['reason']}")
        for fact in risk.get("facts", []):
            click.echo(f"    +{fact['weight']:<4} {fact['rule']}: {fact['detail']}")
    if item["review"]:
        r = item["review"]
        click.echo(f"  review: {r['decision']} by {r['reviewer']}: {r['reason']}")
    for sh in item["shipments"]:
        chosen = sh["rate_chosen"] or {}
        price = (chosen.get("price") or {}).get("amount")
        click.echo(
            f"  parcel {sh['package']} {sh['state']}: {len(sh['rates_considered'])} rate(s) considered, "
            f"chosen {chosen.get('carrier')} {chosen.get('service')} {price}"
        )
    for e in item["timeline"]:
        click.echo(f"  {e['at']}  {e['actor']:<28} {e['action']:<24} {e['reason'] or ''}")


def _decide(decide: Any, order_id: int, reviewer: str, reason: str) -> None:
    with rt().session() as s:
        order = s.get(Order, order_id)
        if order is None:
            raise click.ClickException(f"no order {order_id}")
        account_id = order.account_id
    try:
        result = decide(rt(), account_id, order_id, reviewer, reason)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"order {order_id}: {result['stage']}")
    verb = "approved" if decide is review.approve else "rejected"
    report(rt(), f"{verb} order {order_id}", order_id)


@orders_cli.command("approve")
@click.argument("order_id", type=BIG_ID)
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--reason", required=True, help="Why (kept on the order's timeline).")
def approve_order(order_id: int, reviewer: str, reason: str) -> None:
    """Release a held order: it resumes at ready_to_ship."""
    _decide(review.approve, order_id, reviewer, reason)


@orders_cli.command("reject")
@click.argument("order_id", type=BIG_ID)
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--reason", required=True, help="Why (kept on the order's timeline).")
def reject_order(order_id: int, reviewer: str, reason: str) -> None:
    """Refuse a held order: it is cancelled on the storefront."""
    _decide(review.reject, order_id, reviewer, reason)


@orders_cli.command("trust")
@click.argument("email")
@click.option("--note", default=None, help="Why this customer is trusted.")
@account_option
def trust_customer(email: str, note: str | None, account_name: str | None) -> None:
    """Add a customer to the account's allowlist: the risk rules never hold their orders."""
    try:
        added = review.trust(rt(), account_id_for(account_name), email, note)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{email.strip().lower()}: " + ("trusted" if added else "already trusted"))


@orders_cli.command("untrust")
@click.argument("email")
@account_option
def untrust_customer(email: str, account_name: str | None) -> None:
    """Remove a customer from the account's allowlist."""
    if not review.untrust(rt(), account_id_for(account_name), email):
        raise click.ClickException(f"{email} is not on the allowlist")
    click.echo(f"{email.strip().lower()}: no longer trusted")


def store_ids(store_id: int | None) -> list[int]:
    """The store named by --store (which must exist and be active), or every active store."""
    with rt().session() as s:
        if store_id is None:
            query = select(Store.id).where(Store.state == StoreState.active).order_by(Store.id)
            return list(s.scalars(query))
        store = s.get(Store, store_id)
        if store is None:
            raise click.ClickException(f"no store {store_id} (`./waybill shops list` shows the stores)")
        if store.state is not StoreState.active:
            raise click.ClickException(f"store {store_id} ({store.domain}) is {store.state}, not active")
        return [store_id]


def store_label(store_id: int) -> str:
    with rt().session() as s:
        store = s.get(Store, store_id)
        return f"store {store_id}" + (f" ({store.platform} {store.domain})" if store is not None else "")


def fail_if_any(failures: list[str]) -> None:
    """Each store that failed is one line on stderr; any failure is a non-zero exit."""
    if failures:
        for line in failures:
            click.echo(f"Error: {line}", err=True)
        raise click.exceptions.Exit(1)


@sync_cli.command("reconcile")
@click.option("--store", "store_id", type=SMALL_ID, help="Only this store (default: every active store).")
def reconcile(store_id: int | None) -> None:
    """Poll the storefronts for changed orders and repair webhook subscriptions, now."""
    failures: list[str] = []
    for sid in store_ids(store_id):
        try:
            click.echo(json.dumps(reconcile_store(rt(), sid)))
        except (Permanent, Retryable) as exc:  # one store's trouble does not stop the others
            failures.append(outside_failure(store_label(sid), exc))
    fail_if_any(failures)


@sync_cli.command("catalog")
@click.option("--store", "store_id", type=SMALL_ID, help="Only this store (default: every active store).")
@click.option("--json", "as_json", is_flag=True)
def catalog(store_id: int | None, as_json: bool) -> None:
    """Import the storefronts' catalogs now: link SKUs, seed the ledger, report what was not linked."""
    ids = store_ids(store_id)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    for sid in ids:
        try:
            results.append(import_catalog(rt(), store_id=sid))
        except (Permanent, Retryable) as exc:  # one store's trouble does not stop the others
            results.append({"store_id": sid, "error": f"{type(exc).__name__}: {exc}"})
            failures.append(outside_failure(store_label(sid), exc))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        fail_if_any(failures)
        return
    for r in results:
        if r.get("skipped"):
            click.echo(f"store {r['store_id']}: skipped (not an active store)")
            continue
        if r.get("error"):
            continue  # said on stderr below
        click.echo(
            f"store {r['store_id']} ({r['platform']}): {r['mapped']} mapped, "
            f"{r['unmapped_count']} without SKU, {len(r['duplicates'])} duplicated SKU(s), "
            f"{r['untracked']} untracked"
        )
        for e in r["unmapped"]:
            variant = f" variant {e['variant_id']}" if e["variant_id"] is not None else ""
            click.echo(f"  no SKU: product {e['product_id']}{variant}  {e['title']}")
        for sku, ids_ in r["duplicates"].items():
            click.echo(f"  duplicated SKU {sku}: " + ", ".join(str(i) for i in ids_))
        if r["no_level"]:
            click.echo("  tracked, but no level at the location we publish to: " + ", ".join(r["no_level"]))
    fail_if_any(failures)


@sync_cli.command("inventory-audit")
@click.option("--store", "store_id", type=SMALL_ID, help="Only this store (default: every active store).")
@click.option(
    "--heal",
    type=click.Choice(["ledger", "channel", "report"]),
    help="What to do with a difference (default: inventory.heal in config).",
)
@click.option("--json", "as_json", is_flag=True)
def inventory_audit_cmd(store_id: int | None, heal: str | None, as_json: bool) -> None:
    """Compare every channel's stock levels with the ledger now, and heal the differences."""
    ids = store_ids(store_id)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    for sid in ids:
        try:
            results.append(inventory_audit(rt(), store_id=sid, heal=heal))
        except (Permanent, Retryable) as exc:  # one store's trouble does not stop the others
            results.append({"store_id": sid, "error": f"{type(exc).__name__}: {exc}"})
            failures.append(outside_failure(store_label(sid), exc))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        fail_if_any(failures)
        return
    for r in results:
        if r.get("skipped") or r.get("error"):
            if r.get("skipped"):
                click.echo(f"store {r['store_id']}: skipped")
            continue  # a failure is said on stderr below
        click.echo(
            f"store {r['store_id']} ({r['platform']}): {r['checked']} SKU(s) checked, {r['found']} "
            f"difference(s), {r['healed']} healed ({r['policy']}), {r['observed']} changed on the channel "
            f"since the ledger knew it (observed), {r['skipped_in_flight']} in flight"
        )
        for d in r["discrepancies"]:
            shown = "no level" if d["channel"] is None else d["channel"]
            click.echo(f"  {d['sku']}: channel {shown}, ledger publishes {d['expected']} -> {d['outcome']}")
    fail_if_any(failures)
