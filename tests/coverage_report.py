"""The per-package summary of `make coverage`: lines and branches per top-level package,
from the combined data (``coverage json``), and a last line of ``key=value`` figures.

Usage: python -m tests.coverage_report COVERAGE_JSON
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_of(filename: str) -> str:
    path = Path(filename)
    if path.is_absolute():
        path = path.relative_to(ROOT)
    return path.parts[0] if len(path.parts) > 1 else "modules"  # app.py, worker.py, ...


def percent(covered: int, total: int) -> float:
    return round(100.0 * covered / total, 1) if total else 100.0


def main(report: str) -> int:
    files = json.loads(Path(report).read_text())["files"]
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for filename, data in files.items():
        summary = data["summary"]
        row = sums[package_of(filename)]
        row[0] += summary["covered_lines"]
        row[1] += summary["num_statements"]
        row[2] += summary["covered_branches"]
        row[3] += summary["num_branches"]
    total = [sum(row[i] for row in sums.values()) for i in range(4)]
    print(f"{'package':<10} {'lines':>7} {'line %':>7} {'branches':>9} {'branch %':>9}")
    for name, row in [*sorted(sums.items()), ("total", total)]:
        print(f"{name:<10} {row[1]:>7} {percent(row[0], row[1]):>7} {row[3]:>9} {percent(row[2], row[3]):>9}")
    figures = [f"branch_{name}={percent(row[2], row[3])}" for name, row in sorted(sums.items())]
    figures += [f"line_total={percent(total[0], total[1])}", f"branch_total={percent(total[2], total[3])}"]
    print(" ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
