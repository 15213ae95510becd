"""Alembic environment: runs on the connection :func:`socialcrm.appdb.db.migrate` passes."""

from alembic import context
from sqlalchemy import create_engine

from socialcrm.appdb.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic` command line: a URL in the config
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("no sqlalchemy.url in the alembic config")
        engine = create_engine(url)
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
