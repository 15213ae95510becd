"""Kill a real import (SIGKILL) before each file-system step it takes, and check the result.

The child counts every call that changes the file system (``mkdir``, ``rename``,
``replace``, ``unlink``, ``rmdir``; not ``fsync``: a kill loses no written data) and
kills itself just before the k-th, for every k. After each kill, opening the workspace
must show the orders table, ``rejects`` and ``ingest_log`` all as before the import or
all as after it (exact rows), and no scratch folder, staging folder or journal left
behind.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.store.ingest import ingest_file
from socialcrm.store.warehouse import COMMITS, SCRATCH
from socialcrm.store.workspace import Workspace

HEADER = "order_id,customer_id,email,ordered_at,amount,currency,status,quantity\n"
COUNTED = ("mkdir", "rename", "replace", "unlink", "rmdir")


def _first_file(path: Path) -> Path:
    rows = [f"a{i},c{i % 7},,2024-01-{1 + i % 28:02d},{i}.5,EUR,completed,1" for i in range(50)]
    rows += ["bad1,c1,,2024-13-01,1,EUR,completed,1", "bad2,c1,,2024-01-01,x,EUR,completed,1"]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _second_file(path: Path) -> Path:
    rows = [
        f"a{i},c{i % 7},,2024-01-{1 + i % 28:02d},{i + 1}.5,EUR,completed,1" for i in range(40, 60)
    ]
    rows += [f"b{i},c{i % 5},,2024-02-{1 + i % 28:02d},{i}.25,EUR,completed,2" for i in range(40)]
    rows += ["b3,c3,,2024-02-04,3.25,EUR,completed,2", "bad3,c2,,2024-02-01,1,XXX,completed,1"]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _import_and_die(home: str, file: str, kill_at: int, count_file: str) -> None:
    """In a child: import ``file``, SIGKILLing ourselves before file-system step ``kill_at``."""
    ws = Workspace.open(Settings(home=Path(home)))
    calls = 0

    def counted(fn):
        def step(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return step

    originals = {name: getattr(os, name) for name in COUNTED}
    for name, fn in originals.items():
        setattr(os, name, counted(fn))
    try:
        ingest_file(ws, "orders", Path(file))
    finally:
        for name, fn in originals.items():
            setattr(os, name, fn)
    Path(count_file).write_text(str(calls))
    ws.close()


def _state(home: Path) -> tuple:
    """The three tables' rows, without the columns that hold times."""
    with Workspace.open(Settings(home=home)) as ws:
        wh = ws.warehouse
        orders = sorted(tuple(r.values()) for r in wh.read_arrow("orders").to_pylist())
        rejects = sorted(
            (r["file"], r["line"], r["field"], r["reason"], r["raw"])
            for r in wh.read_arrow("rejects").to_pylist()
        )
        log = sorted(
            (r["file"], r["rows_read"], r["accepted"], r["rejected"], r["updated"])
            for r in wh.read_arrow("ingest_log").to_pylist()
        )
    return orders, rejects, log


def _debris(home: Path) -> list[str]:
    root = home / "warehouse"
    left = [str(p) for p in (root / SCRATCH).glob("*")] if (root / SCRATCH).exists() else []
    left += [str(p) for p in (root / COMMITS).glob("*")] if (root / COMMITS).exists() else []
    for table in ("orders", "rejects", "ingest_log"):
        entries = list((root / table).iterdir())
        left += [str(p) for p in entries if p.name.endswith(".tmp") or ".CURRENT." in p.name]
        versions = [p for p in entries if p.name.startswith("v-")]
        if len(versions) > 2:
            left += [str(p) for p in versions]
    return left


@pytest.mark.skipif(sys.platform != "linux", reason="forkserver and SIGKILL semantics")
def test_kill_at_every_step_leaves_old_or_new_state(tmp_path: Path) -> None:
    base = tmp_path / "base"
    with Workspace.open(Settings(home=base)) as ws:
        ingest_file(ws, "orders", _first_file(tmp_path / "first.csv"))
    second = _second_file(tmp_path / "second.csv")
    old = _state(base)

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "socialcrm.store.ingest", "ibis.backends.duckdb"])

    def start(kill_at: int):
        home = tmp_path / f"k{kill_at}"
        shutil.copytree(base, home)
        count = tmp_path / f"count{kill_at}"
        proc = ctx.Process(
            target=_import_and_die, args=(str(home), str(second), kill_at, str(count))
        )
        proc.start()
        return home, count, proc

    def finish(run) -> tuple[Path, int | None, int | None]:
        home, count, proc = run
        proc.join()
        return home, int(count.read_text()) if count.exists() else None, proc.exitcode

    home, steps, code = finish(start(0))  # the whole import, counting its steps
    assert code == 0 and steps is not None and steps > 20
    new = _state(home)
    assert new != old
    assert len(new[0]) == 50 + 10 + 40 and len(new[2]) == 2  # a50-a59, b0-b39; a log line
    assert len(new[1]) == len(old[1]) + 2  # a bad currency and a repeated key
    assert not _debris(home)

    outcomes = []
    for first in range(1, steps + 1, 2):  # two children at a time
        runs = [start(k) for k in range(first, min(first + 2, steps + 1))]
        for k, run in zip(range(first, first + 2), runs, strict=False):
            home, _, code = finish(run)
            assert code == -signal.SIGKILL, f"step {k} of {steps}: not killed"
            state = _state(home)  # opens the workspace: tidies and finishes commits
            assert state in (old, new), f"killed before step {k} of {steps}: mixed state"
            assert not _debris(home), f"killed before step {k} of {steps}: debris left"
            outcomes.append(state == new)
            shutil.rmtree(home)
    # both outcomes happen, and once new, every later kill leaves the new state
    assert outcomes[0] is False and outcomes[-1] is True
    assert outcomes == sorted(outcomes)
