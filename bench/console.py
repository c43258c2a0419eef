"""Server time of every console page with 10,000 orders in the account.

An account is seeded with ``bench.console_seed`` (10,000 orders over 60 days across a Shopify
shop and a WooCommerce store, their parcels, scans, timelines, stock, exceptions, returns and
dead letters; a second account with 1,000 orders of its own beside it), its owner signs in
(a user of ``db.users``, a real console session), and every console page the app has is
requested ``--requests`` times (after ``--warmup`` requests each, not counted) through
Flask's test client: every GET view wrapped by ``web.console.page`` (found in the URL map,
parameters filled from the seeded data), the login page, the API's docs page when there is
one, and the orders grid's slow paths (filters; searches by number, SKU, customer, e-mail
and tracking number) as pages of their own. The pages take turns, one request each per
round, so a busy machine slows them alike.

Server time is the time around the WSGI call (the response body included), in process: no
network, no client. Queries are SQLAlchemy's ``before_cursor_execute`` events during the
request. ``/healthz`` and ``/login`` are measured in the same run: ``baseline_p95_ms`` is the
login page's p95 (the layout rendered with nothing to look up), so a page's cost over it is
its own data work.

    python -m bench.console [--orders N] [--requests N] [--postgres URL]

Embedded SQLite by default (a temporary file); ``--postgres URL`` names a PostgreSQL server
(a throw-away database is created on it and dropped afterwards). Goal: every page's p95
under 200 ms.

Last line:
p95_ms_max=... slowest_page=... pages=... orders=... baseline_p95_ms=... bad_status=...
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bench.console_seed import Page, World, pages, searches, seed

GOAL_MS = 200.0
CSRF = re.compile(rb'(csrf[-_]token"[^>]*?(?:content|value)=")[^"]*')
PASSWORD = "bench console password"


@dataclass
class Timings:
    page: Page
    ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    body: bytes = b""  # the first answer's

    def pct(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Meter:
    """Times the WSGI call and counts the database's statements during it."""

    def __init__(self, app: Any, engine: Any) -> None:
        self.inner = app.wsgi_app
        self.last_ms = 0.0
        self.queries = 0
        app.wsgi_app = self
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.queries += 1

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.queries = 0
        started = time.perf_counter()
        result = self.inner(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.last_ms = (time.perf_counter() - started) * 1000
        return [body]


@contextmanager
def database(postgres: str | None) -> Iterator[tuple[str, str]]:
    """(url, label): a migrated, empty database."""
    if postgres:
        from bench._ingest_setup import fresh_database

        with fresh_database(postgres) as url:
            yield url, "PostgreSQL"
        return
    from db.session import upgrade

    with tempfile.TemporaryDirectory(prefix="waybill-bench-console-") as tmp:
        url = f"sqlite:///{tmp}/waybill.db"
        upgrade(url)
        yield url, "SQLite"


def sign_in(app: Any, account_id: int) -> Any:
    """A test client signed in as a new owner of the account (a real console session)."""
    from db.models import Account, Role
    from db.users import create_user, start_user_session

    rt = app.extensions["waybill"]
    with rt.session() as s:
        account = s.get(Account, account_id)
        user = create_user(s, account, f"owner-{account_id}@bench.example.com", PASSWORD, Role.owner)
        key = start_user_session(s, user)
        s.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["sid"], session["account_id"] = key, account_id
    return client


def targets(app: Any, world: World) -> tuple[list[Page], list[str]]:
    """What to measure: the baselines, every console page, the orders grid's slow paths."""
    found = pages(app, world.main)
    todo = [Page("healthz", "/healthz", "ops.healthz", None)]
    todo += found.found
    if "console.orders" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            grid = url_for("console.orders")
        todo += [
            Page(name, f"{grid}?{query}", "console.orders", "staff") for name, query in searches(world.main)
        ]
    return todo, found.unfilled


def run(args: argparse.Namespace) -> dict[str, Any]:
    from app import create_app

    with (
        database(args.postgres) as (url, label),
        tempfile.TemporaryDirectory(prefix="waybill-bench-var-") as var,
    ):
        app = create_app({"database_url": url, "var_dir": var, "schedules": {}, "log_level": "WARNING"})
        rt = app.extensions["waybill"]
        try:
            world = seed(rt.engine, orders=args.orders, other_orders=args.other_orders)
            print(
                f"{label}: seeded {world.main.orders:,} + {world.other.orders:,} orders, {world.rows:,} rows "
                f"in {world.seconds:.1f} s",
                flush=True,
            )
            if rt.engine.dialect.name == "postgresql":
                with rt.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            client = sign_in(app, world.main.account_id)
            meter = Meter(app, rt.engine)
            todo, unfilled = targets(app, world)
            results = measure(client, meter, todo, args.warmup, args.requests)
        finally:
            rt.close()
    return {"label": label, "world": world, "results": results, "unfilled": unfilled}


def measure(client: Any, meter: Meter, todo: list[Page], warmup: int, requests: int) -> list[Timings]:
    results = [Timings(page) for page in todo]
    for round_ in range(warmup + requests):
        for timing in results:
            response = client.get(timing.page.url)
            timing.statuses.add(response.status_code)
            if not timing.body:
                timing.body = response.data
            if round_ >= warmup:
                timing.ms.append(meter.last_ms)
                timing.queries.append(meter.queries)
    return results


def unsigned(body: bytes) -> bytes:
    """A page without its CSRF tokens (signed with the time: they differ between answers)."""
    return CSRF.sub(rb"\1", body)


def report(out: dict[str, Any]) -> str:
    results: list[Timings] = out["results"]
    world: World = out["world"]
    print(f"\n{'page':<40} {'status':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    for t in results:
        queries = (
            f"{min(t.queries)}" if min(t.queries) == max(t.queries) else f"{min(t.queries)}-{max(t.queries)}"
        )
        status = ",".join(str(s) for s in sorted(t.statuses))
        print(
            f"{t.page.name:<40} {status:>7} {statistics.median(t.ms):>8.1f} {t.pct(0.95):>8.1f} "
            f"{max(t.ms):>8.1f} {queries:>8}"
        )
    for route in out["unfilled"]:
        print(f"NOT MEASURED (parameters not filled from the seeded data): {route}")
    pages_ = [t for t in results if t.page.endpoint != "ops.healthz"]
    # The sign-in page may send a signed-in user on (a redirect is its answer then).
    bad = [
        t for t in pages_ if t.statuses - ({200, 302, 303} if t.page.endpoint == "console.login" else {200})
    ]
    grid = next((t for t in pages_ if t.page.endpoint == "console.orders" and "?" not in t.page.url), None)
    for t in pages_:
        if grid is not None and "?" in t.page.url and unsigned(t.body) == unsigned(grid.body):
            print(
                f"IGNORED QUERY: {t.page.url} answered the unfiltered grid (are these the grid's parameters?)"
            )
    for t in bad:
        print(f"BAD STATUS: {t.page.name} {t.page.url} answered {sorted(t.statuses)}")
    slowest = max(pages_, key=lambda t: t.pct(0.95))
    baseline = next(t for t in results if t.page.endpoint == "console.login")
    over = [t.page.name for t in pages_ if t.pct(0.95) >= GOAL_MS]
    if over:
        print(f"OVER {GOAL_MS:.0f} ms at p95: {', '.join(over)}")
    return (
        f"p95_ms_max={slowest.pct(0.95):.1f} slowest_page={slowest.page.name} pages={len(pages_)} "
        f"orders={world.main.orders} baseline_p95_ms={baseline.pct(0.95):.1f} "
        f"bad_status={len(bad) + len(out['unfilled'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the measured account")
    parser.add_argument("--other-orders", type=int, default=1_000, help="orders in the other account")
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="requests per page before measuring")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL (default: embedded SQLite)")
    args = parser.parse_args()
    started = time.perf_counter()
    out = run(args)
    line = report(out)
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    print(line)


if __name__ == "__main__":
    main()
