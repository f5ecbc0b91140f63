"""Database engines and sessions, created lazily per process (rq forks per job)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from bot.settings import get_settings

_engines: dict[tuple[int, str], Engine] = {}
_creating = threading.Lock()
# Whether a pooled PostgreSQL connection is tested (a round trip) each time it is checked out:
# on for workers and the CLI, off in the web process, where a call on a connection the server
# dropped is retried once on a fresh one (`retry_disconnected`) or answered 503.
_pre_ping = True
# Seconds after which a pooled connection is replaced when next checked out, before idle
# timeouts on the way (a NAT, a proxy, a managed server) can drop it unseen.
POOL_RECYCLE = 300
CONNECT_TIMEOUT = 10  # seconds for a new PostgreSQL connection (libpq waits for ever)
T = TypeVar("T")


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


@lru_cache(maxsize=32)
def _normalised(url: str) -> str:
    # Once per URL: parsing it costs more than a webhook's whole look-up of its engine.
    return normalise_url(url)


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default DATABASE_URL), one per process and URL."""
    url = _normalised(url or get_settings().database_url)
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        with _creating:  # a gthread worker's threads may ask at once: one engine, one pool
            engine = _engines.get(key) or _engines.setdefault(key, _create(url))
    return engine


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
    return create_engine(
        url,
        # A server that accepts and never answers fails a connection in seconds, not hours.
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
        pool_pre_ping=_pre_ping,
        pool_recycle=POOL_RECYCLE,
        pool_size=5,
        max_overflow=5,
        hide_parameters=True,
    )


def ping_on_checkout(enabled: bool) -> None:
    """Whether engines created from now on in this process ping a connection before use."""
    global _pre_ping
    _pre_ping = enabled


def retry_disconnected(work: Callable[[], T]) -> T:
    """Run `work` (one transaction that may be run again), once more if the database dropped
    its connection: the pool has let go of the dead connections, so the second run gets a
    fresh one. A second failure propagates (the web answers 503 and the provider retries)."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return work()


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
