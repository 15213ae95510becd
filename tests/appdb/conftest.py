"""The app database the migration tests run on: a SQLite file, then PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.outbound.email_world import fresh_postgres_database
from tests.web.conftest import postgres_url  # noqa: F401  (a fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty app database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))
