"""``waybill users``: the console's users from the command line.

- ``create-owner ACCOUNT EMAIL``: the account's owner (the account is created if new); the
  password is asked twice, or read from standard input with ``--password-stdin``. This is
  how a new merchant gets the first user; further users are invited from the console.
- ``list ACCOUNT``: the account's users, their roles, last sign-in (UTC) and status.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from db.accounts import get_or_create_account
from db.models import Account
from db.users import MIN_PASSWORD, UserError, create_owner, users_of
from web.cli import rt

users_cli = AppGroup("users", help="Console users: create the first owner, list users.")


@users_cli.command("create-owner")
@click.argument("account")
@click.argument("email")
@click.option("--name", default="", help="The owner's name, as the console shows it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
def create_owner_cmd(account: str, email: str, name: str, password_stdin: bool) -> None:
    """Create an owner of ACCOUNT (created if new) who signs in with EMAIL and a password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Password (at least {MIN_PASSWORD} characters)", hide_input=True, confirmation_prompt=True
        )
    runtime = rt()
    with runtime.session() as s:
        row = get_or_create_account(s, account)
        try:
            user = create_owner(s, row, email, password, name)
        except UserError as exc:
            s.rollback()
            raise click.ClickException(str(exc)) from exc
        click.echo(f"owner {user.id} {user.email} of account {row.id} {row.name}")
        click.echo(f"sign in at {runtime.settings.public_url}/login")


@users_cli.command("list")
@click.argument("account")
def list_cmd(account: str) -> None:
    """The users of ACCOUNT: id, e-mail, name, role, last sign-in (UTC), status."""
    with rt().session() as s:
        row = s.scalar(select(Account).where(Account.name == account))
        if row is None:
            raise click.ClickException(f"no account named {account!r}")
        found = users_of(s, row.id)
        if not found:
            click.echo("no users")
            return
        for user in found:
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            status = "disabled" if user.disabled_at else "active"
            who = user.email or f"shopify:{user.shopify_user_id}"
            click.echo(
                f"{user.id:>5}  {who:<40} {user.name or '-':<24} {user.role.value:<7} {last:<16} {status}"
            )
