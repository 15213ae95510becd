"""Search every column of every warehouse table and every app-database table for strings.

The test of erasure: nothing personal may be left anywhere, whatever table or column it
hides in, so nothing here is listed by hand. Strings are searched case-insensitively as
substrings, in string columns and in JSON columns (as their text).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import create_engine, inspect, text

from socialcrm.store.warehouse import Warehouse


def warehouse_hits(root: Path, needles: list[str]) -> dict[str, int]:
    """``{"table.column": rows}`` where any needle occurs."""
    wh = Warehouse(root)
    hits: dict[str, int] = {}
    for info in wh.tables():
        table = wh.read_arrow(info.name)
        for f in table.schema:
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                continue
            col = table.column(f.name)
            for needle in needles:
                found = pc.sum(
                    pc.fill_null(pc.match_substring(col, needle, ignore_case=True), False).cast(
                        pa.int64()
                    )
                ).as_py()
                if found:
                    hits[f"{info.name}.{f.name}"] = hits.get(f"{info.name}.{f.name}", 0) + found
    return hits


def app_hits(url: str, needles: list[str]) -> dict[str, int]:
    """The same over every column of every app-database table (SQLite: all as text)."""
    engine = create_engine(url)
    hits: dict[str, int] = {}
    try:
        with engine.connect() as c:
            for table in inspect(c).get_table_names():
                cols = [col["name"] for col in inspect(c).get_columns(table)]
                for col in cols:
                    for needle in needles:
                        n = c.execute(
                            text(
                                f'SELECT count(*) FROM "{table}" '
                                f'WHERE instr(lower(CAST("{col}" AS TEXT)), :n) > 0'
                            ),
                            {"n": needle.lower()},
                        ).scalar()
                        if n:
                            hits[f"{table}.{col}"] = hits.get(f"{table}.{col}", 0) + int(n)
    finally:
        engine.dispose()
    return hits
