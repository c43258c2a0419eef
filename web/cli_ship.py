"""`waybill ship ...`: pick lists, pack scans, and shipping an order now or voiding its labels."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.errors import Permanent, Refusal, Retryable
from core.lifecycle import SHIPPABLE, SHIPPED
from db.models import Order, Shipment
from sync import shipping
from web.cli import BIG_ID, outside_failure, rt
from web.cli_stock import account_id_for, account_option
from web.cli_work import report

ship_cli = AppGroup("ship", help="Pick, pack and ship orders.")


def _account_of(order_id: int) -> int:
    with rt().session() as s:
        order = s.get(Order, order_id)
        if order is None:
            raise click.ClickException(f"no order {order_id}")
        return order.account_id


@ship_cli.command("pick-list")
@click.option(
    "--order",
    "order_ids",
    type=BIG_ID,
    multiple=True,
    help="An order to pick (repeat; default: every ready_to_ship order).",
)
@account_option
@click.option("--json", "as_json", is_flag=True)
def pick_list(order_ids: tuple[int, ...], account_name: str | None, as_json: bool) -> None:
    """What to take from which bin, one line per SKU in walking order."""
    account_id = (
        _account_of(order_ids[0]) if order_ids and account_name is None else account_id_for(account_name)
    )
    try:
        lines = shipping.pick_list_for(rt(), account_id, list(order_ids) or None)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(lines, indent=2))
        return
    if not lines:
        click.echo("nothing to pick")
    for line in lines:
        orders = ", ".join(o["number"] for o in line["orders"])
        click.echo(
            f"{line['bin'] or '-':<10} {line['sku'] or '(no sku)':<20} {line['quantity']:>4}  "
            f"{line['title']}  [{orders}]"
        )


@ship_cli.command("pack")
@click.argument("order_id", type=BIG_ID)
@click.argument("codes", nargs=-1, required=True)
@click.option("--actor", default="operator", show_default=True, help="Who packed the parcel.")
def pack(order_id: int, codes: tuple[str, ...], actor: str) -> None:
    """Check the scanned CODES (SKUs) against the order; a match lets its label be bought."""
    try:
        result = shipping.record_pack_scan(rt(), _account_of(order_id), order_id, list(codes), actor)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    if not result["ok"]:
        raise click.ClickException(f"order {order_id}: contents do not match: {result['message']}")
    click.echo(f"order {order_id}: {result['message']}")
    report(rt(), f"packed order {order_id}", order_id)


def _describe(order_id: int) -> list[str]:
    with rt().session() as s:
        rows = s.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.package))
        return [
            f"  parcel {sh.package}: {sh.state} {sh.parcel.get('box')} "
            f"{sh.tracking_code or ''} {sh.problem or ''}".rstrip()
            for sh in rows
        ]


@ship_cli.command("run")
@click.argument("order_id", type=BIG_ID)
@click.option("--actor", default="operator", show_default=True, help="Who asked (kept on the timeline).")
def run(order_id: int, actor: str) -> None:
    """Ship the order now: release a shipping hold, buy what is missing, write back what is bought.

    Exits non-zero, saying why, when the order did not ship (held, waiting for its pack
    scan, or at a stage with nothing to ship)."""
    with rt().session() as s:
        before = s.get(Order, order_id)
        if before is None:
            raise click.ClickException(f"no order {order_id}")
        was = before.stage
    try:
        stage = shipping.resume(rt(), order_id, actor)
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc
    except (Permanent, Retryable) as exc:
        raise click.ClickException(outside_failure(f"order {order_id}", exc)) from exc
    with rt().session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        reason = order.hold_reason
    held = f" - held: {reason}" if reason else ""
    click.echo(f"order {order_id}: {stage}{held}")
    for line in _describe(order_id):
        click.echo(line)
    report(rt(), f"ship run for order {order_id}", order_id)
    with rt().session() as s:
        after = s.get(Order, order_id)
        assert after is not None
        stage, reason = after.stage, after.hold_reason
    why = _not_shipped(order_id, was, stage, reason)
    if why:
        raise click.ClickException(why)


def _not_shipped(order_id: int, was: str, stage: str, reason: str | None) -> str | None:
    """Why `ship run` left the order as it was, or None when it shipped (or had shipped)."""
    if reason:
        hint = ""
        if not reason.startswith(shipping.HOLD_PREFIX):
            hint = "; `ship run` releases only shipping holds"
            if reason.startswith("review"):
                hint += f" (decide it with `./waybill orders approve {order_id}` or `orders reject`)"
        return f"order {order_id} was not shipped: it is on hold: {reason}{hint}"
    if stage == shipping.AWAITING_SCAN:
        return (
            f"order {order_id} was not shipped: it waits for its pack scan "
            f"(`./waybill ship pack {order_id} SKU...`)"
        )
    if stage in SHIPPED:
        return None
    if stage in SHIPPABLE and was in SHIPPABLE:
        return f"order {order_id} was not shipped: it stopped at {stage} (see its parcels above)"
    return f"order {order_id} was not shipped: nothing to ship while it is {stage}"


@ship_cli.command("void")
@click.argument("order_id", type=BIG_ID)
@click.option(
    "--reason", default="voided by an operator", show_default=True, help="Why (kept on the timeline)."
)
@click.option("--actor", default="operator", show_default=True, help="Who asked.")
def void(order_id: int, reason: str, actor: str) -> None:
    """Refund the order's unused labels; a live order waits on hold until `ship run` buys new ones."""
    _account_of(order_id)
    try:
        count = shipping.void_order(rt(), order_id, reason, actor)
    except (Permanent, Retryable) as exc:
        raise click.ClickException(outside_failure(f"order {order_id}", exc)) from exc
    click.echo(f"order {order_id}: {count} label(s) voided")
    for line in _describe(order_id):
        click.echo(line)
