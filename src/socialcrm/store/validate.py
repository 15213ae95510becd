"""Validation of raw records against a table schema, a chunk at a time.

Contact points (emails, phones, handles) are normalised in Python with a cache per
distinct value; types, ranges and domains are checked in one vectorised DuckDB query per
chunk, so a 10-million-row file never becomes 10 million Python objects at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.store import normalize
from socialcrm.store.codes import COUNTRIES, CURRENCIES
from socialcrm.store.readers import RawChunk
from socialcrm.store.schemas import IDENTITY_KINDS, PLATFORMS, Column, TableSchema

MAX_REASON_VALUE = 60


@dataclass
class ChunkResult:
    accepted: pa.Table
    """Typed rows in the schema's column order, plus ``_line``."""
    rejects: list[tuple[int, str | None, str, str]]
    """(line, field, reason, raw) for every failed field, structural rejects included."""
    rejected_rows: int


def _quote(value: str) -> str:
    short = value if len(value) <= MAX_REASON_VALUE else value[:MAX_REASON_VALUE] + "…"
    return repr(short)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ChunkValidator:
    """Validates chunks of one file against one schema."""

    def __init__(
        self,
        schema: TableSchema,
        phone_region: str,
        timezone: str,
        decimal: str = ".",
        max_amount: float = 1e9,
    ) -> None:
        self.schema = schema
        self.phone_region = phone_region
        self.decimal = decimal
        self.max_amount = max_amount
        self.con = duckdb.connect()
        self.con.execute(f"SET TimeZone = {_sql_str(timezone)}")
        self._sql = self._build_sql()

    def close(self) -> None:
        self.con.close()

    # -- normalisation in Python (per distinct value) ------------------------------------
    def _normalise(self, chunk: RawChunk) -> tuple[dict[str, list[str | None]], list[list]]:
        n = len(chunk)
        cols: dict[str, list[str | None]] = {}
        errors: dict[str, list[str | None]] = {}
        for col in self.schema.columns:
            values = chunk.columns.get(col.name) or [None] * n
            values = [None if v is None or not v.strip() else v.strip() for v in values]
            cols[col.name] = values
        platforms = cols.get("platform")
        kinds = cols.get("kind") if self.schema.name == "identities" else None
        for col in self.schema.columns:
            fn = self._normaliser(col, platforms, kinds)
            if fn is None:
                continue
            out, err = _map_cached(
                cols[col.name],
                fn,
                platforms
                if col.normalise == "handle"
                else kinds
                if col.name == "value" and kinds
                else None,
            )
            cols[col.name] = out
            if any(e is not None for e in err):
                errors[col.name] = err
        if self.schema.name == "identities":
            raw = chunk.columns.get("raw_value") or [None] * n
            orig = chunk.columns.get("value") or [None] * n
            cols["raw_value"] = [r if r else o for r, o in zip(raw, orig, strict=True)]
        return cols, [[name, errs] for name, errs in errors.items()]

    def _normaliser(self, col: Column, platforms, kinds):
        region = self.phone_region
        if self.schema.name == "identities" and col.name == "value":
            return lambda v, kind: (
                normalize.identity_value(kind.lower(), v, region)
                if kind and kind.lower() in IDENTITY_KINDS
                else v
            )
        match col.normalise:
            case "email":
                return lambda v, _: normalize.email(v)
            case "phone":
                return lambda v, _: normalize.phone(v, region)
            case "handle":
                return lambda v, platform: (
                    normalize.handle(platform.lower(), v)
                    if platform and platform.lower() in PLATFORMS
                    else v
                )
            case "list":
                return lambda v, _: normalize.tag_list(v) or None
            case "lower":
                return lambda v, _: v.lower()
            case "upper":
                return lambda v, _: v.upper()
        return None

    # -- typing and checks in DuckDB ------------------------------------------------------
    def _build_sql(self) -> str:
        selects, checks = [], []
        for col in self.schema.columns:
            c = f'"{col.name}"'
            typed, type_error = _typed(col, c)
            selects.append(f"{typed} AS {c}")
            cases = []
            if col.required:
                cases.append(f"WHEN {c} IS NULL THEN 'required field is empty'")
            if type_error:
                cases.append(type_error)
            if col.minimum is not None:
                cases.append(
                    f"WHEN {typed} < {col.minimum} THEN 'must be at least {col.minimum:g}, found ' "
                    f"|| {c}"
                )
            domain = col.domain
            label = None
            if self.schema.name == "orders" and col.name == "currency":
                domain, label = tuple(sorted(CURRENCIES)), "an ISO 4217 currency code"
            if self.schema.name == "customers" and col.name == "country":
                domain, label = tuple(sorted(COUNTRIES)), "an ISO 3166-1 alpha-2 country code"
            if domain:
                allowed = ", ".join(_sql_str(d) for d in domain)
                what = label or "one of " + ", ".join(domain)
                cases.append(
                    f"WHEN {c} IS NOT NULL AND {c} NOT IN ({allowed}) THEN "
                    f"'''' || {c} || ''' is not {what}'"
                )
            checks.append(
                f'CASE {" ".join(cases)} END AS "{col.name}__error"'
                if cases
                else f'NULL::VARCHAR AS "{col.name}__error"'
            )
        for group in self.schema.one_of:
            absent = " AND ".join(f'"{g}" IS NULL' for g in group)
            checks.append(
                f"CASE WHEN {absent} THEN 'one of {', '.join(group)} is required' END "
                f'AS "{"|".join(group)}__error"'
            )
        return f"SELECT _idx, {', '.join(selects)}, {', '.join(checks)} FROM chunk ORDER BY _idx"

    def validate(self, chunk: RawChunk) -> ChunkResult:
        rejects: list[tuple[int, str | None, str, str]] = [
            (line, None, reason, raw) for line, reason, raw in chunk.structural
        ]
        n = len(chunk)
        if n == 0:
            empty = self.schema.arrow_schema.empty_table().append_column(
                "_line", pa.array([], pa.int64())
            )
            return ChunkResult(empty, rejects, len(chunk.structural))
        cols, norm_errors = self._normalise(chunk)
        arrays = {name: pa.array(values, pa.string()) for name, values in cols.items()}
        arrays["_idx"] = pa.array(range(n), pa.int64())
        self.con.register("chunk", pa.table(arrays))
        try:
            typed = self.con.sql(self._sql).fetch_arrow_table()
        finally:
            self.con.unregister("chunk")

        bad = [False] * n
        reported: set[tuple[int, str]] = set()
        for name, errs in norm_errors:
            for i, e in enumerate(errs):
                if e is not None:
                    bad[i] = True
                    reported.add((i, name))
                    rejects.append((chunk.lines[i], name, e, chunk.raw[i]))
        for field in typed.column_names:
            if not field.endswith("__error"):
                continue
            name = field[: -len("__error")]
            col = typed.column(field)
            if col.null_count == len(col):
                continue
            for i in pc.indices_nonzero(pc.is_valid(col)).to_pylist():
                if (i, name) in reported:  # already said why its normalisation failed
                    continue
                bad[i] = True
                rejects.append((chunk.lines[i], name, col[i].as_py(), chunk.raw[i]))

        keep = pa.array([not b for b in bad])
        out = typed.filter(keep).select(self.schema.column_names)
        out = out.cast(self.schema.arrow_schema.remove_metadata(), safe=False)
        lines = pa.array(chunk.lines, pa.int64()).filter(keep)
        out = out.append_column("_line", lines)
        rejected_rows = sum(bad) + len(chunk.structural)
        rejects.sort(key=lambda r: r[0])
        return ChunkResult(out, rejects, rejected_rows)


def _typed(col: Column, c: str) -> tuple[str, str | None]:
    """SQL for the typed value and the CASE branch that reports a type error."""
    match col.type:
        case "string":
            return c, None
        case "int64":
            t = f"TRY_CAST({c} AS BIGINT)"
            return t, f"WHEN {c} IS NOT NULL AND {t} IS NULL THEN 'not an integer: ' || {c}"
        case "float64":
            t = f"TRY_CAST({c} AS DOUBLE)"
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t} IS NULL OR NOT isfinite({t})) "
                f"THEN 'not a number: ' || {c}"
            )
        case "bool":
            t = (
                f"CASE WHEN lower({c}) IN ('true','t','yes','y','1') THEN true "
                f"WHEN lower({c}) IN ('false','f','no','n','0') THEN false END"
            )
            return t, f"WHEN {c} IS NOT NULL AND ({t}) IS NULL THEN 'not true/false: ' || {c}"
        case "date":
            iso_date = f"regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}')"
            t = f"CASE WHEN {iso_date} THEN TRY_CAST({c} AS DATE) END"
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t}) IS NULL THEN 'not a date (YYYY-MM-DD): ' || {c} "
                f"WHEN year({t}) NOT BETWEEN 1900 AND 2100 THEN 'date out of range: ' || {c}"
            )
        case "timestamp":
            # A date alone means midnight UTC; a time without offset is in the import's zone.
            t = (
                f"CASE WHEN regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                f"THEN timezone('UTC', TRY_CAST({c} AS DATE)::TIMESTAMP) "
                f"WHEN regexp_matches({c}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d{{2}}:\\d{{2}}') "
                f"THEN TRY_CAST({c} AS TIMESTAMPTZ) END"
            )
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t}) IS NULL "
                f"THEN 'not an ISO 8601 date-time: ' || {c} "
                f"WHEN year(({t}) AT TIME ZONE 'UTC') NOT BETWEEN 1900 AND 2100 "
                f"THEN 'date-time out of range: ' || {c}"
            )
    raise AssertionError(col.type)


def _map_cached(values, fn, context):
    """Apply ``fn(value, context)`` once per distinct (value, context); collect reasons."""
    cache: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
    out: list[str | None] = []
    err: list[str | None] = []
    ctx = context or [None] * len(values)
    for v, k in zip(values, ctx, strict=True):
        if v is None:
            out.append(None)
            err.append(None)
            continue
        key = (v, k)
        hit = cache.get(key)
        if hit is None:
            try:
                hit = (fn(v, k), None)
            except ValueError as e:
                hit = (None, str(e))
            cache[key] = hit
        out.append(hit[0])
        err.append(hit[1])
    return out, err
