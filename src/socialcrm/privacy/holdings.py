"""What the brand holds about a person: rows of every warehouse table and app-database table.

Tables are found, not listed: every table in the warehouse's catalogue and every table of
the app database's schema is searched, so a table added next month is covered without
touching this module. A row is the person's when a *person column* holds one of their
values (:data:`PERSON_COLUMNS`: record ids, emails, phones, handles, graph nodes), or when
one of its texts mentions them (an email, phone or full name anywhere; a handle or record
id as a whole word): another customer's post that names them, a rejected line of a file,
an audit entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import String, Table, Text, cast, func, inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import JSON

from socialcrm.appdb.models import Base
from socialcrm.privacy.person import Person
from socialcrm.store.erasure import ERASED_TABLE
from socialcrm.store.schemas import INPUT_TABLES
from socialcrm.store.warehouse import Warehouse

PERSON_COLUMNS = (
    "customer_id", "record_id", "record_id_l", "record_id_r", "person_id", "other_id",
    "buyer_id", "referrer_id", "email", "phone", "value", "handle", "author_handle",
    "follower_handle", "followed_handle", "node", "recipient", "address", "voter",
)  # fmt: skip
"""Columns whose whole value names a person: a record id, email, phone, handle or graph
node (``platform:handle``). Matched by value, so a column of the same name holding
something else (``households.address``, a postal address) matches nothing."""
LOG_TABLES = ("rejects", "ingest_log")
STAFF_TABLES = ("users", "api_tokens", "alembic_version")
"""App tables about staff accounts, not customers (managed by ``socialcrm users``)."""
OWN_TABLES = ("privacy_receipts", "privacy_requests")
"""This package's own tables: receipts and requests keep hashes and counts only."""


def category(table: str) -> str:
    """``input``, ``log`` or ``derived``: how a warehouse table came to be."""
    if table in INPUT_TABLES:
        return "input"
    return "log" if table in LOG_TABLES else "derived"


# -- the warehouse ---------------------------------------------------------------------------
@dataclass
class Match:
    """Which rows of a table are the person's, and why."""

    keyed: pa.Array
    """Rows whose person columns hold one of their values."""
    mentioned: pa.Array
    """Other rows whose texts mention them."""
    key_columns: list[str]


def warehouse_tables(wh: Warehouse) -> list[str]:
    """Every table of the catalogue but the erasure list (hashes only)."""
    return [t.name for t in wh.tables() if t.name != ERASED_TABLE]


def _strings(table: pa.Table) -> list[str]:
    return [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def match_rows(table: pa.Table, person: Person) -> Match:
    """Rows of ``table`` that are the person's (see the module docstring)."""
    n = table.num_rows
    values = pa.array(sorted(person.values))
    keyed = pa.array([False] * n, pa.bool_())
    strings = _strings(table)
    key_columns = [c for c in strings if c in PERSON_COLUMNS]
    for c in key_columns:
        hit = pc.fill_null(pc.is_in(pc.utf8_lower(table.column(c)), value_set=values), False)
        keyed = pc.or_(keyed, hit)
    mentioned = [False] * n
    pattern = person.mentions()
    literals = person.literals()
    for c in strings:
        col = table.column(c)
        candidate = pa.array([False] * n, pa.bool_())
        for lit in literals:
            found = pc.match_substring(col, lit, ignore_case=True)
            candidate = pc.or_(candidate, pc.fill_null(found, False))
        idx = pc.indices_nonzero(candidate).to_pylist()
        if not idx:
            continue
        texts = col.take(pa.array(idx)).to_pylist()
        for i, text in zip(idx, texts, strict=True):
            if text and pattern.search(text):
                mentioned[i] = True
    mentioned_arr = pc.and_(pa.array(mentioned, pa.bool_()), pc.invert(keyed))
    return Match(keyed, mentioned_arr, key_columns)


def warehouse_holdings(wh: Warehouse, person: Person) -> dict[str, dict[str, Any]]:
    """``{table: {category, keyed_by, rows, mentions}}`` for every table holding the person."""
    found: dict[str, dict[str, Any]] = {}
    for name in warehouse_tables(wh):
        table = wh.read_arrow(name)
        m = match_rows(table, person)
        keyed, mentioned = table.filter(m.keyed), table.filter(m.mentioned)
        if keyed.num_rows or mentioned.num_rows:
            found[name] = {
                "category": category(name),
                "keyed_by": m.key_columns,
                "rows": keyed.to_pylist(),
                "mentions": mentioned.to_pylist(),
            }
    return found


# -- the app database ------------------------------------------------------------------------
def app_tables(s: Session) -> list[Table]:
    """The app database's customer-facing tables, parents before children (those the
    database has: a model whose migration has not run yet is skipped)."""
    skip = set(STAFF_TABLES) | set(OWN_TABLES)
    present = set(inspect(s.connection()).get_table_names())
    return [t for t in Base.metadata.sorted_tables if t.name not in skip and t.name in present]


def text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def person_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if c.name in PERSON_COLUMNS and isinstance(c.type, String)]


def keyed_clause(table: Table, person: Person) -> ColumnElement[bool] | None:
    cols = person_columns(table)
    if not cols:
        return None
    values = sorted(person.values)
    return or_(*[func.lower(c).in_(values) for c in cols])


def mention_clause(table: Table, person: Person) -> ColumnElement[bool] | None:
    """A first filter in SQL (a literal inside a text); :func:`mentions` decides."""
    cols = text_columns(table)
    literals = [lit.lower() for lit in person.literals()]
    if not cols or not literals:
        return None
    return or_(
        *[
            func.lower(cast(c, String)).contains(lit, autoescape=True)
            for c in cols
            for lit in literals
        ]
    )


def mentions(row: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(_text(v)) for v in row.values() if isinstance(v, str | dict | list))


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def app_rows(s: Session, table: Table, person: Person) -> Iterator[tuple[dict[str, Any], bool]]:
    """(row, keyed) for each row of ``table`` that is the person's or mentions them."""
    keyed = keyed_clause(table, person)
    seen: set[tuple[Any, ...]] = set()
    pk = list(table.primary_key.columns)
    if keyed is not None:
        for row in s.execute(select(table).where(keyed)).mappings():
            seen.add(tuple(row[c.name] for c in pk))
            yield dict(row), True
    loose = mention_clause(table, person)
    if loose is None:
        return
    pattern = person.mentions()
    for row in s.execute(select(table).where(loose)).mappings():
        if tuple(row[c.name] for c in pk) in seen:
            continue
        if mentions(dict(row), pattern):
            yield dict(row), False


def app_holdings(s: Session, person: Person) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for table in app_tables(s):
        rows = list(app_rows(s, table, person))
        if rows:
            found[table.name] = {
                "keyed_by": [c.name for c in person_columns(table)],
                "rows": [r for r, k in rows if k],
                "mentions": [r for r, k in rows if not k],
            }
    return found


def export(wh: Warehouse, s: Session, person: Person) -> dict[str, Any]:
    """Everything held about ``person``: the document ``socialcrm privacy export`` writes."""
    return {
        "person": person.person_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "known_by": {
            "records": sorted(person.records),
            "emails": sorted(person.emails),
            "phones": sorted(person.phones),
            "handles": sorted(person.handles),
            "loyalty_ids": sorted(person.loyalty_ids),
            "names": sorted(person.names),
        },
        "person_columns": list(PERSON_COLUMNS),
        "warehouse": warehouse_holdings(wh, person),
        "app": app_holdings(s, person),
    }
