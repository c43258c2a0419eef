"""`waybill tracking ...`: delivery exceptions, a parcel's tracking, its page's link, and
carrier performance, for operators.

Exceptions and shipments are the operator's whatever the account (``--account`` narrows a
list); performance is one account's (``--account``, or the only account there is).
Acknowledging and resolving are kept on the order's timeline with the actor ``cli`` (or
``cli:<--actor>``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click
from flask.cli import AppGroup

from core.errors import Refusal
from core.transit import percent
from sync.tracking import desk, performance, timeline
from sync.tracking.links import tracking_page_url
from web.cli import BIG_ID, SMALL_ID, rt
from web.cli_stock import account_id_for, account_option

tracking_cli = AppGroup("tracking", help="Delivery exceptions, parcels' tracking and carrier performance.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _actor(actor: str | None) -> str:
    return f"cli:{actor.strip()}" if actor and actor.strip() else "cli"


def _exception_line(e: dict[str, Any]) -> str:
    return (
        f"{e['id']:<6} {e['state']:<12} {e['kind']:<20} order {e['order_number'] or e['order_id']:<10} "
        f"parcel {e['shipment_id']:<6} since {e['opened_at'][:16]}  {e['reason']}"
    )


@tracking_cli.command("exceptions")
@click.option("--state", type=click.Choice(desk.FILTERS), default="unfinished", show_default=True)
@click.option("--kind", type=click.Choice(desk.KINDS), default=None)
@click.option("--account", "account_name", help="Only this merchant account's (default: every account).")
@click.option(
    "--limit", type=click.IntRange(1, desk.MAX_LIMIT), default=desk.DEFAULT_LIMIT, show_default=True
)
@click.option("--after", type=click.IntRange(0, 2**63 - 1), default=None, help="Ids after this one (paging).")
@click.option("--json", "as_json", is_flag=True)
def exceptions(
    state: str, kind: str | None, account_name: str | None, limit: int, after: int | None, as_json: bool
) -> None:
    """Delivery exceptions, oldest first (default: open and acknowledged)."""
    account_id = account_id_for(account_name) if account_name is not None else None
    page = desk.list_exceptions(rt(), account_id, state=state, kind=kind, limit=limit, after=after)
    if as_json:
        _echo_json(page.to_json())
        return
    if not page.exceptions:
        click.echo("no exceptions")
    for e in page.exceptions:
        click.echo(_exception_line(e))
        click.echo(f"{'':<7}action: {e['action']}")
    if page.next_after is not None:
        click.echo(f"more: --after {page.next_after}")


def _step(done: str, act: Any) -> None:
    try:
        row = act()
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"exception {row['id']} {done} ({row['kind']}, order {row['order_number'] or row['order_id']})"
    )


@tracking_cli.command("ack")
@click.argument("exception_id", type=SMALL_ID)
@click.option("--note", default=None, help="What is being done (kept on the order's timeline).")
@click.option("--actor", default=None, help="Who (default: cli).")
def ack(exception_id: int, note: str | None, actor: str | None) -> None:
    """Acknowledge an open exception: someone is on it."""
    _step("acknowledged", lambda: desk.acknowledge(rt(), None, exception_id, _actor(actor), note))


@tracking_cli.command("resolve")
@click.argument("exception_id", type=SMALL_ID)
@click.option("--note", required=True, help="How it was resolved (kept on the order's timeline).")
@click.option("--actor", default=None, help="Who (default: cli).")
def resolve(exception_id: int, note: str, actor: str | None) -> None:
    """Resolve an open or acknowledged exception, saying how."""
    _step("resolved", lambda: desk.resolve(rt(), None, exception_id, _actor(actor), note))


def _show_view(view: timeline.TrackingView) -> None:
    est = view.est_delivery_at.isoformat() if view.est_delivery_at else "-"
    carrier = " ".join(p for p in (view.carrier, view.service, view.tracking_code) if p) or "no label yet"
    click.echo(f"parcel {view.package} (shipment {view.shipment_id}): {carrier}")
    click.echo(f"  state: {view.state or '-'} ({view.state_words}); estimated delivery: {est}")
    for notice in view.notices:
        click.echo(f"  exception {notice.exception_id} {notice.state}: {notice.kind}: {notice.reason}")
    for scan in view.scans:
        where = f" - {scan.place}" if scan.place else ""
        click.echo(f"  {scan.happened_at.isoformat()}  {scan.status:<20} {scan.message or ''}{where}")


@tracking_cli.command("show")
@click.argument("order_id", type=BIG_ID)
@click.option("--json", "as_json", is_flag=True)
def show(order_id: int, as_json: bool) -> None:
    """An order's parcels: delivery state, estimate, open exceptions and scans (newest first)."""
    try:
        with rt().session() as s:
            views = timeline.order_views(s, None, order_id)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json([v.to_json() for v in views])
        return
    if not views:
        click.echo(f"order {order_id} has no parcels yet")
    for view in views:
        _show_view(view)


@tracking_cli.command("link")
@click.argument("shipment_id", type=SMALL_ID)
def link(shipment_id: int) -> None:
    """The parcel's public tracking page (a signed URL: share it with the customer only)."""
    try:
        with rt().session() as s:
            timeline.shipment_view(s, None, shipment_id)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(tracking_page_url(rt(), shipment_id))


@tracking_cli.command("performance")
@account_option
@click.option("--carrier", default=None, help="One carrier (any case).")
@click.option("--route-class", type=click.Choice(performance.ROUTE_CLASSES), default=None)
@click.option("--json", "as_json", is_flag=True)
def carrier_performance(
    account_name: str | None, carrier: str | None, route_class: str | None, as_json: bool
) -> None:
    """On-time rate and transit days per carrier, service and route class."""
    account_id = account_id_for(account_name)
    try:
        rows = performance.performance_rows(rt(), account_id, carrier, route_class)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no delivered parcels to measure yet")
        return
    click.echo(_columns("carrier", "service", "route", "parcels", "on time", "p50 d", "p90 d"))
    for r in rows:
        rate = r["on_time_rate"]
        shown = percent(Decimal(rate)) if rate is not None else "-"
        click.echo(
            _columns(
                r["carrier"],
                r["service"],
                r["route_class"],
                r["shipments"],
                shown,
                r["transit_days_p50"],
                r["transit_days_p90"],
            )
        )


def _columns(carrier: str, service: str, route: str, parcels: Any, rate: str, p50: str, p90: str) -> str:
    return f"{carrier:<10} {service:<22} {route:<14} {parcels:>7} {rate:>9} {p50:>6} {p90:>6}"
