"""The ``waybill`` command: ``waybill <group> <command>`` and ``waybill run``.

Installed into the virtualenv as a console script (pyproject ``[project.scripts]``);
``./waybill`` at the top of a clone builds the virtualenv first and runs it.

    waybill run                     the service in embedded mode (web, worker threads, scheduler)
    waybill worker [QUEUE ...]      an RQ worker (production); ``--scheduler`` for the scheduler
    waybill db|accounts|shops|orders|stock|ship|tracking|returns|sync|jobs|keys ...   operator commands

The operator groups are the same ones ``flask --app app <group>`` offers; they are
registered here directly, so ``waybill --help`` and ``waybill keys generate`` work
without building the app (no database, no secret key needed).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from core.errors import Permanent, Retryable
from db.crypto import SecretKeyError
from db.session import DatabaseNotReady
from settings import SettingsError
from web.cli import accounts_cli, db_cli, jobs_cli, keys_cli
from web.cli_orders import orders_cli, sync_cli
from web.cli_returns import returns_cli
from web.cli_ship import ship_cli
from web.cli_shops import shops_cli
from web.cli_stock import stock_cli
from web.cli_tracking import tracking_cli
from web.cli_users import users_cli

GROUPS: tuple[click.Command, ...] = (
    db_cli,
    accounts_cli,
    users_cli,
    shops_cli,
    orders_cli,
    stock_cli,
    ship_cli,
    tracking_cli,
    returns_cli,
    sync_cli,
    jobs_cli,
    keys_cli,
)

# Start-up failures that are the operator's to fix: one line, no traceback.
STARTUP_ERRORS: tuple[type[Exception], ...] = (SettingsError, DatabaseNotReady, SecretKeyError)


def _create_app() -> Flask:
    from app import create_app

    return create_app()


class WaybillGroup(FlaskGroup):
    """Flask's command group without Flask's own commands, and with a help page that
    does not build the app (no database is touched to print it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Flask's --app, --env-file and --debug do not apply: the app is always Waybill's.
        self.params = [p for p in self.params if p.name not in {"app", "env_file", "debug"}]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Every group is registered here (a test holds this to `flask --app app`'s list),
        # so an unknown name is an error at once, not a reason to build the app.
        return self.commands.get(cmd_name)


@click.group(
    cls=WaybillGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def cli() -> None:
    """Waybill: order operations for Shopify and WooCommerce stores.

    Settings come from config.yaml and the environment (see the README)."""


for _group in GROUPS:
    cli.add_command(_group)


@cli.command("run")
def run() -> None:
    """Run the service in embedded mode on $PORT (default 8000): web, worker threads, scheduler."""
    from app import main as app_main

    sys.exit(app_main())


@cli.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run an RQ worker (production, needs REDIS_URL); `waybill worker --help` for its options."""
    from worker import main as worker_main

    sys.exit(worker_main(list(args)))


def main(argv: Sequence[str] | None = None) -> None:
    """The console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="waybill")
    except STARTUP_ERRORS as exc:
        print(f"waybill: {exc}", file=sys.stderr)
        sys.exit(2)
    except (Retryable, Permanent) as exc:  # an outside system refused or did not answer
        print(f"waybill: {type(exc).__name__.lower()} error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
