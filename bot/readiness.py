"""Whether this process can serve: the database and Redis reached, the city's state as known.

Each probe runs on a thread of its own and is given up after PROBE_SECONDS, so a load
balancer's probe never hangs on a server that does not answer. A probe still running when the
next one comes, and overdue, is not started again (a hung one costs one thread, not one a probe).
Reasons are short fixed words: never a URL, a password or a stack trace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.db import get_engine, retry_disconnected
from bot.queue import get_redis
from bot.settings import get_settings

PROBE_SECONDS = 2.0
T = TypeVar("T")

# name -> the probe last started under it, and when (time.monotonic()).
_running: dict[str, tuple[threading.Thread, float]] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class Probe:
    """One dependency's answer: ok, or why not (plain words, nothing secret)."""

    ok: bool
    reason: str = ""

    def text(self) -> str:
        """ "ok" or "failing: <reason>"."""
        return "ok" if self.ok else f"failing: {self.reason}"


def within(name: str, seconds: float, work: Callable[[], T], late: Callable[[str], T]) -> T:
    """`work()` if it answers within `seconds` (what it raised, raised here), else
    `late(why)`: it runs on, unwatched, and while it is overdue none is started again under
    `name` (a server that hangs costs one thread, not one a probe)."""
    result: list[T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the caller's thread
            raised.append(exc)

    with _guard:
        last, started = _running.get(name, (None, 0.0))
        if last is not None and last.is_alive() and time.monotonic() - started >= seconds:
            # Overdue: another would hang as long (one at a time is just concurrent probes).
            return late(f"no answer (the last check is still waiting after {seconds:g} s)")
        thread = threading.Thread(target=run, name=f"probe-{name}", daemon=True)
        _running[name] = (thread, time.monotonic())
        thread.start()
    thread.join(seconds)
    if raised:
        raise raised[0]
    if not result:
        return late(f"no answer within {seconds:g} s")
    return result[0]


def _failing(why: str) -> Probe:
    return Probe(False, why)


def _select_one() -> Probe:
    def select_one() -> None:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        # The web's pool pings no connection before use: one the server dropped is retried.
        retry_disconnected(select_one)
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


def _probe(name: str, seconds: float, work: Callable[[], Probe]) -> Probe:
    try:
        return within(name, seconds, work, _failing)
    except Exception as exc:  # a probe reports, never raises
        return Probe(False, type(exc).__name__)


def database(seconds: float = PROBE_SECONDS) -> Probe:
    """A SELECT 1 through the process's engine."""
    return _probe("database", seconds, _select_one)


def redis(seconds: float = PROBE_SECONDS) -> Probe:
    """A PING through the process's Redis connection."""
    return _probe("redis", seconds, _ping)


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
    try:
        return within("open311", seconds, _city_as_known, lambda _why: "unknown")
    except Exception:  # the city's state is a report, never a reason to fail the probe
        return "unknown"
