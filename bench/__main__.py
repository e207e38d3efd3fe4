"""Run the benchmarks: ``python -m bench [NAME ...]`` (``make bench`` runs them all).

Every ``bench/bench_<name>.py`` module has a ``run()`` that prints its details and returns rows
``(name, measured, target, ok)``. The output ends with one line per target,
``<name>: <measured> (target <target>)``, marked ``MISSED`` where a target was not met. The exit
code is 0 either way (a benchmark informs; it is not a test), except 2 for an unknown NAME.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

PREFIX = "bench_"


def available() -> list[str]:
    """Names of the benchmark modules (``bench_metrics.py`` -> ``metrics``), sorted."""
    here = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix(PREFIX)
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith(PREFIX)
    )


def _run_one(name: str) -> list[tuple[str, str, str, bool]]:
    print(f"== bench {name} ==", flush=True)
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{PREFIX}{name}")
        rows = [(str(a), str(b), str(c), bool(d)) for a, b, c, d in module.run()]
    except Exception:  # one broken benchmark must not hide the others' results
        traceback.print_exc()
        rows = [(name, "ERROR (see traceback above)", "runs", False)]
    print(f"   ({time.perf_counter() - start:.1f} s)\n", flush=True)
    return rows


def main(argv: list[str]) -> int:
    names = available()
    wanted = argv or names
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(
            f"unknown benchmark {unknown[0]!r}: choose from {', '.join(names) or 'none'}",
            file=sys.stderr,
        )
        return 2
    rows = [row for name in wanted for row in _run_one(name)]
    print("== targets ==")
    for name, measured, target, ok in rows:
        print(f"{name}: {measured} (target {target}){'' if ok else '  MISSED'}")
    missed = sum(not ok for *_, ok in rows)
    print(f"{len(rows) - missed}/{len(rows)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
