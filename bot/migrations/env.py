"""Alembic environment: migrates DATABASE_URL (or the URL the caller configured)."""

from alembic import context
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (registers the tables)
from bot.db import get_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run migrations online against the configured database."""
    url = config.get_main_option("sqlalchemy.url") or None
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several processes may start at once on a fresh database: one migrates.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(311311)")
            context.run_migrations()
        connection.commit()


run_migrations()
