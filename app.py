"""Waybill's Flask app. ``waybill run`` (or ``python app.py``) runs it all in one process (embedded mode)."""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Mapping
from typing import Any

import click
import structlog
from flask import Flask

from db.store_lookup import forget as forget_stores
from settings import Settings, SettingsError, load_settings
from sync.runtime import Runtime, build_runtime, freeze_boot_heap, install
from telemetry import configure_logging
from web import edge
from web.security import init_security
from webhooks import mount

log = structlog.get_logger("waybill.app")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (tests pass a dict)."""
    settings = load_settings(config)
    configure_logging(settings.log_level)
    # Under the `flask` command the database may not be migrated yet (`db upgrade` is
    # what migrates it); commands that need it check it themselves.
    under_cli = click.get_current_context(silent=True) is not None
    rt = build_runtime(settings, check=not under_cli)
    install(rt)
    forget_stores()  # a cache keyed by a previous app's objects must not leak into this one
    app = Flask(__name__)
    app.config.update(
        TESTING=settings.testing,
        SECRET_KEY=_session_key(rt),
        MAX_CONTENT_LENGTH=settings.webhooks.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )
    app.extensions["waybill"] = rt
    edge.init_app(app)  # bounded ids, JSON API errors, input checks, metrics; before the routes
    _register(app)
    init_security(app)  # CSRF, Origin checks, console sessions, security headers
    mount(app)  # the receivers answer ahead of Flask's request handling
    return app


def _session_key(rt: Runtime) -> bytes:
    # A key of its own for cookies, derived so that it changes with WAYBILL_SECRET_KEY.
    from sync.runtime import secret_key_for

    return hmac.new(secret_key_for(rt.settings).encode(), b"waybill-session", hashlib.sha256).digest()


def _register(app: Flask) -> None:
    # These add their routes to api.bp, which must happen before registering it.
    import web.api_inventory
    import web.api_orders
    import web.api_returns
    import web.api_shipping
    import web.api_tracking  # noqa: F401
    from web import (
        api,
        cli,
        cli_orders,
        cli_returns,
        cli_ship,
        cli_shops,
        cli_stock,
        cli_tracking,
        cli_users,
        console,
        install,
        ops,
        returns_portal,
        tracking_page,
    )

    app.register_blueprint(ops.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(tracking_page.bp)
    returns_portal.init_portal(app)  # the returns portal and its rate limiter
    cli.register(app)
    for group in (cli_shops.shops_cli, cli_orders.orders_cli, cli_orders.sync_cli, cli_stock.stock_cli):
        app.cli.add_command(group)
    app.cli.add_command(cli_ship.ship_cli)
    app.cli.add_command(cli_tracking.tracking_cli)
    app.cli.add_command(cli_returns.returns_cli)
    app.cli.add_command(cli_users.users_cli)


class PortInUse(Exception):
    """The embedded service's port is taken (another Waybill, or another program)."""


def run_embedded(settings: Settings | None = None) -> None:
    """The web app, worker threads and the scheduler in one process.

    The port is bound before any thread starts, so a port in use stops the process
    with :class:`PortInUse` and nothing else running."""
    import errno

    from waitress.server import create_server

    from sync.embedded_queue import EmbeddedJobQueue
    from sync.schedule import Scheduler

    app = create_app()
    rt: Runtime = app.extensions["waybill"]
    port = rt.settings.port
    try:
        server = create_server(app, host="0.0.0.0", port=port, threads=8, ident="waybill")  # noqa: S104
    except OSError as exc:
        rt.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} is already in use (is another Waybill running?); stop it or choose a free "
                f"port: PORT={port + 1 if port < 65535 else 8040} ./waybill run"
            ) from None
        raise PortInUse(f"cannot listen on port {port}: {exc.strerror or exc}") from None
    if isinstance(rt.queue, EmbeddedJobQueue):
        rt.queue.start()
        Scheduler(rt).start()
    else:
        log.warning(
            "app.not_embedded",
            hint="REDIS_URL is set: run `./waybill worker` and `./waybill worker --scheduler` too",
        )
    freeze_boot_heap()
    log.info("app.listening", url=rt.settings.public_url, port=port, mode=rt.settings.mode)
    _print_welcome(rt)
    server.run()


def _print_welcome(rt: Runtime) -> None:
    from sqlalchemy import func, select

    from db.models import Store, User

    with rt.session() as s:
        stores = s.scalar(select(func.count(Store.id))) or 0
        users = s.scalar(select(func.count(User.id))) or 0
    lines = [f"Waybill is running on http://localhost:{rt.settings.port} ({rt.settings.mode} mode)."]
    if not users:
        lines += [
            "No console user yet. Create the first owner, then sign in at /login:",
            '    ./waybill users create-owner "My Shop" you@example.com',
        ]
    if rt.settings.public_url != f"http://localhost:{rt.settings.port}":
        lines.append(f"Platforms reach it at {rt.settings.public_url} (WAYBILL_PUBLIC_URL).")
    if not stores and rt.settings.sandbox:
        lines += [
            "No store is connected yet. Sandbox mode: sign in as your owner, open",
            f"http://localhost:{rt.settings.port}/app/stores and press Connect a sandbox store.",
            "Or run the whole sandbox demo: make demo",
        ]
    elif not stores:
        lines += [
            "No store is connected yet. To see Waybill work without any account, run the sandbox demo:",
            "    make demo",
            "or start in sandbox mode and connect a simulated store from the console's Stores page:",
            "    WAYBILL_SANDBOX=1 make run",
        ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def main() -> int:
    """``waybill run`` (and ``python app.py``): start-up problems are one line, not a traceback."""
    try:
        run_embedded()
    except (SettingsError, PortInUse) as exc:
        print(f"waybill: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # start-up errors: say what is wrong, not a traceback
        if type(exc).__name__ in {"DatabaseNotReady", "SecretKeyError"}:
            print(f"waybill: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
