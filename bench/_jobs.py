"""Jobs the benchmarks enqueue (importable by workers, unlike a ``__main__`` module)."""

from __future__ import annotations

from typing import Any

from db.timeline import record
from sync.jobs import job


def bare_noop() -> None:
    """The baseline job: RQ calls it and nothing else happens."""


@job("bench_ledger_noop", queue="intake")
def ledger_noop(rt: Any, n: int) -> None:
    """A no-op side effect: claim and complete an effects-ledger key, then a timeline entry."""
    rt.ledger.run(f"bench:{n}", "bench", {"n": n}, lambda progress: {"n": n})
    with rt.session() as s:
        record(s, None, f"bench:{n}", "bench", "noop")
