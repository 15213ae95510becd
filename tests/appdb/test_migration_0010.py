"""0010 (saved listening queries) creates ``listening_queries`` and goes back down."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from socialcrm.appdb.db import make_engine, migrate
from tests.appdb.migrating import downgrade

INSERT = (
    "INSERT INTO listening_queries (name, terms, lang, sources, needs_response, created_by, "
    "created_at, updated_at) VALUES (:n, 'coffee', NULL, '[]', :r, 'test', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)"
)


def test_up_creates_the_table_with_unique_names_and_down_drops_it(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0009_journeys")
    assert "listening_queries" not in inspect(engine).get_table_names()
    migrate(engine, "0010_listening_queries")
    columns = {c["name"]: c for c in inspect(engine).get_columns("listening_queries")}
    assert set(columns) == {"id", "name", "terms", "lang", "sources", "needs_response",
                            "created_by", "created_at", "updated_at"}  # fmt: skip
    assert columns["lang"]["nullable"] and not columns["terms"]["nullable"]
    with engine.begin() as c:
        c.execute(text(INSERT), {"n": "coffee", "r": True})
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(text(INSERT), {"n": "coffee", "r": False})
    engine.dispose()
    downgrade(url, "0009_journeys")
    engine = make_engine(url)
    assert "listening_queries" not in inspect(engine).get_table_names()
    migrate(engine, "0010_listening_queries")  # and up again
    assert "listening_queries" in inspect(engine).get_table_names()
    engine.dispose()
