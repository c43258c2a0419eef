"""`make mutation`: mutmut over core/, the ledgers and the flows' policy, then the scores per module.

Runs ``mutmut run`` (configuration in pyproject.toml, ``[tool.mutmut]``) on a fresh
``mutants/`` copy, reads the verdicts mutmut leaves beside each mutated file, and prints
per module: mutants, killed, equivalent (listed in tests/mutation_equivalent.txt), survived,
the score, then every survivor with its diff. The last line is::

    mutation_score_core=NN.N mutation_score_ledger=NN.N mutation_score_policy=NN.N survivors=N

Score = killed / (all - equivalent). A timeout or a crash of the mutated code counts as
killed (the change was noticed); "no tests" (no selected test ran the function) counts
as survived. Equivalent mutants are named stably, by module, function and the changed
lines, never by mutmut's running number: see tests/mutation_equivalent.txt.

Usage: ``python -m tests.mutation_run [core|ledger|policy ...]`` (default: every group).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.txt"
LOG = ROOT / "var" / "mutation.log"

# Group -> the mutmut name patterns it covers, matched against mutant names such as
# ``core.risk.xǁRiskRulesǁfrom_settings__mutmut_3`` or ``sync.pipeline.x_apply_verdict__mutmut_7``
# (``mutmut run`` takes the same patterns). core and ledger name whole modules; policy names
# the functions of the flows that decide (what a verdict does to an order, what the risk rules
# are given, when a review may proceed, what counts as stock and when it is low), not their
# I/O plumbing. sync/shipping.py and sync/verdicts.py are not in it yet (being reworked).
GROUPS: dict[str, list[str]] = {
    "core": ["core.*"],
    "ledger": ["db.effects.*", "db.stock.*"],
    "policy": [
        "sync.pipeline.x_verifiable*",
        "sync.pipeline.x_apply_verdict*",
        "sync.pipeline.x__joined*",
        "sync.pipeline.x_address_key*",
        "sync.pipeline.x_is_trusted*",
        "sync.pipeline.x_gather_input*",
        "sync.pipeline.x__check_input*",
        "sync.review.x__reviewable*",
        "sync.pipeline.x_still_short*",
        "sync.pipeline.x_decision_summary*",
        "sync.inventory.x_order_quantities*",
        "sync.inventory.x_low_stock_check*",
        "sync.inventory.x_observe*",
    ],
}
GOALS = {"core": 95.0, "ledger": 90.0, "policy": 90.0}

# mutmut's exit codes (mutmut/stats.py) that mean the change was noticed: a failing test,
# pytest's internal error, a timeout (36, and the SIGXCPU codes) or a crash.
KILLED = {1, 3, 36, -24, 24, 152, 255, -11, -9}


@dataclass
class Module:
    name: str
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    survivors: list[tuple[str, str]] = field(default_factory=list)  # (stable id, diff)

    @property
    def score(self) -> float:
        scored = self.total - self.equivalent
        return 100.0 * self.killed / scored if scored else 100.0


def _function_of(mutant: str) -> str:
    """``core.risk.xǁRiskRulesǁfrom_settings__mutmut_3`` -> ``RiskRules.from_settings``."""
    name = mutant.split(".")[-1].rsplit("__mutmut_", 1)[0]
    if name.startswith("xǁ"):
        return ".".join(p for p in name[2:].split("ǁ") if p)
    return name[2:] if name.startswith("x_") else name


def _changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    ]


def stable_id(mutant: str, diff: str) -> str:
    """Module, function and a hash of the changed lines: survives edits elsewhere in the file."""
    module = ".".join(mutant.split(".")[:-1])
    body = "\n".join(" ".join(line.split()) for line in _changed_lines(diff))
    digest = hashlib.sha256(body.encode()).hexdigest()[:10]
    return f"{module}:{_function_of(mutant)}:{digest}"


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """Stable id -> reason. Lines: ``<id>  <reason>``; ``#`` comments; a reason is required."""
    listed: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path.name}: {key} has no reason")
        listed[key] = reason.strip()
    return listed


def _diff(mutants_dir: Path, name: str, source: Path | None = None) -> str:
    """The mutant's unified diff: in-process (fast) when the source file is known."""
    if source is not None:
        try:
            from mutmut.mutation.diff_apply import get_diff_for_mutant

            return str(get_diff_for_mutant(name, path=source))
        except Exception:  # an internal of mutmut's changed: ask its command instead
            pass
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=mutants_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return "\n".join(line for line in out.stdout.splitlines() if not line.startswith("# "))


def matches(mutant: str, patterns: Iterable[str]) -> bool:
    """Whether a mutant's name matches one of the group's patterns (as ``mutmut run`` matches)."""
    return any(fnmatchcase(mutant, p) for p in patterns)


def unused_entries(equivalent: dict[str, str], used: set[str], modules: Iterable[str]) -> list[str]:
    """Listed equivalents of the modules just run that no survivor matched: the mutant is now
    killed (the entry is wrong, or a test now tells it apart) or its line changed (the entry
    must follow it). Reported for review, in the list's order."""
    run = set(modules)
    return [key for key in equivalent if key.split(":", 1)[0] in run and key not in used]


def collect(
    patterns: Iterable[str], equivalent: dict[str, str], used: set[str] | None = None
) -> dict[str, Module]:
    mutants_dir = ROOT / "mutants"
    modules: dict[str, Module] = {}
    patterns = list(patterns)
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        source = meta.relative_to(mutants_dir).with_suffix("")  # core/risk.py
        for name, code in sorted(data.get("exit_code_by_key", {}).items()):
            if not matches(name, patterns):
                continue
            module = ".".join(name.split(".")[:-1])
            m = modules.setdefault(module, Module(module))
            m.total += 1
            if code in KILLED:
                m.killed += 1
                continue
            diff = _diff(mutants_dir, name, source)
            key = stable_id(name, diff)
            if key in equivalent:
                m.equivalent += 1
                if used is not None:
                    used.add(key)
            else:
                m.survivors.append((f"{key} ({name})", diff))
    return modules


def run_mutmut(patterns: list[str]) -> None:
    LOG.parent.mkdir(exist_ok=True)
    env = {**os.environ, "WAYBILL_TEST_REDIS_DB": os.environ.get("WAYBILL_TEST_REDIS_DB", "3")}
    with LOG.open("a") as log:
        done = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", *patterns],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed (exit {done.returncode}); see {LOG}")


def main(argv: list[str]) -> int:
    unknown = [g for g in argv if g not in GROUPS]
    if unknown:
        raise SystemExit(f"unknown group(s) {unknown}; known: {sorted(GROUPS)}")
    groups = [g for g in GROUPS if g in argv] if argv else list(GROUPS)  # the last line's order
    equivalent = load_equivalent()
    os.chdir(ROOT)  # mutmut reads its configuration and mutants/ from here
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    LOG.unlink(missing_ok=True)
    patterns = [p for g in groups for p in GROUPS[g]]
    run_mutmut(patterns)
    scores: dict[str, str] = {}
    survivors = 0
    used: set[str] = set()
    seen: set[str] = set()
    for group in groups:
        modules = collect(GROUPS[group], equivalent, used)
        seen.update(modules)
        total = sum(m.total - m.equivalent for m in modules.values())
        killed = sum(m.killed for m in modules.values())
        score = 100.0 * killed / total if total else 100.0
        print(f"== {group} (goal {GOALS[group]:.0f}%)")
        for m in sorted(modules.values(), key=lambda m: m.name):
            print(
                f"  {m.name:<16} {m.score:5.1f}%  {m.total} mutants, {m.killed} killed, "
                f"{m.equivalent} equivalent, {len(m.survivors)} survived"
            )
        for m in sorted(modules.values(), key=lambda m: m.name):
            for key, diff in m.survivors:
                print(f"-- survived: {key}")
                print("\n".join("   " + line for line in _changed_lines(diff)))
            survivors += len(m.survivors)
        scores[group] = f"{score:.1f}"
    for key in unused_entries(equivalent, used, seen):
        print(f"-- listed equivalent, matched no survivor (now killed, or its line moved): {key}")
    line = " ".join(f"mutation_score_{g}={s}" for g, s in scores.items())
    print(f"{line} survivors={survivors}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
