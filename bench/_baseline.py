"""A same-run baseline for a benchmark: the same measurement on the code at another git ref.

``at_ref`` checks the ref out into a temporary ``git worktree`` (no venv of its own: the
packages are the same), copies this tree's ``bench/`` over its own, so the measurement is
the current one, and runs the benchmark there as a child process: its gunicorn, workers,
migrations and Waybill code are the ref's. The child's output is echoed with a prefix, and
its last line (``key=value`` pairs) is returned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """A detached worktree of ``ref`` with this tree's ``bench/`` copied over; removed afterwards."""
    parent = tempfile.mkdtemp(prefix="waybill-baseline-")
    tree = Path(parent) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), ref], check=True
    )
    try:
        for source in (ROOT / "bench").glob("*.py"):
            shutil.copy2(source, tree / "bench" / source.name)
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(parent, ignore_errors=True)


def parse_headline(line: str) -> dict[str, str]:
    """``a=1 b=2`` -> ``{"a": "1", "b": "2"}``."""
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def at_ref(ref: str, module: str, argv: list[str], prefix: str = "baseline | ") -> dict[str, str]:
    """Run ``python -m module *argv`` on the code at ``ref``; its last line's figures."""
    with checkout(ref) as tree:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        last = ""
        for line in proc.stdout:
            print(prefix + line, end="", flush=True)
            last = line.strip() or last
        if proc.wait() != 0:
            raise SystemExit(f"the baseline run at {ref} failed ({proc.returncode})")
    return parse_headline(last)
