"""What every drill shares: its size, its result line, and how the runner finds drills.

A drill module (``drills/r<N>_<name>.py``) defines ``NAME``, ``TITLE`` and ``run(size)``,
which starts its own :class:`drills.world.World`, drives it and returns a :class:`Result`
whose ``line()`` is the drill's one ``key=value`` line.
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
from drills.world import Placed, World


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


def verify(world: World, placed: list[Placed], grace_s: float = 20.0, refunds: int = 0) -> Report:
    """The checker over ``placed``, repeated for up to ``grace_s`` while something is still
    missing (a stock push waiting for its debounce); a duplicate never goes away, so it is
    reported at once."""
    deadline = time.monotonic() + grace_s
    while True:
        report = check(placed, world.observe(), refunds=refunds)
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


DrillRun = Callable[[Size], Result]
