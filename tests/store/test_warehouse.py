import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.store.warehouse import COMMITS, POINTER, Warehouse
from socialcrm.store.workspace import Workspace


def test_write_swaps_versions_and_keeps_one_previous(ws: Workspace) -> None:
    wh = ws.warehouse
    for i in range(4):
        assert wh.write("t", pa.table({"x": list(range(i + 1))})) == i + 1
    assert wh.rows("t") == 4
    versions = [p for p in (wh.root / "t").iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2  # current and the one before it, for readers mid-swap
    assert ws.engine.execute(wh.table("t").x.sum()) == 6


def test_failed_write_leaves_the_table_and_no_debris(ws: Workspace) -> None:
    wh = ws.warehouse
    wh.write("t", pa.table({"x": [1, 2]}))
    pointer = (wh.root / "t" / POINTER).read_text()
    with pytest.raises(RuntimeError, match="crash"), wh._writing("t") as new_dir:
        new_dir.mkdir()
        (new_dir / "part-0.parquet").write_bytes(b"half a file")
        raise RuntimeError("crash mid-write")
    assert (wh.root / "t" / POINTER).read_text() == pointer
    assert wh.read_arrow("t").column("x").to_pylist() == [1, 2]
    assert not [p for p in (wh.root / "t").iterdir() if p.name.endswith(".tmp")]


def test_listing_tables_needs_no_engine(ws: Workspace, tmp_path: Path) -> None:
    ws.warehouse.write("a", pa.table({"x": [1, 2, 3]}))
    infos = Warehouse(ws.warehouse.root).tables()
    assert [(i.name, i.rows) for i in infos] == [("a", 3)]
    with pytest.raises(KeyError, match="not in the warehouse"):
        ws.warehouse.table("missing")


def test_lock_is_held_for_the_block_and_reentrant(ws: Workspace) -> None:
    wh = ws.warehouse
    probe = (
        "import fcntl, sys\n"
        "fh = open(sys.argv[1], 'a')\n"
        "try:\n"
        "    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    lock_file = str(wh.root / "t" / ".lock")
    with wh.lock("t"):
        # another process cannot take it for the whole block, not only during a swap
        assert subprocess.run([sys.executable, "-c", probe, lock_file]).returncode == 3
        wh.write("t", pa.table({"x": [1]}))  # no deadlock: reentrant in this process
        with Warehouse(wh.root).lock("t"):  # another Warehouse object, same process
            wh.write("t", pa.table({"x": [1, 2]}))
        assert subprocess.run([sys.executable, "-c", probe, lock_file]).returncode == 3
    assert subprocess.run([sys.executable, "-c", probe, lock_file]).returncode == 0
    assert wh.rows("t") == 2


def test_threads_serialise_read_modify_write(ws: Workspace) -> None:
    wh = ws.warehouse
    wh.write("counter", pa.table({"n": [0]}))

    def bump() -> None:
        for _ in range(5):
            with wh.lock("counter"):
                n = wh.read_arrow("counter").column("n")[0].as_py()
                wh.write("counter", pa.table({"n": [n + 1]}))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wh.read_arrow("counter").column("n").to_pylist() == [20]


def test_locks_are_taken_in_one_order(ws: Workspace) -> None:
    wh = ws.warehouse
    with wh.lock("ingest_log", "orders", "rejects"):  # any order of arguments is fine
        wh.write("orders", pa.table({"x": [1]}))
    with wh.lock("orders"), wh.lock("rejects"):
        wh.write("ingest_log", pa.table({"x": [1]}))
    with wh.lock("rejects"), pytest.raises(RuntimeError, match="lock order"):
        wh.write("orders", pa.table({"x": [2]}))
    assert wh.read_arrow("orders").column("x").to_pylist() == [1]


def test_transaction_publishes_all_tables_or_none(ws: Workspace) -> None:
    wh = ws.warehouse
    wh.write("a", pa.table({"x": [1]}))
    wh.write("b", pa.table({"x": [1]}))
    with pytest.raises(RuntimeError, match="boom"), wh.transaction() as tx:
        tx.write("a", pa.table({"x": [2]}))
        tx.write("b", pa.table({"x": [2]}))
        raise RuntimeError("boom")
    assert [wh.read_arrow(t).column("x")[0].as_py() for t in "ab"] == [1, 1]
    with wh.transaction() as tx:
        tx.write("a", pa.table({"x": [3]}))
        tx.write("b", pa.table({"x": [3]}))
    assert [wh.read_arrow(t).column("x")[0].as_py() for t in "ab"] == [3, 3]
    assert not list((wh.root / COMMITS).iterdir())


def test_commit_interrupted_after_its_commit_point_is_finished(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = ws.warehouse
    wh.write("a", pa.table({"x": [1]}))
    wh.write("b", pa.table({"x": [1]}))
    publish = Warehouse._publish

    def die_after_first(self, name, version, previous, tx=None):
        publish(self, name, version, previous, tx=None)
        raise SystemExit("killed")

    monkeypatch.setattr(Warehouse, "_publish", die_after_first)
    with pytest.raises(SystemExit), wh.transaction() as tx:
        tx.write("a", pa.table({"x": [2]}))
        tx.write("b", pa.table({"x": [2]}))
    monkeypatch.undo()
    pointers = {t: (wh.root / t / POINTER).read_text() for t in "ab"}
    # one pointer was swapped, the other not; readers already see both new versions
    fresh = Warehouse(wh.root)
    assert [fresh.read_arrow(t).column("x")[0].as_py() for t in "ab"] == [2, 2]
    assert len(list((wh.root / COMMITS).glob("*.json"))) == 1
    fresh.tidy()  # as the next start does: finishes the swap
    assert {t: (wh.root / t / POINTER).read_text() for t in "ab"} != pointers
    assert [fresh.read_arrow(t).column("x")[0].as_py() for t in "ab"] == [2, 2]
    assert not list((wh.root / COMMITS).iterdir())


SCRATCH_HOLDER = """
import sys
from pathlib import Path
from socialcrm.store.warehouse import Warehouse
with Warehouse(Path(sys.argv[1])).scratch() as path:
    (path / "data.parquet").write_bytes(b"x")
    print(path, flush=True)
    sys.stdin.read()
"""


def test_tidy_removes_only_what_no_process_uses(ws: Workspace) -> None:
    wh = ws.warehouse
    wh.write("t", pa.table({"x": [1]}))
    wh.write("t", pa.table({"x": [2]}))
    previous = {p.name for p in (wh.root / "t").iterdir() if p.name.startswith("v-")}
    # debris of a killed writer: a staging folder and a version never pointed to
    (wh.root / "t" / ".v-20990101T000000000000-deadbeef.tmp").mkdir()
    (wh.root / "t" / "v-20990101T000000000000-deadbeef").mkdir()
    live = subprocess.Popen(
        [sys.executable, "-c", SCRATCH_HOLDER, str(wh.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    dead = subprocess.Popen(
        [sys.executable, "-c", SCRATCH_HOLDER, str(wh.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    live_path = Path(live.stdout.readline().strip())
    dead_path = Path(dead.stdout.readline().strip())
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    assert dead_path.exists()

    wh.tidy()
    assert live_path.exists() and (live_path / "data.parquet").exists()
    assert not dead_path.exists()
    assert {p.name for p in (wh.root / "t").iterdir() if p.name != ".lock"} == {
        POINTER,
        *previous,
    }
    assert wh.read_arrow("t").column("x").to_pylist() == [2]

    live.communicate("")  # it finishes and removes its own folder
    assert live.returncode == 0 and not live_path.exists()
    wh.tidy()
    assert not list((wh.root / ".scratch").iterdir())
