"""What every benchmark shares: one line per check, every figure kept, one results file.

A benchmark's numbers are worth quoting only when the results it compares are equal and
its targets are met in the same run, on a machine whose load is known. So each benchmark
makes one :class:`Run`, records its figures (:meth:`Run.figure`) and its checks
(:meth:`Run.check`: one printed line, ``ok`` or ``FAIL`` and the figures it rests on), and
ends with :meth:`Run.finish`, which writes everything into the results file and returns
the exit status (1 when any check failed). ``make bench`` runs them all into one file,
``benchmarks/results/latest.json`` (git-ignored: it describes one machine at one time);
``benchmarks/_report.py`` prints the docs' tables from it.

Standard library only: the CLV benchmark runs in the lifetimes virtual environment.

Seeds of synthetic data follow one convention, stated here once: :data:`DEV_SEEDS` are
the seeds rules, thresholds and defaults may be chosen on (and tests may use);
:data:`EVAL_SEEDS` (all ≥ 100) are never used by a test, a default, a rule choice or a
threshold — only to report on.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

DEV_SEEDS = (2, 3)
"""Seeds of synthetic brands that rules, thresholds and parameters are chosen on."""
EVAL_SEEDS = (101, 102)
"""Held-out seeds (≥ 100): reported on, never chosen on, never used by a test or default.

Seed 0 is the demo's default and the brand the listening tests were tuned on, so it is
*not* held out; neither is seed 1 (an earlier "held-out" seed that a rule was once
evaluated on before being replaced).
"""

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
"""Where results go unless ``SOCIALCRM_BENCH_RESULTS`` names another file."""
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""Whole public data sets beside the repository (see ``../shared/data/README.md``)."""


def shared_data(*parts: str) -> Path:
    """A file or folder of ``../shared/data``; exits with a clear message when it is missing."""
    root = Path(os.environ.get("SOCIALCRM_BENCH_DATA", SHARED_DATA))
    path = root.joinpath(*parts)
    if not path.exists():
        sys.exit(
            f"benchmark data missing: {path} does not exist. The benchmarks read whole public "
            f"data sets from ../shared/data beside the repository (or SOCIALCRM_BENCH_DATA); "
            f"see that folder's README.md for the files and their sources."
        )
    return path


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages: how much else the machine was doing."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """CPU, cores, memory and software versions: what a figure was measured on."""
    facts: dict[str, Any] = {
        "host": platform.node(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:  # not Linux: the platform string has to do
        pass
    try:
        import duckdb

        facts["duckdb"] = duckdb.__version__
        facts["duckdb_default_threads"] = int(
            duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
        )
    except ImportError:
        pass
    return facts


class Run:
    """One benchmark's run: its checks and figures, printed as they come and kept.

    >>> run = Run("example", write=False)
    >>> run.check("answers agree", 1 + 1 == 2, "2 = 2")
    ok    answers agree: 2 = 2
    True
    >>> run.finish()
    example: 1 of 1 checks ok
    0
    """

    def __init__(self, name: str, *, write: bool = True) -> None:
        self.name = name
        self.write = write
        self.checks: list[dict[str, Any]] = []
        self.figures: dict[str, Any] = {}
        self.started = time.time()
        self.load_start = load_average()
        self.argv = sys.argv[1:]

    def figure(self, key: str, value: Any) -> Any:
        """Keep one figure (a number, or a small dict of them) under ``key``; returns it."""
        self.figures[key] = value
        return value

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        """Print ``ok``/``FAIL``, what is checked and its figures; keep it. Returns ``ok``."""
        ok = bool(ok)
        print(f"{'ok  ' if ok else 'FAIL'}  {what}" + (f": {detail}" if detail else ""), flush=True)
        self.checks.append({"check": what, "ok": ok, "detail": detail})
        return ok

    @property
    def failed(self) -> list[str]:
        return [c["check"] for c in self.checks if not c["ok"]]

    def finish(self) -> int:
        """Write this run into the results file; 1 when a check failed (or none ran)."""
        failed = self.failed
        status = 1 if failed or not self.checks else 0
        if not self.checks:
            print("FAIL  no check ran", flush=True)
        print(
            f"{self.name}: {len(self.checks) - len(failed)} of {len(self.checks)} checks ok"
            + (f"; FAILED: {'; '.join(failed)}" if failed else ""),
            flush=True,
        )
        if self.write:
            record(
                self.name,
                {
                    "ok": status == 0,
                    "argv": self.argv,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                    "seconds": round(time.time() - self.started, 1),
                    "load_average_start": self.load_start,
                    "load_average_end": load_average(),
                    "python": platform.python_version(),
                    "checks": self.checks,
                    "figures": self.figures,
                },
            )
        return status


def results_path() -> Path:
    return Path(os.environ.get("SOCIALCRM_BENCH_RESULTS", RESULTS))


def record(name: str, entry: dict[str, Any]) -> None:
    """Merge one benchmark's entry into the results file (benchmarks run one at a time)."""
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("machine", machine())
    data.setdefault("benchmarks", {})[name] = entry
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    tmp.replace(path)
