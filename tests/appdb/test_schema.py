"""The Alembic migrations build exactly the schema the SQLAlchemy models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from socialcrm.appdb.db import make_engine, migrate
from socialcrm.appdb.models import Base


def test_migrations_to_head_match_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    # a model change without its migration (or the reverse) shows up here
    assert [d for d in diff if d[0] != "remove_table" or d[1].name != "alembic_version"] == []
