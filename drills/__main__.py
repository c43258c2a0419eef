"""Run the drills: ``python -m drills [--size reduced|full] [R1 R2 ...]`` (all by default).

Each drill prints one line ``drill=R1 orders=... lost=0 duplicates=0 ...``; the exit status is
nonzero when any drill lost an order, did something twice or did not finish.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from drills.runner import SIZES, drills


def main(argv: list[str] | None = None) -> int:
    found = drills()
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("names", nargs="*", metavar="DRILL", help=f"some of {' '.join(found)}")
    args = parser.parse_args(argv)
    names = [n.upper() for n in args.names] or list(found)
    unknown = [n for n in names if n not in found]
    if unknown:
        parser.error(f"no drill {' '.join(unknown)} (there are {' '.join(found)})")
    size = SIZES[args.size]
    print(f"# size={size.name} cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}", flush=True)
    failed, started = [], time.monotonic()
    for name in names:
        try:
            result = found[name].run(size)
            print(result.line(), flush=True)
            if not result.report.ok:
                failed.append(name)
                print(f"# {name} problems: " + "; ".join(result.report.problems[:10]), flush=True)
        except Exception:
            failed.append(name)
            print(f"drill={name} error", flush=True)
            traceback.print_exc()
    print(
        f"# drills={len(names)} failed={len(failed)} elapsed_s={time.monotonic() - started:.0f}", flush=True
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
