"""A step down the migrations, for the migration tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from socialcrm.appdb.db import MIGRATIONS, make_engine


def downgrade(url: str, revision: str) -> None:
    """Run the app database at ``url`` down to ``revision``."""
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()
