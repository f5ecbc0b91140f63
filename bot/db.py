"""Database engines and sessions, created lazily per process (rq forks per job)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from bot.settings import get_settings

_engines: dict[tuple[int, str], Engine] = {}


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs and create the folder of a SQLite file."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default DATABASE_URL), one per process and URL."""
    url = normalise_url(url or get_settings().database_url)
    key = (os.getpid(), url)
    if key not in _engines:
        _engines[key] = _create(url)
    return _engines[key]


def _create(url: str) -> Engine:
    # hide_parameters: a statement's values (phone numbers, residents' words) never reach a log
    # line or an error's text (a DataError says "[SQL parameters hidden ...]"); SECURITY.md.
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web process read while a worker writes; busy_timeout rides out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_engines() -> None:
    """Close every engine of this process (tests and shutdown)."""
    for key in list(_engines):
        _engines.pop(key).dispose()
