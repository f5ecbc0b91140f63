"""Schema migrations with alembic, run from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.db import normalise_url
from bot.settings import get_settings


def alembic_config(url: str | None = None) -> Config:
    """An alembic Config pointing at our migrations and at `url` (default DATABASE_URL)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option(
        "sqlalchemy.url", normalise_url(url or get_settings().database_url).replace("%", "%%")
    )
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the database at `url` to the newest schema."""
    command.upgrade(alembic_config(url), "head")
