"""Run every benchmark, one after another, into one results file; fail if any check fails.

``make bench`` calls this. Every ``benchmarks/*.py`` whose name does not start with ``_``
is a benchmark and runs, each as its own process (its own memory, its own exit status),
with the arguments below (its defaults otherwise: sized to finish in a few minutes on a
2-core machine; large sizes are behind each script's flags). The CLV benchmark runs in
the lifetimes virtual environment (lifetimes needs pandas<2). Each benchmark's exit
status, duration and the load average before and after it are kept beside the figures the
benchmark writes itself (``_check.Run``), in ``benchmarks/results/latest.json``.

    python benchmarks/_suite.py                                 # all of them
    python benchmarks/_suite.py graph_vs_networkx im_vs_celf    # some
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _check import load_average, machine, record, results_path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = REPO / ".bench"
"""Workspaces the benchmarks build and keep between runs (git-ignored)."""

ARGS: dict[str, list[str]] = {
    "connecting_at_scale": ["--root", str(WORK / "cas")],
    "targeting_vs_truth": ["--root", str(WORK / "tvt"), "--build", "--held-out", "--sizes", "2000"],
}
"""Arguments where a benchmark's defaults are not what ``make bench`` runs."""
AFTER = {"connecting_truth": "connecting_at_scale"}
"""Benchmarks that measure what another one built: they run after it."""


def benchmarks() -> list[str]:
    names = sorted(p.stem for p in HERE.glob("*.py") if not p.name.startswith("_"))
    for later, first in AFTER.items():
        if later in names and first in names:
            names.remove(later)
            names.insert(names.index(first) + 1, later)
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--lifetimes-python", default=str(REPO / ".venv-lifetimes/bin/python"))
    ap.add_argument("--keep", action="store_true", help="add to the results file, not anew")
    args = ap.parse_args()
    names = args.names or benchmarks()
    unknown = set(names) - set(benchmarks())
    if unknown:
        sys.exit(f"no such benchmark: {', '.join(sorted(unknown))} (have {benchmarks()})")
    out = results_path()
    if not args.keep and out.exists():
        out.unlink()
    record("_suite", {"machine_at_start": machine(), "load_average_start": load_average()})
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONUNBUFFERED": "1"}
    runs: dict[str, dict[str, object]] = {}
    for name in names:
        python = args.lifetimes_python if name == "clv_vs_lifetimes" else sys.executable
        cmd = [python, str(HERE / f"{name}.py"), *ARGS.get(name, [])]
        print(f"\n== {name}: {' '.join(cmd[1:])}  (load average {load_average()})", flush=True)
        before, t0 = load_average(), time.perf_counter()
        rc = subprocess.run(cmd, cwd=REPO, env=env, check=False).returncode
        runs[name] = {
            "exit_status": rc,
            "seconds": round(time.perf_counter() - t0, 1),
            "load_average_start": before,
            "load_average_end": load_average(),
        }
        print(f"== {name}: exit status {rc}", flush=True)
    failed = [n for n, r in runs.items() if r["exit_status"] != 0]
    record("_suite", {"runs": runs, "failed": failed, "load_average_end": load_average()})
    print(f"\nresults: {out}")
    if failed:
        print(f"make bench: {len(failed)} of {len(runs)} benchmarks FAILED: {', '.join(failed)}")
        return 1
    print(f"make bench: all {len(runs)} benchmarks passed their checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
