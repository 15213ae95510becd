"""The warehouse: named tables stored as Parquet under the workspace, swapped atomically.

Each table is a folder holding immutable versions and a ``_CURRENT`` pointer::

    warehouse/orders/_CURRENT          -> "v-20261123T101500-3f2a9c1b"
    warehouse/orders/v-20261123T101500-3f2a9c1b/part-0.parquet

A write builds a new version folder, then replaces the pointer with ``os.replace`` (atomic
on POSIX). A reader or a crash mid-write therefore sees the old table or the new one,
never half of one, and readers hold no lock that blocks the pipeline. The previous
version is kept, so a reader that resolved the pointer just before a swap still finds
its files; older ones are removed.

Writers of a table are serialised by an ``flock`` on ``<table>/.lock``. :meth:`Warehouse.lock`
holds it for a whole read–modify–write; it is reentrant within a process, so a
``write`` inside the block does not wait on itself. Several locks are always taken in one
order (other tables by name, then ``rejects``, then ``ingest_log``), so writers cannot
deadlock.

A :meth:`Warehouse.transaction` publishes new versions of several tables as one step: the
versions are written first, then a journal naming them is renamed into
``warehouse/.commits/`` (the commit point), then the pointers are swapped and the journal
removed. From the commit point on, readers resolve every table of the journal to its new
version, and whoever next takes such a table's lock finishes the swap, so a crash leaves
all the tables old or all new.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.store import fingerprints
from socialcrm.store.engine import Engine, parquet_rows

if TYPE_CHECKING:
    from ibis.expr import types as ir

POINTER = "_CURRENT"
LOCK = ".lock"
SCRATCH = ".scratch"
COMMITS = ".commits"
LAST_LOCKS = ("rejects", "ingest_log")
"""Tables whose locks are taken after every other table's, in this order."""
ORPHAN_AGE_S = 60
"""A scratch folder without a lock file is left alone this long (it may be being made)."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    version: str
    updated_at: datetime


class Warehouse:
    """Tables under ``root``, read and written through ``engine``.

    Without an engine the warehouse can still list tables, count rows and read or write
    Arrow tables (the web app lists tables without starting Spark).
    """

    def __init__(self, root: Path, engine: Engine | None = None) -> None:
        self.root = root
        self.engine = engine

    # -- reading -------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return self._current_dir(name) is not None

    def version(self, name: str) -> str | None:
        """The current version of ``name`` (None: not in the warehouse); not a read."""
        return self._pending(name) or self._pointer(name)

    def table(self, name: str) -> ir.Table:
        """The current version of ``name`` as an engine table."""
        current = self._current_dir(name)
        if current is None:
            raise KeyError(f"table {name!r} is not in the warehouse at {self.root}")
        return self._engine().read_parquet(current)

    def table_or_empty(self, name: str, schema: pa.Schema) -> ir.Table:
        """``name`` if it was loaded, else an empty table of ``schema`` (optional inputs)."""
        if self.exists(name):
            return self.table(name)
        return self._engine().memtable(schema.empty_table())

    def read_arrow(self, name: str) -> pa.Table:
        """Read a table straight into Arrow (small tables, tests, the app)."""
        current = self._current_dir(name)
        if current is None:
            raise KeyError(f"table {name!r} is not in the warehouse at {self.root}")
        return pq.read_table(sorted(current.glob("*.parquet")))

    def rows(self, name: str) -> int:
        current = self._current_dir(name)
        return 0 if current is None else parquet_rows(current)

    def tables(self) -> list[TableInfo]:
        """Every table with its row count, from Parquet footers (no scan)."""
        infos: list[TableInfo] = []
        if not self.root.exists():
            return infos
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            current = self._current_dir(folder.name)
            if current is None:
                continue
            stamp = datetime.fromtimestamp((folder / POINTER).stat().st_mtime, tz=UTC)
            infos.append(TableInfo(folder.name, parquet_rows(current), current.name, stamp))
        return infos

    # -- writing -------------------------------------------------------------------------
    def write(self, name: str, data: ir.Table | pa.Table) -> int:
        """Replace table ``name`` with ``data`` atomically; returns its row count."""
        with self.transaction() as tx:
            rows = tx.write(name, data)
        return rows

    def write_files(self, name: str, files: list[Path]) -> int:
        """Replace ``name`` with already-written Parquet ``files`` (moved, not copied)."""
        with self.transaction() as tx:
            rows = tx.write_files(name, files)
        return rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Collect new versions of tables and publish them together when the block ends.

        Each table written is locked until the end (take :meth:`lock` first to read and
        write under one lock). If the block raises, nothing is published.
        """
        with contextlib.ExitStack() as locks:
            tx = Transaction(self, locks)
            try:
                yield tx
                self._commit(tx)
            finally:
                for staging, _ in tx.staged.values():
                    shutil.rmtree(staging, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, *names: str) -> Iterator[None]:
        """Hold the write locks of ``names`` for the block (a read–modify–write).

        Writes of these tables by other processes and threads wait until the block ends;
        writes inside it (``write``, a ``transaction``) go ahead, the lock being reentrant
        within the thread. Readers are never blocked. The locks are taken in the fixed
        order (other tables by name, then ``rejects``, then ``ingest_log``); taking, while
        holding one, a lock that comes earlier in that order raises ``RuntimeError``
        rather than risk a deadlock.
        """
        with contextlib.ExitStack() as stack:
            for name in sorted(set(names), key=_lock_rank):
                stack.enter_context(self._hold(name))
            yield

    def drop(self, name: str) -> None:
        """Remove table ``name`` (its lock file stays, so waiting writers stay serialised)."""
        with self.lock(name):
            _clear(self.root / name, keep=LOCK)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private folder for temporary files on the warehouse's file system.

        It holds an ``flock`` on its ``.lock`` while in use and is removed when the block
        ends; :meth:`tidy` removes those of killed processes (whose lock is free).
        """
        base = self.root / SCRATCH
        while True:
            path = base / uuid.uuid4().hex
            path.mkdir(parents=True)
            try:
                fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # tidied away while empty: take another name
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path / LOCK):
                break
            os.close(fd)  # a tidy removed it between our open and flock
        try:
            yield path
        finally:
            _clear(path, keep=LOCK)
            (path / LOCK).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.rmdir()
            os.close(fd)

    def tidy(self) -> None:
        """Remove what killed writers left: scratch folders, half-built versions, journals.

        Only what no running process still uses is removed: a scratch folder whose lock
        is free, and in a table whose lock is free, staging folders and versions newer
        than the current one that no journal names. Commits interrupted after their
        commit point are finished first.
        """
        if not self.root.is_dir():
            return
        with contextlib.suppress(OSError):  # a read-only warehouse is left as it is
            self._tidy_scratch()
        mine = {n for r, n in _held_by_thread() if r == str(self.root.resolve())}
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            name = folder.name
            if name.startswith(".") or not _valid_name(name) or name in mine:
                continue  # never tidy a table this thread is writing
            with contextlib.suppress(OSError), self._hold(name, blocking=False) as held:
                if held:
                    self._tidy_table(folder)

    # -- internals -----------------------------------------------------------------------
    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("this warehouse was opened without an engine")
        return self.engine

    def _pointer(self, name: str) -> str | None:
        try:
            return (self.root / name / POINTER).read_text().strip()
        except FileNotFoundError:
            return None

    def _current_dir(self, name: str) -> Path | None:
        version = self._pending(name) or self._pointer(name)
        fingerprints.note_read(self.root, name, version)  # what a pipeline step read
        return None if version is None else self.root / name / version

    def _journals(self) -> Iterator[tuple[Path, dict[str, list[str | None]]]]:
        """Committed journals: path and ``{table: [previous version, new version]}``."""
        try:
            paths = sorted((self.root / COMMITS).glob("*.json"))
        except OSError:
            return
        for path in paths:
            try:
                yield path, json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # removed meanwhile (journals are renamed in whole)

    def _pending(self, name: str) -> str | None:
        """The version a committed but unfinished transaction gives ``name``, if any."""
        if not (self.root / COMMITS).is_dir():
            return None
        for _, entries in self._journals():
            if name in entries:
                previous, new = entries[name]
                if self._pointer(name) == previous:
                    return new
        return None

    def _recover(self, name: str) -> None:
        """Finish interrupted commits for ``name``; called with its lock held."""
        if not (self.root / COMMITS).is_dir():
            return
        for path, entries in self._journals():
            if name in entries:
                previous, new = entries[name]
                assert new is not None  # journals always name the new version (see commit)
                if self._pointer(name) == previous and (self.root / name / new).is_dir():
                    self._publish(name, new, previous)
            if all(self._pointer(t) != prev for t, (prev, _) in entries.items()):
                path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _hold(self, name: str, blocking: bool = True) -> Iterator[bool]:
        """Hold ``name``'s lock; yields whether it was taken (always, when blocking)."""
        if not _valid_name(name):
            raise ValueError(f"invalid table name {name!r}")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        lock = _process_lock(folder / LOCK)
        held = _held_by_thread()
        key = (str(self.root.resolve()), name)
        if key not in held:
            later = [n for r, n in held if r == key[0] and _lock_rank(n) > _lock_rank(name)]
            if later:
                raise RuntimeError(
                    f"lock order: take the lock of {name!r} before that of {later[0]!r} "
                    f"(use Warehouse.lock({name!r}, {later[0]!r}))"
                )
        if not lock.acquire(blocking):
            yield False
            return
        held.append(key)
        try:
            if lock.depth == 1:
                self._recover(name)
            yield True
        finally:
            held.remove(key)
            lock.release()

    def _commit(self, tx: Transaction) -> None:
        staged = tx.staged
        if not staged:
            return
        previous = {name: self._pointer(name) for name in staged}
        for name, (staging, version) in staged.items():
            staging.rename(self.root / name / version)
            _fsync_file(self.root / name)
        journal = None
        if len(staged) > 1:
            first = next(iter(staged))
            tmp = self.root / first / f".{uuid.uuid4().hex}.commit.tmp"
            entries = {name: [previous[name], version] for name, (_, version) in staged.items()}
            tmp.write_text(json.dumps(entries))
            _fsync_file(tmp)
            commits = self.root / COMMITS
            commits.mkdir(exist_ok=True)
            journal = commits / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}.json"
            tmp.rename(journal)  # the commit point
            tx.committed = True
            _fsync_file(commits)
        for name, (_, version) in staged.items():
            self._publish(name, version, previous[name], tx)
        if journal is not None:
            journal.unlink()

    def _publish(
        self, name: str, version: str, previous: str | None, tx: Transaction | None = None
    ) -> None:
        """Point ``name`` at ``version`` (already in place) and remove older versions."""
        folder = self.root / name
        tmp_pointer = folder / f".{POINTER}.{uuid.uuid4().hex}"
        tmp_pointer.write_text(version)
        _fsync_file(tmp_pointer)
        os.replace(tmp_pointer, folder / POINTER)
        fingerprints.note_write(self.root, name, version)
        if tx is not None:
            tx.committed = True  # the commit point of a single table
        _fsync_file(folder)
        self._collect(folder, keep={version, previous or ""})

    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[Path]:
        """Yield a fresh version folder; publish it only if the block succeeds."""
        with self.transaction() as tx, tx.version(name) as new_dir:
            yield new_dir

    @staticmethod
    def _collect(folder: Path, keep: set[str]) -> None:
        for entry in folder.iterdir():
            if entry.name in keep or entry.name in (POINTER, LOCK):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(f".{POINTER}.") or entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)

    def _tidy_table(self, folder: Path) -> None:
        """With the table's lock held (and its commits finished): remove debris."""
        current = self._pointer(folder.name)
        for entry in folder.iterdir():
            stray = entry.name.startswith(".") and (
                entry.name.endswith(".tmp") or entry.name.startswith(f".{POINTER}.")
            )
            orphan = (
                entry.is_dir()
                and entry.name.startswith("v-")
                and (current is None or entry.name > current)
            )
            if stray or orphan:
                _remove(entry)

    def _tidy_scratch(self) -> None:
        base = self.root / SCRATCH
        if not base.is_dir():
            return
        for path in base.iterdir():
            try:
                fd = os.open(path / LOCK, os.O_RDWR)
            except FileNotFoundError:
                # being made (empty, for an instant) or its owner died removing it
                with contextlib.suppress(OSError):
                    path.rmdir()
                with contextlib.suppress(OSError):
                    if time.time() - path.stat().st_mtime > ORPHAN_AGE_S:
                        shutil.rmtree(path, ignore_errors=True)
                continue
            except NotADirectoryError:
                path.unlink(missing_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # in use by a running import
            try:
                shutil.rmtree(path, ignore_errors=True)  # removed while we hold its lock
            finally:
                os.close(fd)


class Transaction:
    """New versions of tables, published together by :meth:`Warehouse.transaction`."""

    def __init__(self, warehouse: Warehouse, locks: contextlib.ExitStack) -> None:
        self._wh = warehouse
        self._locks = locks
        self.staged: dict[str, tuple[Path, str]] = {}
        """Table -> (staging folder, version) of each table written so far."""
        self.committed = False
        """Whether the commit point was passed (the new versions are in, for readers too)."""

    def write(self, name: str, data: ir.Table | pa.Table) -> int:
        """Stage ``data`` as the next version of ``name``; returns its row count."""
        with self.version(name) as new_dir:
            if isinstance(data, pa.Table):
                new_dir.mkdir(parents=True)
                # microsecond timestamps: Spark cannot read Parquet's nanosecond ones
                pq.write_table(
                    data,
                    new_dir / "part-0.parquet",
                    compression="zstd",
                    coerce_timestamps="us",
                    allow_truncated_timestamps=True,
                )
                rows: int = data.num_rows
            else:
                rows = self._wh._engine().write_parquet(data, new_dir)
        return rows

    def write_files(self, name: str, files: list[Path]) -> int:
        """Stage already-written Parquet ``files`` (moved, not copied) as ``name``."""
        with self.version(name) as new_dir:
            new_dir.mkdir(parents=True)
            for i, f in enumerate(files):
                shutil.move(f, new_dir / f"part-{i}.parquet")
            rows = parquet_rows(new_dir)
        return rows

    @contextlib.contextmanager
    def version(self, name: str) -> Iterator[Path]:
        """Yield a fresh (not yet existing) version folder of ``name`` to fill."""
        if name in self.staged:
            raise ValueError(f"table {name!r} is written twice in one transaction")
        self._locks.enter_context(self._wh._hold(name))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        version = f"v-{stamp}-{uuid.uuid4().hex[:8]}"
        staging = self._wh.root / name / f".{version}.tmp"
        try:
            yield staging
            _fsync_tree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.staged[name] = (staging, version)


# -- locks ---------------------------------------------------------------------------------
class _ProcessLock:
    """A table's lock within this process: a reentrant thread lock around one ``flock``.

    ``flock`` on a second descriptor of the same file blocks even in the same process,
    so the descriptor is opened once, by the outermost holder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None

    def acquire(self, blocking: bool) -> bool:
        if not self.thread_lock.acquire(blocking=blocking):
            return False
        if self.depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BaseException:
                    os.close(fd)
                    raise
            except BlockingIOError:
                self.thread_lock.release()
                return False
            except BaseException:
                self.thread_lock.release()
                raise
            self.fd = fd
        self.depth += 1
        return True

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        self.thread_lock.release()


_PROCESS_LOCKS: dict[str, _ProcessLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()
_THREAD = threading.local()


def _process_lock(path: Path) -> _ProcessLock:
    key = str(path.resolve())
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.get(key)
        if lock is None:
            lock = _PROCESS_LOCKS[key] = _ProcessLock(Path(key))
        return lock


def _held_by_thread() -> list[tuple[str, str]]:
    held = getattr(_THREAD, "held", None)
    if held is None:
        held = _THREAD.held = []
    return held


def _lock_rank(name: str) -> tuple[int, str]:
    return (LAST_LOCKS.index(name) + 1 if name in LAST_LOCKS else 0, name)


def _valid_name(name: str) -> bool:
    return name.replace("_", "").isalnum()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _remove(entry: Path) -> None:
    """Remove a file or a folder with what it holds (a link, not what it points to)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _clear(folder: Path, keep: str) -> None:
    """Remove everything in ``folder`` but the entry named ``keep``."""
    for entry in folder.iterdir():
        if entry.name != keep:
            _remove(entry)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            _fsync_file(p)
    _fsync_file(path)
