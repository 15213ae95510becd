"""Ingestion: load a user's file into an input table, losing nothing and adding nothing twice.

The path a file takes:

1. read in chunks (CSV, JSON lines or Parquet), each record keeping its line and text;
2. validate each chunk against the table's schema; good rows go to a staging Parquet
   file (with their line and verbatim text), bad ones to the rejects with file, line,
   field, reason and text;
3. reject repeated natural keys within the file (the first occurrence wins), keeping
   the repeats' verbatim text;
4. under the locks of the table, ``rejects`` and ``ingest_log`` (in that order): merge
   with the current table by natural key on the engine: new rows are *accepted*,
   identical ones *unchanged*, changed ones *updated*;
5. publish, in one warehouse transaction, the table, the rejects (replacing those of an
   earlier import of the same file) and a line in ``ingest_log``.

Steps 1–3 run without locks, so imports of several files overlap; step 4 reads the table
inside the lock, so concurrent imports (and other writers) never overwrite each other's
rows. A crash before the transaction's commit point leaves all three tables as they were;
after it, all three are new (see :meth:`Warehouse.transaction`).

Columns a file does not carry are left as they are in existing rows (a *partial update*);
new rows get nulls there. A carried column's empty cell sets null. ``replace=True``
replaces whole rows instead. See :func:`ingest_file`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from socialcrm.store.erasure import ERASED_TABLE, REASON, ErasedList, erased_list
from socialcrm.store.readers import (
    Format,
    RawChunk,
    ReadError,
    ReadOptions,
    detect_format,
    read_chunks,
    shorten,
)
from socialcrm.store.schemas import REJECTS, TableSchema, input_table
from socialcrm.store.validate import ChunkResult, ChunkValidator, RejectRow
from socialcrm.store.warehouse import Transaction
from socialcrm.store.workspace import Workspace

REPORTED_REJECTS = 1000
INGEST_LOG = pa.schema(
    [
        pa.field("table_name", pa.string()),
        pa.field("file", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("finished_at", pa.timestamp("us", tz="UTC")),
        pa.field("rows_read", pa.int64()),
        pa.field("accepted", pa.int64()),
        pa.field("rejected", pa.int64()),
        pa.field("unchanged", pa.int64()),
        pa.field("updated", pa.int64()),
    ]
)


class IngestError(Exception):
    """The file as a whole cannot be loaded; the message says why in one line."""


@dataclass(frozen=True)
class Reject:
    line: int
    field: str | None
    reason: str


@dataclass
class IngestReport:
    table: str
    file: str
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    updated: int = 0
    rows_read: int = 0
    committed: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    """The first rejects (all are in the ``rejects`` table)."""

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "file": self.file,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "committed": self.committed,
            "ignored_columns": self.ignored_columns,
            "rejects": [asdict(r) for r in self.rejects],
        }


def ingest_file(
    ws: Workspace,
    table: str,
    path: Path,
    fmt: Format | None = None,
    strict: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    *,
    options: ReadOptions | None = None,
    replace: bool = False,
) -> IngestReport:
    """Load ``path`` into input table ``table``; see the module docstring for the steps.

    With ``strict``, any reject leaves the table untouched (``committed`` is false).
    ``options`` says how to read a text file (encoding, delimiter, decimal mark).

    A file that carries only some columns updates only those in existing rows; the
    others keep their values, and new rows get nulls there. A column is *carried* when
    it is in the header (CSV, Parquet) or named by any record (JSON lines: a record that
    omits it then sets it to null). An empty cell of a carried column sets null. The
    unchanged / updated counts compare carried columns only. For ``identities``,
    ``raw_value`` is carried only when the file has it: otherwise existing rows keep
    their ``raw_value`` and new rows get the value as written. With ``replace``, every
    row in the file replaces the stored row whole (absent columns become null).

    Other imports and writers of the same tables may run at the same time: each import
    either lands all its rows or raises and changes nothing.
    """
    options = options or ReadOptions()
    try:
        schema = input_table(table)
    except KeyError as e:
        raise IngestError(str(e.args[0])) from None
    path = Path(path)
    fmt = fmt or detect_format(path)
    try:
        names, chunks = read_chunks(path, fmt, on_bytes, options=options)
    except ReadError as e:
        raise IngestError(str(e)) from None
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror})") from None
    report = IngestReport(table=table, file=str(path.resolve()))
    if fmt != "jsonl":  # JSON lines name their fields per record
        _check_header(schema, path, names, report)

    wh = ws.warehouse
    with wh.scratch() as scratch:
        staged, rejects_file = _stage(ws, schema, path, chunks, scratch, report, options)
        if fmt == "jsonl":
            report.ignored_columns = sorted(set(names) - set(schema.column_names))
        carried = [c for c in schema.column_names if c in set(names)]
        deduped, repeat_rejects = _reject_repeated_keys(schema, staged, scratch, report)
        if strict and report.rejected:
            return report
        digest = _sha256(path)
        tx: Transaction | None = None
        try:
            with wh.lock(schema.name, "rejects", "ingest_log"), wh.transaction() as tx:
                _merge(ws, schema, deduped, report, tx, carried=carried, replace=replace)
                _record_rejects(ws, report, [rejects_file, *repeat_rejects], tx)
                _log(ws, report, digest, tx)
        except OSError as e:
            if tx is not None and tx.committed:
                raise  # past the commit point: the import is in; only tidying failed
            raise IngestError(
                f"{path}: cannot write the warehouse at {wh.root} ({e.strerror or e}); "
                "nothing was loaded"
            ) from e
        report.committed = True
        return report


def _check_header(schema: TableSchema, path: Path, names: list[str], report: IngestReport) -> None:
    present = set(names)
    in_groups = {c for g in schema.one_of for c in g}
    missing = [
        c.name
        for c in schema.columns
        if c.required
        and c.name not in present
        and not (schema.name == "identities" and c.name == "raw_value")
    ]
    missing += [" or ".join(g) for g in schema.one_of if not present.intersection(g)]
    missing = [m for m in missing if m not in in_groups]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) for table {schema.name}: {', '.join(missing)}"
            f" (header has: {shorten(', '.join(names))})"
        )
    report.ignored_columns = sorted(present - set(schema.column_names))


def _stage(
    ws: Workspace,
    schema: TableSchema,
    path: Path,
    chunks: Iterator[RawChunk],
    scratch: Path,
    report: IngestReport,
    options: ReadOptions,
) -> tuple[Path, Path]:
    """Validate every chunk; write good rows and rejects to scratch Parquet files."""
    accepted_file = scratch / "accepted.parquet"
    rejects_file = scratch / "rejects.parquet"
    accepted_schema = schema.arrow_schema.append(pa.field("_line", pa.int64())).append(
        pa.field("_raw", pa.string())
    )
    settings = ws.settings
    validator = ChunkValidator(
        schema,
        settings.phone_region,
        settings.timezone,
        decimal=options.decimal,
        max_amount=settings.ingest_max_amount,
    )
    now = datetime.now(UTC)
    wh = ws.warehouse
    erased = erased_list(settings, wh.read_arrow(ERASED_TABLE) if wh.exists(ERASED_TABLE) else None)
    try:
        with (
            pq.ParquetWriter(accepted_file, accepted_schema, compression="zstd") as good,
            pq.ParquetWriter(rejects_file, REJECTS, compression="zstd") as bad,
        ):
            try:
                for chunk in chunks:
                    result = validator.validate(chunk)
                    if erased is not None:
                        result = _screen_erased(schema.name, result, erased)
                    report.rows_read += len(chunk) + len(chunk.structural)
                    report.rejected += result.rejected_rows
                    if result.accepted.num_rows:
                        rows = result.accepted.append_column(
                            "_raw", _raw_texts(result.accepted.column("_line"), chunk)
                        )
                        good.write_table(rows.cast(accepted_schema))
                    if result.rejects:
                        bad.write_table(
                            _rejects_table(schema.name, report.file, result.rejects, now)
                        )
                        _remember(report, result.rejects)
            except UnicodeDecodeError as e:
                raise IngestError(f"{path}: not UTF-8 text ({e.reason})") from None
    finally:
        validator.close()
    return accepted_file, rejects_file


def _screen_erased(table: str, result: ChunkResult, erased: ErasedList) -> ChunkResult:
    """Turn rows that name an erased person into rejects whose verbatim text is not kept."""
    hit, fields = erased.screen(table, result.accepted)
    if not pc.any(hit).as_py():
        return result
    lines = result.accepted.column("_line").to_pylist()
    rejects = list(result.rejects) + [
        (lines[i], fields[i], REASON, "") for i, h in enumerate(hit.to_pylist()) if h
    ]
    rejects.sort(key=lambda r: r[0])
    kept = result.accepted.filter(pc.invert(hit))
    return ChunkResult(kept, rejects, result.rejected_rows + len(rejects) - len(result.rejects))


def _raw_texts(lines: pa.ChunkedArray, chunk: RawChunk) -> pa.Array:
    """The verbatim text of each accepted row, found by its line in the chunk."""
    where = pc.index_in(lines, value_set=pa.array(chunk.lines, pa.int64()))
    return pa.array(chunk.raw, pa.string()).take(where)


def _rejects_table(table: str, file: str, rejects: list[RejectRow], now: datetime) -> pa.Table:
    lines, fields, reasons, raws = zip(*rejects, strict=True)
    return _rejects_columns(table, file, lines, fields, reasons, raws, now)


def _rejects_columns(
    table: str,
    file: str,
    lines: Sequence[int] | pa.Array | pa.ChunkedArray,
    fields: Sequence[str | None],
    reasons: Sequence[str] | pa.Array | pa.ChunkedArray,
    raws: Sequence[str] | pa.Array | pa.ChunkedArray,
    now: datetime,
) -> pa.Table:
    """Rows of the ``rejects`` table from columns of equal length."""
    n = len(lines)
    return pa.table(
        {
            "table_name": pa.array([table] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "line": pa.array(lines, pa.int64()),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "rejected_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=REJECTS,
    )


def _remember(report: IngestReport, rejects: list[RejectRow]) -> None:
    room = REPORTED_REJECTS - len(report.rejects)
    for line, fld, reason, _ in rejects[: max(room, 0)]:
        report.rejects.append(Reject(line, fld, reason))


def _reject_repeated_keys(
    schema: TableSchema, staged: Path, scratch: Path, report: IngestReport
) -> tuple[Path, list[Path]]:
    """Keep the first row of each natural key in the file; reject the repeats verbatim.

    Returns the rows to merge and the files of the repeats' rejects (none if no repeats).
    Only the key columns and lines are grouped in memory; rows and texts stream.
    """
    keys = ", ".join(f'"{k}"' for k in schema.key)
    src = f"read_parquet('{staged}')"
    out = scratch / "deduped.parquet"
    extra = scratch / "repeat-rejects.parquet"
    key_label = ", ".join(schema.key)
    con = duckdb.connect()
    try:
        con.execute(
            f"""CREATE TEMP TABLE repeats AS
            WITH firsts AS (
              SELECT {keys}, min(_line) AS _first FROM {src}
              GROUP BY {keys} HAVING count(*) > 1)
            SELECT s._line, s._raw, f._first FROM {src} s JOIN firsts f USING ({keys})
            WHERE s._line <> f._first"""
        )
        counted = con.execute("SELECT count(*) FROM repeats").fetchone()
        assert counted is not None  # count(*) always gives one row
        n = counted[0]
        if not n:
            return staged, []
        con.execute(
            f"COPY (SELECT * EXCLUDE (_raw) FROM {src} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM repeats r WHERE r._line = s._line) ORDER BY _line)"
            f" TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
        )
        repeats = con.execute(
            "SELECT _line, _first, _raw FROM repeats ORDER BY _line"
        ).fetch_arrow_table()
    finally:
        con.close()
    reasons = pc.binary_join_element_wise(
        f"repeats the {key_label} of line ",
        repeats.column("_first").cast(pa.string()),
        " in this file",
        "",
    )
    table = _rejects_columns(
        schema.name,
        report.file,
        repeats.column("_line"),
        [key_label] * n,
        reasons,
        repeats.column("_raw"),
        datetime.now(UTC),
    )
    pq.write_table(table, extra)
    report.rejected += n
    first = repeats.slice(0, REPORTED_REJECTS)
    _remember(
        report,
        [
            (line, key_label, reason, raw)
            for line, reason, raw in zip(
                first.column("_line").to_pylist(),
                reasons.slice(0, REPORTED_REJECTS).to_pylist(),
                first.column("_raw").to_pylist(),
                strict=True,
            )
        ],
    )
    report.rejects.sort(key=lambda r: r.line)
    return out, [extra]


def _merge(
    ws: Workspace,
    schema: TableSchema,
    staged: Path,
    report: IngestReport,
    tx: Transaction,
    *,
    carried: list[str],
    replace: bool,
) -> None:
    """Classify rows as new / unchanged / updated and stage the merged table in ``tx``.

    Called with the table's lock held, so the table read here is the one replaced.
    Columns not ``carried`` keep their stored values in existing rows (unless
    ``replace``); only carried columns decide whether a row is unchanged.
    """
    wh = ws.warehouse
    cols = schema.column_names
    folder = staged.parent / "staged"
    folder.mkdir()
    staged.rename(folder / "part-0.parquet")
    incoming = ws.engine.read_parquet(folder).select(cols)
    if not wh.exists(schema.name):
        report.accepted = tx.write(schema.name, incoming)
        return
    current = wh.table(schema.name).select(cols)
    taken = set(cols) if replace else set(carried) | set(schema.key)
    kept_cols = [c for c in cols if c not in taken]
    compared = [c for c in cols if c in taken and c not in schema.key]
    old = current.rename({f"old_{c}": c for c in cols}).mutate(_present=ibis.literal(True))
    joined = incoming.left_join(old, [incoming[k] == old[f"old_{k}"] for k in schema.key])
    is_new = joined._present.isnull()
    same = (
        ibis.and_(*[joined[c].identical_to(joined[f"old_{c}"]) for c in compared])
        if compared
        else ibis.literal(True)
    )
    status = ibis.cases((is_new, "new"), (same, "unchanged"), else_="updated")
    counts = ws.engine.execute(
        joined.mutate(status=status).group_by("status").aggregate(n=ibis._.count())
    )
    by_status = dict(zip(counts["status"], counts["n"], strict=True))
    report.accepted = int(by_status.get("new", 0))
    report.unchanged = int(by_status.get("unchanged", 0))
    report.updated = int(by_status.get("updated", 0))
    if report.accepted == 0 and report.updated == 0:
        return  # nothing changes: leave the table (and its version) as it is
    if kept_cols:  # a partial file: existing rows keep the columns it does not carry
        fresh = joined.select(
            *[
                (
                    is_new.ifelse(joined[c], joined[f"old_{c}"]) if c in kept_cols else joined[c]
                ).name(c)
                for c in cols
            ]
        )
    else:
        fresh = incoming
    kept = current.anti_join(incoming, list(schema.key))
    tx.write(schema.name, kept.union(fresh.select(cols)))


def _record_rejects(
    ws: Workspace, report: IngestReport, files: list[Path], tx: Transaction
) -> None:
    """Replace this file's earlier rejects with this run's, so re-runs add nothing."""
    wh = ws.warehouse
    new = pa.concat_tables([pq.read_table(f).cast(REJECTS) for f in files])
    if wh.exists("rejects"):
        old = wh.read_arrow("rejects")
        mask = _from_other_imports(old, report.table, report.file)
        if new.num_rows == 0 and mask.all():
            return
        new = pa.concat_tables([old.filter(pa.array(mask)), new.cast(old.schema)])
    elif new.num_rows == 0:
        return
    tx.write("rejects", new)


def _from_other_imports(rejects: pa.Table, table: str, file: str) -> np.ndarray:
    """Mask of the ``rejects`` rows that do *not* come from (table, file)."""
    t = rejects.column("table_name").to_numpy(zero_copy_only=False)
    f = rejects.column("file").to_numpy(zero_copy_only=False)
    return ~((t == table) & (f == file)) if len(t) else np.ones(0, dtype=bool)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _log(ws: Workspace, report: IngestReport, sha256: str, tx: Transaction) -> None:
    """Stage ``ingest_log`` with one more line, for this import."""
    row = pa.table(
        {
            "table_name": [report.table],
            "file": [report.file],
            "sha256": [sha256],
            "finished_at": [datetime.now(UTC)],
            "rows_read": [report.rows_read],
            "accepted": [report.accepted],
            "rejected": [report.rejected],
            "unchanged": [report.unchanged],
            "updated": [report.updated],
        },
        schema=INGEST_LOG,
    )
    wh = ws.warehouse
    if wh.exists("ingest_log"):
        row = pa.concat_tables([wh.read_arrow("ingest_log").cast(INGEST_LOG), row])
    tx.write("ingest_log", row)
