"""Event files of the reward programs (referral clicks and orders, social actions).

Small CSV or JSON-lines files a shop or a social tool exports. Every row keeps its line
number, so a bad one is reported as ``file: line N: field 'x': why`` and nothing is
awarded from a file with a bad row (a partial award would be hard to explain).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from socialcrm.store.workspace import Workspace


class EventFileError(ValueError):
    """A program event file that cannot be used; the message names file, line and field."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


def read_rows(path: Path) -> list[Row]:
    """Rows of a CSV (header line) or JSON-lines file, with their line numbers."""
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    rows: list[Row] = []
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise EventFileError(f"{path}: not a UTF-8 text file") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise EventFileError(f"{path}: line {n}: invalid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise EventFileError(f"{path}: line {n}: expected a JSON object")
            vals = {str(k).strip(): "" if v is None else str(v).strip() for k, v in obj.items()}
            rows.append(Row(n, vals))
        return rows
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise EventFileError(f"{path}: empty file (a header line is needed)")
    for rec in reader:
        n = reader.line_num
        vals = {str(k).strip(): (v or "").strip() for k, v in rec.items() if k is not None}
        if any(vals.values()):
            rows.append(Row(n, vals))
    return rows


def need(path: Path, row: Row, field: str) -> str:
    value = row.values.get(field, "")
    if not value:
        raise EventFileError(f"{path}: line {row.line}: field {field!r} is required")
    return value


def parse_time(path: Path, row: Row, field: str, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp as naive UTC (the app database stores naive UTC)."""
    value = row.values.get(field, "")
    if not value:
        if required:
            raise EventFileError(f"{path}: line {row.line}: field {field!r} is required")
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventFileError(
            f"{path}: line {row.line}: field {field!r}: not an ISO 8601 time: {value!r}"
        ) from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def naive_utc(t: datetime | None) -> datetime | None:
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(UTC).replace(tzinfo=None)


def people(ws: Workspace, ids: Iterable[str]) -> dict[str, str]:
    """Record id -> resolved person (``identity_clusters``); ids it does not know map to
    themselves, so everything works before identity resolution has run."""
    wanted = sorted({i for i in ids if i})
    out = {i: i for i in wanted}
    if not wanted or not ws.warehouse.exists("identity_clusters"):
        return out
    clusters = ws.warehouse.table("identity_clusters")
    ids_t = ws.engine.memtable(pa.table({"rid": pa.array(wanted, pa.string())}))
    found = ws.engine.to_arrow(
        clusters.filter(clusters.record_id.isin(ids_t.rid)).select("record_id", "customer_id")
    )
    out.update(zip(found["record_id"].to_pylist(), found["customer_id"].to_pylist(), strict=True))
    return out
