"""Validation of raw records against a table schema, a chunk at a time.

Contact points (emails, phones, handles) are normalised in Python with a cache per
distinct value; types, ranges and domains are checked in one vectorised DuckDB query per
chunk, so a 10-million-row file never becomes 10 million Python objects at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.store import normalize
from socialcrm.store.codes import COUNTRIES, CURRENCIES
from socialcrm.store.readers import RawChunk
from socialcrm.store.schemas import IDENTITY_KINDS, PLATFORMS, Column, TableSchema

MAX_REASON_VALUE = 200
"""Most characters of a value that a reason quotes; longer ones are cut with '…'."""

RejectRow = tuple[int, str | None, str, str]
"""(line, field, reason, raw) of one rejected field; field is None for a broken row."""

_Normaliser = Callable[[str, str | None], str | None]
"""Normalises one value, given its context (the row's platform or kind)."""


@dataclass
class ChunkResult:
    accepted: pa.Table
    """Typed rows in the schema's column order, plus ``_line``."""
    rejects: list[RejectRow]
    """(line, field, reason, raw) for every failed field, structural rejects included."""
    rejected_rows: int


def _quote(value: str) -> str:
    short = value if len(value) <= MAX_REASON_VALUE else value[:MAX_REASON_VALUE] + "…"
    return repr(short)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _shown(c: str) -> str:
    """SQL for a value as a reason quotes it: at most MAX_REASON_VALUE characters."""
    n = MAX_REASON_VALUE
    return f"(CASE WHEN length({c}) > {n} THEN left({c}, {n}) || '…' ELSE {c} END)"


def _limit(amount: float) -> str:
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:,}"


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
    def _normalise(
        self, chunk: RawChunk
    ) -> tuple[dict[str, list[str | None]], list[tuple[str, list[str | None]]]]:
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
        return cols, [(name, errs) for name, errs in errors.items()]

    def _normaliser(
        self, col: Column, platforms: list[str | None] | None, kinds: list[str | None] | None
    ) -> _Normaliser | None:
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
            typed, type_error = _typed(col, c, self.decimal)
            selects.append(f"{typed} AS {c}")
            cases = []
            if col.required:
                cases.append(f"WHEN {c} IS NULL THEN 'required field is empty'")
            if self.schema.name == "orders" and col.name == "amount":
                cases += self._amount_checks(c, typed)  # only on a number: before the type
            if type_error:
                cases.append(type_error)
            if col.minimum is not None:
                cases.append(
                    f"WHEN {typed} < {col.minimum} THEN 'must be at least {col.minimum:g}, found ' "
                    f"|| {_shown(c)}"
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
                    f"'''' || {_shown(c)} || ''' is not {what}'"
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

    def _amount_checks(self, c: str, typed: str) -> list[str]:
        """An order's amount: within the ceiling, and of a sign that fits its status.

        completed: 0 or more (a free order is 0); returned, a refund: 0 or less;
        cancelled: its original amount or 0, never negative (a cancelled order moves no
        money back; a negative one is a refund filed under the wrong status).
        Text that is no number is left to the type check.
        """
        ceiling = _limit(self.max_amount)
        shown = _shown(c)
        beyond = (
            f" is beyond the ceiling of ±{ceiling} (setting SOCIALCRM_INGEST_MAX_AMOUNT; "
            "raise it if the amount is real)"
        )
        refund = " (a refund is a row with status returned)"
        return [
            f"WHEN NOT isfinite({typed}) THEN 'not a finite amount: ' || {shown} || "
            f"{_sql_str(f' (amounts lie within ±{ceiling}, setting SOCIALCRM_INGEST_MAX_AMOUNT)')}",
            f"WHEN abs({typed}) > {float(self.max_amount)!r} "
            f"THEN 'amount ' || {shown} || {_sql_str(beyond)}",
            f"""WHEN "status" = 'completed' AND {typed} < 0 THEN 'a completed order cannot """
            f"""have a negative amount, found ' || {shown} || {_sql_str(refund)}""",
            f"""WHEN "status" = 'returned' AND {typed} > 0 THEN 'a returned order is a """
            f"""refund: its amount must be negative or 0, found ' || {shown}""",
            f"""WHEN "status" = 'cancelled' AND {typed} < 0 THEN 'a cancelled order keeps its """
            f"""original amount or 0, not a negative amount, found ' || {shown} || """
            f"{_sql_str(refund)}",
        ]

    def validate(self, chunk: RawChunk) -> ChunkResult:
        rejects: list[RejectRow] = [
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


def _numeric(c: str, decimal: str) -> str:
    """SQL for a number's text as DuckDB reads it ("." decimal, no grouping); NULL if bad.

    With decimal ".": what DuckDB reads, and a comma only to group thousands, in the full
    pattern 1,234,567.89. With decimal ",": an optional sign, digits either plain or in
    groups of three after a first group of 1-3, the groups separated by "." or by spaces
    (also no-break spaces), then optionally "," and digits: 1234,5  1.234,50  1 234,50.
    """
    if decimal == ".":
        return (
            f"CASE WHEN NOT contains({c}, ',') THEN {c} "
            rf"WHEN regexp_full_match({c}, '[+-]?\d{{1,3}}(,\d{{3}})+(\.\d+)?') "
            f"THEN replace({c}, ',', '') END"
        )
    space = "[ \\x{00A0}\\x{202F}]"
    grammar = rf"[+-]?(\d+|\d{{1,3}}(\.\d{{3}})+|\d{{1,3}}({space}\d{{3}})+)(,\d+)?"
    return (
        f"CASE WHEN regexp_full_match({c}, '{grammar}') "
        f"THEN replace(regexp_replace({c}, '[.{space[1:-1]}]', '', 'g'), ',', '.') END"
    )


def _not_a_number(c: str, decimal: str, what: str) -> str:
    """SQL for the reason a value is no number, with a hint about the decimal mark."""
    shown = _shown(c)
    if decimal == ",":
        hint = " (with --decimal , numbers are written 1234,50 or 1.234,50 or 1 234,50)"
        return f"'{what}: ' || {shown} || {_sql_str(hint)}"
    hint = (
        " (with the decimal mark '.' a comma may only group thousands, as in 1,234.50; "
        "for a decimal comma use --decimal ,)"
    )
    return (
        f"'{what}: ' || {shown} || CASE WHEN contains({c}, ',') THEN {_sql_str(hint)} ELSE '' END"
    )


def _typed(col: Column, c: str, decimal: str = ".") -> tuple[str, str | None]:
    """SQL for the typed value and the CASE branch that reports a type error."""
    shown = _shown(c)
    match col.type:
        case "string":
            return c, None
        case "int64":
            number = _numeric(c, decimal)
            as_double = f"TRY_CAST({number} AS DOUBLE)"
            # whole numbers only: DuckDB alone would round 1.5 to 2
            t = f"CASE WHEN {as_double} = trunc({as_double}) THEN TRY_CAST({number} AS BIGINT) END"
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t}) IS NULL "
                f"THEN {_not_a_number(c, decimal, 'not an integer')}"
            )
        case "float64":
            t = f"TRY_CAST({_numeric(c, decimal)} AS DOUBLE)"
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t} IS NULL OR NOT isfinite({t})) "
                f"THEN {_not_a_number(c, decimal, 'not a number')}"
            )
        case "bool":
            t = (
                f"CASE WHEN lower({c}) IN ('true','t','yes','y','1') THEN true "
                f"WHEN lower({c}) IN ('false','f','no','n','0') THEN false END"
            )
            return t, f"WHEN {c} IS NOT NULL AND ({t}) IS NULL THEN 'not true/false: ' || {shown}"
        case "date":
            iso_date = f"regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}')"
            t = f"CASE WHEN {iso_date} THEN TRY_CAST({c} AS DATE) END"
            return t, (
                f"WHEN {c} IS NOT NULL AND ({t}) IS NULL "
                f"THEN 'not a date (YYYY-MM-DD): ' || {shown} "
                f"WHEN year({t}) NOT BETWEEN 1900 AND 2100 THEN 'date out of range: ' || {shown}"
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
                f"THEN 'not an ISO 8601 date-time: ' || {shown} "
                f"WHEN year(({t}) AT TIME ZONE 'UTC') NOT BETWEEN 1900 AND 2100 "
                f"THEN 'date-time out of range: ' || {shown}"
            )
    raise AssertionError(col.type)


def _map_cached(
    values: list[str | None], fn: _Normaliser, context: list[str | None] | None
) -> tuple[list[str | None], list[str | None]]:
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
                reason = str(e)
                if len(v) > MAX_REASON_VALUE:  # reasons quote the whole value with repr()
                    reason = reason.replace(repr(v), _quote(v))
                hit = (None, reason)
            cache[key] = hit
        out.append(hit[0])
        err.append(hit[1])
    return out, err
