"""The doctor's checks of what every process stands on: production's rules, the database and
its migrations, Redis."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.doctor.results import Check, failed, passed
from bot.settings import Settings


def check_production(settings: Settings) -> list[Check]:
    """With ENV=production, what would make the processes refuse to start."""
    from bot.production import dotenv_variables, is_production, problems

    if not is_production(settings):
        return [passed("production", "not checked (ENV is not production)")]
    found = problems(settings, dotenv_variables())
    if not found:
        return [passed("production", "nothing unsafe found")]
    return [
        failed("production", problem, "change this setting: with ENV=production, nothing starts")
        for problem in found
    ]


def check_database(settings: Settings) -> list[Check]:
    """A SELECT 1, then the schema's revision against the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import get_engine
    from bot.migrate import alembic_config

    backend = make_url(settings.database_url).get_backend_name()
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return [
            failed(
                "database",
                f"cannot be reached ({backend}: {type(cause).__name__})",
                "check DATABASE_URL (host, port, name, user, password) and that the server runs",
            )
        ]
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    reached = passed("database", f"reached ({backend})")
    if current == heads:
        return [reached, passed("migrations", f"at the newest ({', '.join(sorted(heads))})")]
    at = f"at {', '.join(sorted(current))}" if current else "not migrated at all"
    return [
        reached,
        failed(
            "migrations",
            f"the schema is {at}; the newest is {', '.join(sorted(heads))}",
            "run `intake311 migrate`",
        ),
    ]


def check_redis(settings: Settings) -> list[Check]:
    """A PING through the queue's connection."""
    from redis.exceptions import RedisError

    from bot.queue import get_redis

    try:
        get_redis().ping()
    except RedisError as exc:
        return [
            failed(
                "redis",
                f"cannot be reached ({type(exc).__name__})",
                "check REDIS_URL and that redis-server runs",
            )
        ]
    return [passed("redis", "PING answered")]
