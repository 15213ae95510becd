"""The warehouse: named tables stored as Parquet under the workspace, swapped atomically.

Each table is a folder holding immutable versions and a ``_CURRENT`` pointer::

    warehouse/orders/_CURRENT          -> "v-20261123T101500-3f2a9c1b"
    warehouse/orders/v-20261123T101500-3f2a9c1b/part-0.parquet

A write builds a new version folder, then replaces the pointer with ``os.replace`` (atomic
on POSIX). A reader or a crash mid-write therefore sees the old table or the new one,
never half of one, and readers hold no lock that blocks the pipeline. The previous
version is kept, so a reader that resolved the pointer just before a swap still finds
its files; older ones are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.store.engine import Engine, parquet_rows

if TYPE_CHECKING:
    from ibis.expr import types as ir

POINTER = "_CURRENT"


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
        infos = []
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
        with self._writing(name) as new_dir:
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
                rows = data.num_rows
            else:
                rows = self._engine().write_parquet(data, new_dir)
        return rows

    def write_files(self, name: str, files: list[Path]) -> int:
        """Replace ``name`` with already-written Parquet ``files`` (moved, not copied)."""
        with self._writing(name) as new_dir:
            new_dir.mkdir(parents=True)
            for i, f in enumerate(files):
                shutil.move(f, new_dir / f"part-{i}.parquet")
            rows = parquet_rows(new_dir)
        return rows

    def drop(self, name: str) -> None:
        with self._lock(name):
            shutil.rmtree(self.root / name, ignore_errors=True)

    def scratch_dir(self) -> Path:
        """A private folder for temporary files on the warehouse's file system."""
        path = self.root / ".scratch" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    # -- internals -----------------------------------------------------------------------
    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("this warehouse was opened without an engine")
        return self.engine

    def _current_dir(self, name: str) -> Path | None:
        pointer = self.root / name / POINTER
        try:
            version = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name / version

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[Path]:
        """Yield a fresh version folder; publish it only if the block succeeds."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"invalid table name {name!r}")
        with self._lock(name):
            folder = self.root / name
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            version = f"v-{stamp}-{uuid.uuid4().hex[:8]}"
            staging = folder / f".{version}.tmp"
            try:
                yield staging
                _fsync_tree(staging)
                staging.rename(folder / version)
                previous = self._current_dir(name)
                tmp_pointer = folder / f".{POINTER}.{uuid.uuid4().hex}"
                tmp_pointer.write_text(version)
                _fsync_file(tmp_pointer)
                os.replace(tmp_pointer, folder / POINTER)
                _fsync_file(folder)
                self._collect(folder, keep={version, previous.name if previous else ""})
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _collect(folder: Path, keep: set[str]) -> None:
        for entry in folder.iterdir():
            if entry.name in keep or entry.name in (POINTER, ".lock"):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(f".{POINTER}."):
                entry.unlink(missing_ok=True)


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
