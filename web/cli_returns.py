"""`waybill returns ...`: a merchant account's returns, for operators.

``list`` and ``show`` read them; ``create`` asks for one on a customer's behalf (decided
by the policy at once, like the API's); ``override``, ``receive``, ``approve``, ``reject``
and ``close`` are the merchant's steps. In embedded mode a step's follow-up jobs (the
write-back, the label, the refund) run in the command before it answers, as for orders
(web/cli_work.py); in production they are queued for the workers. Each command works in
one account (``--account``, or the only account there is): another account's return is
not found. The actor kept on the order's timeline is ``cli`` (or ``cli:<--actor>``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup

from core.errors import Refusal
from core.returns import Condition, ReturnState
from sync.returns import desk
from sync.returns.inspection import receive as receive_return
from sync.returns.requests import close as close_return
from sync.returns.requests import override as override_return
from sync.returns.requests import request_return
from web.cli import BIG_ID, SMALL_ID, rt
from web.cli_stock import account_id_for, account_option
from web.cli_work import describe, run_follow_up

returns_cli = AppGroup(
    "returns", help="Customers' returns: list, read, ask for one, and the merchant's steps."
)
actor_option = click.option("--actor", default=None, help="Who (default: cli).")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _actor(actor: str | None) -> str:
    return f"cli:{actor.strip()}" if actor and actor.strip() else "cli"


def _run(act: Callable[[], Any]) -> Any:
    try:
        return act()
    except Refusal as exc:
        raise click.ClickException(str(exc)) from exc


def _line(r: dict[str, Any]) -> str:
    held = "  HELD: " + r["hold_reason"] if r.get("hold_reason") else ""
    return (
        f"{r['id']:<6} {r['state']:<11} {r['resolution']:<8} order {r['order_id']:<8} "
        f"{r['source']:<10} {(r['requested_at'] or '')[:16]}{held}"
    )


@returns_cli.command("list")
@account_option
@click.option("--state", type=click.Choice(list(ReturnState)), default=None)
@click.option("--held", is_flag=True, help="Only returns held for review.")
@click.option("--limit", type=click.IntRange(1, desk.MAX_LIST), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_returns(account_name: str | None, state: str | None, held: bool, limit: int, as_json: bool) -> None:
    """Returns, newest first."""
    account_id = account_id_for(account_name)
    rows = _run(
        lambda: desk.list_returns(rt(), account_id, state=state, held=True if held else None, limit=limit)
    )
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no returns")
    for r in rows:
        click.echo(_line(r))


def _show(detail: dict[str, Any]) -> None:
    click.echo(_line(detail))
    for refusal in (detail.get("decision") or {}).get("refusals") or []:
        click.echo(f"  refused: {refusal['rule']}: {refusal['reason']}")
    if detail.get("override"):
        click.echo(f"  overridden by {detail['override']['actor']}: {detail['override']['note']}")
    label = detail.get("label") or {}
    if label.get("label_url"):
        click.echo(
            f"  label: {label.get('carrier', '')} {label.get('tracking_code', '')} {label['label_url']}"
        )
    if detail.get("refund"):
        click.echo(f"  refund: {detail['refund'].get('total')} {detail['refund'].get('currency', '')}")
    for item in detail.get("items", []):
        swap = f" -> {item['exchange_sku']}" if item.get("exchange_sku") else ""
        cond = f" [{item['condition']}]" if item.get("condition") else ""
        click.echo(
            f"  item {item['id']}: {item['quantity']} x {item['sku'] or item['title']} "
            f"({item['reason']}){swap}{cond}"
        )
    for entry in detail.get("timeline", []):
        click.echo(f"  {entry['at'][:19]}  {entry['action']:<24} {entry['reason'] or ''}")


def _done(account_id: int, return_id: int, as_json: bool = False) -> None:
    detail = _run(lambda: desk.show(rt(), account_id, return_id))
    if as_json:
        _echo_json(detail)
    else:
        _show(detail)


def _stepped(account_id: int, return_id: int) -> None:
    """After a step: its follow-up jobs run here in embedded mode (web/cli_work.py), then the return."""
    done = run_follow_up(rt())
    _done(account_id, return_id)
    if done is None:
        click.echo("its next steps are queued for the workers (production mode)")
    else:
        click.echo(describe(rt(), done))


@returns_cli.command("show")
@click.argument("return_id", type=SMALL_ID)
@account_option
@click.option("--json", "as_json", is_flag=True)
def show(return_id: int, account_name: str | None, as_json: bool) -> None:
    """One return: items, decision, label, refund and its timeline."""
    _done(account_id_for(account_name), return_id, as_json)


def _item(text: str) -> dict[str, Any]:
    """LINE_ID:QUANTITY:REASON[:EXCHANGE_SKU] as a request line."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not parts[1].isdigit():
        raise click.BadParameter(f"{text!r}: write LINE_ID:QUANTITY:REASON[:EXCHANGE_SKU]")
    item: dict[str, Any] = {"line_id": parts[0], "quantity": int(parts[1]), "reason": parts[2]}
    if len(parts) == 4:
        item["exchange_sku"] = parts[3]
    return item


@returns_cli.command("create")
@click.argument("order_id", type=BIG_ID)
@click.option("--item", "items", multiple=True, required=True, help="LINE_ID:QUANTITY:REASON[:EXCHANGE_SKU]")
@click.option("--note", default="", help="The customer's note (for every item).")
@click.option("--exchange", is_flag=True, help="An exchange (every item names its EXCHANGE_SKU).")
@click.option("--key", default=None, help="A key that makes a repeated command ask once.")
@account_option
@actor_option
def create(
    order_id: int,
    items: tuple[str, ...],
    note: str,
    exchange: bool,
    key: str | None,
    account_name: str | None,
    actor: str | None,
) -> None:
    """Ask for a return of an order's items; the policy decides it at once."""
    account_id = account_id_for(account_name)
    asks = [{**_item(text), "note": note} for text in items]
    made = _run(
        lambda: request_return(
            rt(),
            account_id=account_id,
            order_id=order_id,
            asks=asks,
            source="merchant",
            key=f"cli:{key}" if key else f"cli:{secrets.token_urlsafe(18)}",
            actor=_actor(actor),
            resolution="exchange" if exchange else "refund",
        )
    )
    _stepped(account_id, made.id)


@returns_cli.command("override")
@click.argument("return_id", type=SMALL_ID)
@click.option("--note", required=True, help="Why the refusal is overridden (kept on the timeline).")
@account_option
@actor_option
def override(return_id: int, note: str, account_name: str | None, actor: str | None) -> None:
    """Approve a refused return anyway."""
    account_id = account_id_for(account_name)
    _run(lambda: override_return(rt(), account_id, return_id, _actor(actor), note))
    _stepped(account_id, return_id)


def _condition(text: str) -> tuple[str, str]:
    item, _, condition = text.partition("=")
    if not item.strip().isdigit() or condition not in tuple(Condition):
        raise click.BadParameter(f"{text!r}: write ITEM_ID=CONDITION ({', '.join(Condition)})")
    return item.strip(), condition


@returns_cli.command("receive")
@click.argument("return_id", type=SMALL_ID)
@click.option("--item", "items", multiple=True, required=True, help="ITEM_ID=CONDITION, one per item.")
@click.option("--weight-oz", default=None, help="The parcel's weight on arrival, in ounces.")
@account_option
@actor_option
def receive(
    return_id: int, items: tuple[str, ...], weight_oz: str | None, account_name: str | None, actor: str | None
) -> None:
    """Receive and inspect the parcel: resellable units go back to stock."""
    account_id = account_id_for(account_name)
    conditions: dict[int | str, Condition | str] = dict(_condition(text) for text in items)
    _run(lambda: receive_return(rt(), account_id, return_id, conditions, weight_oz, _actor(actor)))
    _stepped(account_id, return_id)


def _decision(name: str, act: Callable[..., Any], help_text: str) -> None:
    @returns_cli.command(name, help=help_text)
    @click.argument("return_id", type=SMALL_ID)
    @click.option("--reason", required=True, help="Why (kept on the order's timeline).")
    @account_option
    @actor_option
    def command(return_id: int, reason: str, account_name: str | None, actor: str | None) -> None:
        account_id = account_id_for(account_name)
        _run(lambda: act(rt(), account_id, return_id, _actor(actor), reason))
        _stepped(account_id, return_id)


_decision("approve", desk.approve, "Release a return held for review.")
_decision("reject", desk.reject, "Refuse a return held for review (no refund; it is closed).")
_decision("close", close_return, "Close a return that is not finished.")
