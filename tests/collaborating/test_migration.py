"""The collaborating migration goes up, down and up again, and matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from socialcrm.appdb.db import MIGRATIONS, make_engine, migrate

OURS = {
    "ideas",
    "idea_contributors",
    "idea_votes",
    "idea_history",
    "idea_merges",
    "idea_notifications",
    "feedback_requests",
    "webhook_subscriptions",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "notices",
}


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    from socialcrm.appdb.models import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert tables >= OURS
    for name in OURS:  # every model column exists in the migrated table
        cols = {c["name"] for c in inspect(engine).get_columns(name)}
        assert cols == set(Base.metadata.tables[name].columns.keys()), name
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_responding")
    assert not set(inspect(engine).get_table_names()) & OURS
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= OURS
    engine.dispose()
