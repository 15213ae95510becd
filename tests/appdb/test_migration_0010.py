"""0010 (saved listening queries) creates ``listening_queries`` and goes back down."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from socialcrm.appdb.db import MIGRATIONS, make_engine, migrate
from tests.outbound.email_world import fresh_postgres_database
from tests.web.conftest import postgres_url  # noqa: F401  (a fixture)

INSERT = (
    "INSERT INTO listening_queries (name, terms, lang, sources, needs_response, created_by, "
    "created_at, updated_at) VALUES (:n, 'coffee', NULL, '[]', :r, 'test', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


def _downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


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
    _downgrade(url, "0009_journeys")
    engine = make_engine(url)
    assert "listening_queries" not in inspect(engine).get_table_names()
    migrate(engine, "0010_listening_queries")  # and up again
    assert "listening_queries" in inspect(engine).get_table_names()
    engine.dispose()
