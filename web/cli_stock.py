"""`waybill stock ...`: the stock ledger for operators."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from db.models import Account
from sync import stock_admin
from sync.stock_reports import forecast_json, sku_detail, sku_forecasts, stock_rows
from web.cli import SMALL_ID, rt

stock_cli = AppGroup("stock", help="The stock ledger: levels, movements, adjustments, forecasts.")

account_option = click.option(
    "--account", "account_name", help="Merchant account (default: the only one there is)."
)


def account_id_for(name: str | None) -> int:
    """The named account, or the only account when none is named."""
    with rt().session() as s:
        if name is not None:
            found = s.scalar(select(Account.id).where(Account.name == name))
            if found is None:
                raise click.ClickException(f"no account named {name!r}")
            return found
        ids = list(s.scalars(select(Account.id).limit(2)))
    if len(ids) != 1:
        raise click.ClickException(
            "no account yet" if not ids else "there are several accounts: name one with --account"
        )
    return ids[0]


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _refused(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc.args[0]) if exc.args else str(exc))


@stock_cli.command("list")
@account_option
@click.option("--json", "as_json", is_flag=True)
def list_stock(account_name: str | None, as_json: bool) -> None:
    """Every SKU: on hand, reserved, available, and what each channel shows."""
    account_id = account_id_for(account_name)
    inv = rt().settings.inventory
    with rt().session() as s:
        rows = stock_rows(s, account_id, inv.location, inv.default_buffer)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no SKUs in the ledger yet (import the catalogs: `./waybill sync catalog`)")
    for r in rows:
        low = "  LOW" if r["low_stock"] else ""
        shown = ", ".join(f"{c['store_id']}:{c['published']}" for c in r["channels"] if c["tracked"])
        click.echo(
            f"{r['sku']:<24} on hand {r['on_hand']:>6}  reserved {r['reserved']:>6}  "
            f"available {r['available']:>6}  published [{shown}]{low}"
        )


@stock_cli.command("show")
@click.argument("sku")
@account_option
@click.option("--limit", default=20, show_default=True, help="Movements to show.")
@click.option("--json", "as_json", is_flag=True)
def show_stock(sku: str, account_name: str | None, limit: int, as_json: bool) -> None:
    """One SKU: its levels, channels, latest movements and forecast."""
    account_id = account_id_for(account_name)
    settings = rt().settings
    with rt().session() as s:
        detail = sku_detail(
            s, account_id, sku, settings.inventory.location, limit, settings.inventory.default_buffer
        )
        if detail is None:
            raise click.ClickException(f"no SKU {sku!r} in the ledger")
        found = sku_forecasts(s, account_id, settings, datetime.now(UTC).date(), [sku])
    detail["forecast"] = forecast_json(found[0]) if found else None
    if as_json:
        _echo_json(detail)
        return
    click.echo(
        f"{detail['sku']} at {detail['location']}: on hand {detail['on_hand']}, "
        f"reserved {detail['reserved']}, available {detail['available']}"
        + ("  LOW STOCK" if detail["low_stock"] else "")
    )
    for c in detail["channels"]:
        click.echo(
            f"  store {c['store_id']} {c['platform']} {c['domain']}: publishes {c['published']}, "
            f"channel shows {c['channel_qty']}" + ("" if c["tracked"] else " (not tracked)")
        )
    if detail["forecast"]:
        _echo_forecast(detail["forecast"], indent="  forecast: ")
    for m in detail["movements"]:
        click.echo(
            f"  {m['at']}  {m['reason']:<18} on hand {m['on_hand_delta']:+d} -> {m['on_hand_after']}  "
            f"reserved {m['reserved_delta']:+d} -> {m['reserved_after']}  {m['source']}  {m['note'] or ''}"
        )


def _level(result: stock_admin.Level) -> str:
    done = "" if result.applied else " (already applied)"
    return (
        f"{result.sku}: on hand {result.on_hand}, reserved {result.reserved}, "
        f"available {result.available}{done}"
    )


# Negative numbers (a delta of -2) are arguments, not unknown options.
NUMBERS_MAY_BE_NEGATIVE = {"ignore_unknown_options": True}


@stock_cli.command("adjust", context_settings=NUMBERS_MAY_BE_NEGATIVE)
@click.argument("sku")
@click.argument("delta", type=int)
@click.option("--note", required=True, help="Why (kept on the movement).")
@click.option("--new", "create", is_flag=True, help="Allow a SKU the ledger does not hold yet.")
@account_option
def adjust_stock(sku: str, delta: int, note: str, create: bool, account_name: str | None) -> None:
    """Move on hand by DELTA (e.g. 5 or -2); every channel is updated."""
    account_id = account_id_for(account_name)
    try:
        result = stock_admin.adjust(rt(), account_id, sku, delta, note, actor="cli", create=create)
    except (stock_admin.StockInputError, stock_admin.UnknownSku) as exc:
        raise _refused(exc) from exc
    click.echo(_level(result))


@stock_cli.command("count", context_settings=NUMBERS_MAY_BE_NEGATIVE)
@click.argument("sku")
@click.argument("qty", type=int)
@click.option("--note", help="Optional note kept on the movement.")
@click.option("--new", "create", is_flag=True, help="Allow a SKU the ledger does not hold yet.")
@account_option
def count_stock(sku: str, qty: int, note: str | None, create: bool, account_name: str | None) -> None:
    """Set on hand to QTY counted on the shelf; every channel is updated."""
    account_id = account_id_for(account_name)
    try:
        result = stock_admin.count(rt(), account_id, sku, qty, note, actor="cli", create=create)
    except (stock_admin.StockInputError, stock_admin.UnknownSku) as exc:
        raise _refused(exc) from exc
    click.echo(_level(result))


@stock_cli.command("threshold", context_settings=NUMBERS_MAY_BE_NEGATIVE)
@click.argument("sku")
@click.argument("value")
@account_option
def threshold_stock(sku: str, value: str, account_name: str | None) -> None:
    """Alert when SKU's available falls to VALUE; `none` returns to the configured default."""
    account_id = account_id_for(account_name)
    threshold: int | None
    if value.strip().lower() == "none":
        threshold = None
    else:
        try:
            threshold = int(value)
        except ValueError as exc:
            raise click.ClickException("the threshold must be a whole number or none") from exc
    try:
        stock_admin.set_threshold(rt(), account_id, sku, threshold, actor="cli")
    except (stock_admin.StockInputError, stock_admin.UnknownSku) as exc:
        raise _refused(exc) from exc
    click.echo(
        f"{sku.strip()}: low-stock threshold {value.strip().lower() if threshold is None else threshold}"
    )


@stock_cli.command("buffer")
@click.argument("value")
@click.option("--store", "store_id", type=SMALL_ID, required=True, help="The channel (a store id).")
@click.option("--sku", default="*", show_default=True, help="One SKU, or * for the channel's default.")
@account_option
def buffer_stock(value: str, store_id: int, sku: str, account_name: str | None) -> None:
    """Hold VALUE back from a channel: units (2) or a percentage (10%); `none` removes it."""
    account_id = account_id_for(account_name)
    text = None if value.strip().lower() == "none" else value
    try:
        stock_admin.set_buffer(rt(), account_id, store_id, sku, text, actor="cli")
    except (stock_admin.StockInputError, stock_admin.UnknownStore) as exc:
        raise _refused(exc) from exc
    target = "every SKU" if sku.strip() == "*" else sku.strip()
    click.echo(f"store {store_id}, {target}: buffer {text.strip() if text else 'removed'}")


def _echo_forecast(f: dict[str, Any], indent: str = "") -> None:
    cover = "no sales" if f["days_of_cover"] is None else f"{f['days_of_cover']:.1f} days"
    flag = "  REORDER NOW" if f["reorder_now"] else ""
    click.echo(
        f"{indent}{f['sku']:<24} velocity {f['velocity']:.2f}/day  sigma {f['sigma']:.2f}  "
        f"cover {cover}  reorder point {f['reorder_point']}{flag}"
    )


@stock_cli.command("forecast")
@click.argument("sku", required=False)
@account_option
@click.option("--json", "as_json", is_flag=True)
def forecast_stock(sku: str | None, account_name: str | None, as_json: bool) -> None:
    """Sales velocity, days of cover and reorder point, per SKU (or for SKU)."""
    account_id = account_id_for(account_name)
    with rt().session() as s:
        found = sku_forecasts(
            s, account_id, rt().settings, datetime.now(UTC).date(), [sku.strip()] if sku else None
        )
    if sku and not found:
        raise click.ClickException(f"no SKU {sku!r} in the ledger")
    rows = [forecast_json(f) for f in found]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        _echo_forecast(row)
