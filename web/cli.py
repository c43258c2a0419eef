"""Operator commands: ``waybill <group> <command>`` (also ``flask --app app <group> <command>``)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from core.errors import Retryable
from db import session as dbsession
from db.accounts import find_tokens, get_or_create_account, issue_token, revoke_token
from db.crypto import KEY_FILE_NAME, SecretKeyError, Vault, generate_key
from db.models import Account, DeadLetter, Store, TimelineEntry, utcnow
from sync.redis_queue import RedisJobQueue
from sync.runtime import Runtime, secret_key_for
from web import runtime

# Ids as the database keeps them: a number beyond the column's range is bad input, refused
# by click with the range, never an overflow inside the driver.
SMALL_ID = click.IntRange(1, 2**31 - 1)  # accounts, stores, dead letters (32-bit keys)
BIG_ID = click.IntRange(1, 2**63 - 1)  # orders (64-bit keys)


def outside_failure(what: str, exc: Exception) -> str:
    """One line for a storefront or carrier that failed or did not answer during a command."""
    if isinstance(exc, Retryable):
        return f"{what}: could not reach it or it is busy ({exc}); try again later"
    return f"{what}: refused ({exc})"


db_cli = AppGroup("db", help="Database migrations.")
accounts_cli = AppGroup("accounts", help="Merchant accounts and API tokens.")
jobs_cli = AppGroup("jobs", help="Jobs that failed for good, and retrying them.")
keys_cli = AppGroup("keys", help="The key that encrypts credentials at rest.")


def rt() -> Runtime:
    """The runtime of a command that needs a migrated database."""
    found = runtime()
    try:
        dbsession.check_ready(found.engine, found.settings.database_url)
    except dbsession.DatabaseNotReady as exc:
        raise click.ClickException(str(exc)) from exc
    return found


def _migrate(step: Callable[[str, str], None], revision: str) -> None:
    from alembic.util import CommandError

    try:
        step(runtime().settings.database_url, revision)
    except CommandError as exc:  # an unknown revision: nothing was migrated
        raise click.ClickException(f"{exc} (`./waybill db current` shows the revisions)") from exc


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    _migrate(dbsession.upgrade, revision)
    click.echo(f"database at {dbsession.current_revision(runtime().engine)}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    _migrate(dbsession.downgrade, revision)
    click.echo(f"database at {dbsession.current_revision(runtime().engine) or 'base'}")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's migration and the code's."""
    current = dbsession.current_revision(runtime().engine)
    click.echo(f"database: {current}  code: {dbsession.head_revision(runtime().settings.database_url)}")


@accounts_cli.command("create")
@click.argument("name")
def accounts_create(name: str) -> None:
    """Create the merchant account NAME (no-op if it exists)."""
    with rt().session() as s:
        account = get_or_create_account(s, name)
        click.echo(f"account {account.id} {account.name}")


@accounts_cli.command("token")
@click.argument("name")
def accounts_token(name: str) -> None:
    """Issue an API token for account NAME. It is shown once; only its hash is kept."""
    with rt().session() as s:
        account = s.scalar(select(Account).where(Account.name == name))
        if account is None:
            raise click.ClickException(f"no account named {name!r}; create it with `accounts create`")
        click.echo(issue_token(s, account))


@accounts_cli.command("revoke")
@click.argument("token_ref")
def accounts_revoke(token_ref: str) -> None:
    """Revoke an API token by its id or its prefix (e.g. wb_AbCdEfG); its console sessions end."""
    with rt().session() as s:
        rows = find_tokens(s, token_ref)
        if not rows:
            raise click.ClickException(f"no token matches {token_ref!r} (give its id or its prefix)")
        if len(rows) > 1:
            ids = ", ".join(str(r.id) for r in rows)
            raise click.ClickException(f"{len(rows)} tokens match {token_ref!r} (ids {ids}); give the id")
        row = rows[0]
        already = row.revoked_at is not None
        ended = revoke_token(s, row)
        account = s.get(Account, row.account_id)
        name = account.name if account else "?"
        state = "was already revoked" if already else "revoked"
        click.echo(f"token {row.id} {row.prefix}... of account {name} {state}; {ended} sessions ended")


@jobs_cli.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_failed(as_json: bool) -> None:
    """List jobs that exhausted their retries or failed permanently."""
    with rt().session() as s:
        rows = list(s.scalars(select(DeadLetter).where(DeadLetter.state == "dead").order_by(DeadLetter.id)))
        items: list[dict[str, Any]] = [
            {
                "id": r.id,
                "job_id": r.job_id,
                "job": r.name,
                "queue": r.queue,
                "attempts": r.attempts,
                "failed_at": r.failed_at.isoformat(),
                "error": r.error,
            }
            for r in rows
        ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no failed jobs")
    for item in items:
        click.echo(f"{item['id']:>6}  {item['job_id']:<40} {item['attempts']} attempts  {item['error'][:80]}")


@jobs_cli.command("retry")
@click.argument("dead_letter_id", type=SMALL_ID)
def jobs_retry(dead_letter_id: int) -> None:
    """Run a failed job again (ID from `jobs failed`), with a fresh set of retries."""
    from sync.maintenance import retry_dead_letter
    from web.cli_work import report

    if not retry_dead_letter(rt(), dead_letter_id):
        raise click.ClickException(f"no failed job {dead_letter_id}")
    if isinstance(rt().queue, RedisJobQueue):
        click.echo(f"job {dead_letter_id} enqueued")
    else:
        report(rt(), f"job {dead_letter_id} retried")


@jobs_cli.command("ping")
@click.option("--timeout", default=30.0, help="Seconds to wait for a worker.")
def jobs_ping(timeout: float) -> None:
    """Send a job through the queue and wait until a worker has run it.

    In embedded mode the service's queue lives inside the service's process: the job
    runs here, through this process's embedded queue and the shared database, and the
    service (if one runs) is asked for its readiness on loopback.
    """
    token = uuid.uuid4().hex
    rt().enqueue("ping", job_id=f"ping-{token}", token=token)
    if not isinstance(rt().queue, RedisJobQueue):
        _ping_embedded(token, timeout)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt().session() as s:
            entry = s.scalar(select(TimelineEntry).where(TimelineEntry.subject == f"ping:{token}"))
            if entry is not None:
                click.echo(f"pong from {entry.actor}")
                return
        time.sleep(0.1)
    click.echo("no worker answered", err=True)
    sys.exit(1)


def _ping_entry(token: str) -> TimelineEntry | None:
    with rt().session() as s:
        entry = s.scalar(select(TimelineEntry).where(TimelineEntry.subject == f"ping:{token}"))
        if entry is not None:
            s.expunge(entry)
        return entry


def _ping_embedded(token: str, timeout: float) -> None:
    from web.cli_work import run_follow_up, service_status

    run_follow_up(rt(), timeout_s=timeout)
    entry = _ping_entry(token)
    if entry is None:
        click.echo("the ping job did not run here (see `jobs failed`)", err=True)
        sys.exit(1)
    click.echo(
        f"pong from {entry.actor} (embedded mode: the job ran in this process, through the "
        "embedded queue, and wrote its answer to the database the service uses)"
    )
    ready, said = service_status(rt())
    if ready is None:
        click.echo(f"service: {said}; the service is not running (start it with `make run`)")
    else:
        click.echo(f"service: {said}")
    if ready is False:
        sys.exit(1)


@keys_cli.command("generate", with_appcontext=False)
def keys_generate() -> None:
    """Print a new key for WAYBILL_SECRET_KEY."""
    click.echo(generate_key())


@keys_cli.command("rotate")
@click.option("--new-key", help="Re-encrypt with this key (default: the first of WAYBILL_SECRET_KEY).")
def keys_rotate(new_key: str | None) -> None:
    """Re-encrypt every stored credential with the newest key."""
    settings = rt().settings
    old = secret_key_for(settings)
    try:
        vault = Vault(f"{new_key},{old}" if new_key else old)
    except SecretKeyError as exc:  # a malformed --new-key: nothing is re-encrypted
        raise click.ClickException(f"--new-key: {exc}") from exc
    count = 0
    with rt().session() as s:
        for store in s.scalars(select(Store)):
            if store.credentials:
                store.credentials = vault.rotate(store.credentials)
                count += 1
            if store.webhook_secret:
                store.webhook_secret = vault.rotate(store.webhook_secret)
    if new_key and settings.secret_key is None:
        (settings.var_dir / KEY_FILE_NAME).write_text(new_key + "\n")
        click.echo(
            f"re-encrypted {count} store credential(s); {settings.var_dir / KEY_FILE_NAME} holds the new key"
        )
    elif new_key:
        click.echo(f"re-encrypted {count} store credential(s); now set WAYBILL_SECRET_KEY to the new key")
    else:
        click.echo(
            f"re-encrypted {count} store credential(s) with the first key; older keys may now be removed"
        )
    with rt().session() as s:
        s.add(
            TimelineEntry(
                subject="system", actor="cli", action="keys.rotated", reason=f"{count} stores", at=utcnow()
            )
        )


def register(app: Flask) -> None:
    for group in (db_cli, accounts_cli, jobs_cli, keys_cli):
        app.cli.add_command(group)
