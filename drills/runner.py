"""What every drill shares: its size, its result line, and how the runner finds drills.

A drill module (``drills/r<N>_<name>.py``) defines ``NAME``, ``TITLE`` and ``run(size)``,
which starts its own :class:`drills.world.World`, drives it and returns a :class:`Result`
whose ``line()`` is the drill's one ``key=value`` line. A drill that can share a world with
others (it leaves the world as it found it: faults cleared, subscriptions back, every worker
running) also defines ``drill(world, size)``; ``run`` is then ``run_alone(drill, size)``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from drills.check import Report, check
from drills.world import World, WorldConfig


@dataclass(frozen=True)
class Size:
    """How much load a drill drives: merchants (each a shop and a store), orders per storefront,
    worker processes."""

    name: str
    merchants: int
    per_store: int
    workers: int


SIZES = {
    "reduced": Size("reduced", merchants=2, per_store=3, workers=2),
    "full": Size("full", merchants=3, per_store=12, workers=2),
}


@dataclass
class Result:
    """A drill's outcome: its orders, the checker's report and its own figures."""

    name: str
    orders: int
    report: Report
    figures: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        figures = " ".join(f"{k}={_fmt(v)}" for k, v in self.figures.items())
        head = f"drill={self.name} orders={self.orders} {self.report.line()}"
        return f"{head} {figures}".rstrip()


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def verify(world: World, grace_s: float = 20.0, refunds: int = 0) -> Report:
    """The checker over every order placed in ``world``, repeated for up to ``grace_s`` while
    something is still missing (a stock push waiting for its debounce); a duplicate never goes
    away, so it is reported at once. In a world shared by several drills, a drill's report
    covers the earlier drills' orders too (which passed, or the run stopped)."""
    deadline = time.monotonic() + grace_s
    while True:
        report = check(world.placed, world.observe(), refunds=refunds)
        if report.ok or report.total_duplicates or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def drills() -> dict[str, ModuleType]:
    """Every drill module of the package, by ``NAME`` (R1, R2, ...), in order."""
    import drills as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if re.fullmatch(r"r\d+_\w+", info.name):
            module = importlib.import_module(f"drills.{info.name}")
            found[module.NAME] = module
    return dict(sorted(found.items(), key=lambda item: int(item[0][1:])))


# The world every shareable drill can run in: R6's short retry policy (harmless elsewhere),
# the safety-net sweeps but no periodic reconciliation (R7 counts one), faults off.
RETRY = {"retry": {"max": 10, "base_s": 0.5, "factor": 2.0, "max_s": 4.0, "jitter": 0.25}}


def shared_config(size: Size) -> WorldConfig:
    from drills.crash import EXTRA_CONFIG  # the inbox sweep takes events 1 s old (R3)

    extra = {"queue": RETRY, **EXTRA_CONFIG}
    return WorldConfig(merchants=size.merchants, workers=size.workers, extra_config=extra)


def run_alone(drill: Callable[[World, Size], Result], size: Size) -> Result:
    """``drill`` in a world of its own (``shared_config``)."""
    with World(shared_config(size)) as world:
        return drill(world, size)
