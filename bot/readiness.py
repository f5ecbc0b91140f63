"""Whether this process can serve: the database and Redis reached, the city's state as known.

Each probe runs on a thread of its own and is given up after PROBE_SECONDS, so a load
balancer's probe never hangs on a server that does not answer. A probe still running when the
next one comes is not started again (a hung one costs one thread, not one a probe).
Reasons are short fixed words: never a URL, a password or a stack trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.db import get_engine
from bot.queue import get_redis
from bot.settings import get_settings

PROBE_SECONDS = 2.0

_running: dict[str, threading.Thread] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class Probe:
    """One dependency's answer: ok, or why not (plain words, nothing secret)."""

    ok: bool
    reason: str = ""

    def text(self) -> str:
        """ "ok" or "failing: <reason>"."""
        return "ok" if self.ok else f"failing: {self.reason}"


def within(name: str, seconds: float, work: Callable[[], Probe]) -> Probe:
    """`work()` if it answers within `seconds`, else a failing Probe (it runs on, unwatched)."""
    result: list[Probe] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:  # a probe reports, never raises
            result.append(Probe(False, type(exc).__name__))

    with _guard:
        running = _running.get(name)
        if running is not None and running.is_alive():
            return Probe(False, f"no answer (the last check is still waiting after {seconds:g} s)")
        thread = threading.Thread(target=run, name=f"probe-{name}", daemon=True)
        _running[name] = thread
        thread.start()
    thread.join(seconds)
    if not result:
        return Probe(False, f"no answer within {seconds:g} s")
    return result[0]


def _select_one() -> Probe:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return Probe(False, f"cannot be reached ({type(cause).__name__})")
    return Probe(True)


def _ping() -> Probe:
    try:
        get_redis().ping()
    except RedisError as exc:
        return Probe(False, f"cannot be reached ({type(exc).__name__})")
    return Probe(True)


def database(seconds: float = PROBE_SECONDS) -> Probe:
    """A SELECT 1 through the process's engine."""
    return within("database", seconds, _select_one)


def redis(seconds: float = PROBE_SECONDS) -> Probe:
    """A PING through the process's Redis connection."""
    return within("redis", seconds, _ping)


def _city_as_known() -> str:
    from bot.models import CatalogCache, Report, ReportState

    settings = get_settings()
    with get_engine().connect() as connection:
        retrying = connection.execute(
            select(func.count())
            .select_from(Report)
            .where(Report.state == ReportState.PENDING, Report.last_error.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()
        cached = connection.execute(
            select(CatalogCache.fetched_at).where(
                CatalogCache.endpoint == settings.open311_endpoint
            )
        ).first()
    if retrying:
        return f"failing: {retrying} report(s) waiting to be filed again after an error"
    return "ok" if cached is not None else "unknown"


def open311(seconds: float = PROBE_SECONDS) -> str:
    """The city as already known, without calling it: "failing: ..." while reports wait for a
    retry after an error, "ok" once a catalogue was fetched, else "unknown"."""
    found: list[str] = []

    def look() -> Probe:
        found.append(_city_as_known())
        return Probe(True)

    if not within("open311", seconds, look).ok or not found:
        return "unknown"
    return found[0]
