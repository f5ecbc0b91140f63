"""Whether this process can serve: the database and Redis reached, the city's state as known.

Each probe runs on a thread of its own and is given up after PROBE_SECONDS, so a load
balancer's probe never hangs on a server that does not answer. Probes that overlap share one
thread; a hung one is shared for RETRY_HUNG_AFTER, then tried afresh (two at most alive), so a
dead server costs a thread or two, and its recovery is seen within half a minute.
Reasons are short fixed words: never a URL, a password or a stack trace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.db import get_engine, retry_disconnected
from bot.queue import get_redis
from bot.settings import get_settings

PROBE_SECONDS = 2.0
# A probe that hangs is shared by the probes after it (no new thread) for this long; then a
# fresh one is tried (a database back after an outage is seen within it), two at most alive.
RETRY_HUNG_AFTER = 30.0
MOST_HUNG = 2
T = TypeVar("T")


@dataclass
class _Run:
    """One probe on its own thread: what it returned or raised, once it is done."""

    thread: threading.Thread
    started: float
    result: list = field(default_factory=list)
    raised: list = field(default_factory=list)


# name -> its probes still alive, oldest first
_runs: dict[str, list[_Run]] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class Probe:
    """One dependency's answer: ok, or why not (plain words, nothing secret)."""

    ok: bool
    reason: str = ""

    def text(self) -> str:
        """ "ok" or "failing: <reason>"."""
        return "ok" if self.ok else f"failing: {self.reason}"


def start(name: str, work: Callable[[], T]) -> _Run:
    """`work()` on a thread of its own, or the one already running under `name` (shared by
    probes that overlap, and by all while it hangs, until RETRY_HUNG_AFTER)."""
    with _guard:
        alive = [run for run in _runs.get(name, []) if run.thread.is_alive()]
        _runs[name] = alive
        if alive and (
            time.monotonic() - alive[-1].started < RETRY_HUNG_AFTER or len(alive) >= MOST_HUNG
        ):
            return alive[-1]
        result: list = []
        raised: list = []

        def body() -> None:
            try:
                result.append(work())
            except BaseException as exc:  # handed to the waiting thread
                raised.append(exc)

        thread = threading.Thread(target=body, daemon=True, name=f"probe-{name}")
        run = _Run(thread, time.monotonic(), result, raised)
        alive.append(run)
        run.thread.start()
    return run


def outcome(run: _Run, deadline: float, late: Callable[[str], T], seconds: float) -> T:
    """What the run answered by `deadline` (time.monotonic(), `seconds` after the probe
    began), what it raised raised here, else `late(why)`."""
    run.thread.join(max(0.0, deadline - time.monotonic()))
    if run.raised:
        raise run.raised[0]
    if not run.result:
        return late(f"no answer within {seconds:g} s")
    return run.result[0]


def within(name: str, seconds: float, work: Callable[[], T], late: Callable[[str], T]) -> T:
    """`work()` if it answers within `seconds` (see `start`), else `late(why)`."""
    return outcome(start(name, work), time.monotonic() + seconds, late, seconds)


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


def _reported(run: _Run, deadline: float, seconds: float) -> Probe:
    try:
        return outcome(run, deadline, _failing, seconds)
    except Exception as exc:  # a probe reports, never raises
        return Probe(False, type(exc).__name__)


def database(seconds: float = PROBE_SECONDS) -> Probe:
    """A SELECT 1 through the process's engine."""
    return _reported(start("database", _select_one), time.monotonic() + seconds, seconds)


def redis(seconds: float = PROBE_SECONDS) -> Probe:
    """A PING through the process's Redis connection."""
    return _reported(start("redis", _ping), time.monotonic() + seconds, seconds)


def both(seconds: float = PROBE_SECONDS) -> tuple[Probe, Probe]:
    """The database's and Redis's probes, run at once under one deadline."""
    deadline = time.monotonic() + seconds
    database_run, redis_run = start("database", _select_one), start("redis", _ping)
    return _reported(database_run, deadline, seconds), _reported(redis_run, deadline, seconds)


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
