"""The rq queue that carries work between the web process and the workers."""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job

from bot import trace
from bot.settings import get_settings

log = logging.getLogger(__name__)

_connections: dict[tuple[int, str], Redis] = {}


def get_redis(url: str | None = None) -> Redis:
    """A Redis connection for REDIS_URL, one per process."""
    url = url or get_settings().redis_url
    key = (os.getpid(), url)
    if key not in _connections:
        _connections[key] = Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    return _connections[key]


# Jobs that talk to the city's Open311 server ride their own queue, so a city that hangs
# holds only the workers serving it and residents' turns and replies keep flowing.
CITY_JOBS = frozenset(
    {
        "bot.jobs.submit",
        "bot.jobs.resolve_token",
        "bot.jobs.check_filed_once",
        "bot.jobs.track",
        "bot.jobs.refresh_catalog",
        "bot.jobs.refresh_open_requests",
        "bot.jobs.fetch_photo",  # a provider's media host that hangs holds no resident's turn
    }
)
# Status notices ride a lane of their own, served after the residents' queue: a backlog of
# 10,000 texts after a mass change waits there (paced, bot.pacing) and never ahead of a turn or
# a reply. Deliveries queued by these jobs (the status check) take it unless told otherwise.
NOTICE_SOURCES = frozenset({"bot.jobs.track", "bot.jobs.tracking.track"})
KINDS = ("residents", "notices", "city")
# Jobs on the city's queue hold no Redis lock (a filing in flight is claimed in the database and
# released after STUCK_AFTER), so they may take rq's usual 300 s. The residents' jobs hold a
# conversation's or a contact's lock: theirs is JOB_TIMEOUT, at most half of LOCK_TIMEOUT.
CITY_JOB_TIMEOUT = 300
# The status check (cron) may take an hour over a city's whole list; its lock outlives that.
TRACK_JOB_TIMEOUT = 3600
TRACK_LOCK_TIMEOUT = TRACK_JOB_TIMEOUT + 120


def queue_name(kind: str = "residents") -> str:
    """The rq queue's name for `kind`: QUEUE_NAME for residents, QUEUE_NAME-<kind> otherwise."""
    if kind not in KINDS:
        raise ValueError(f"queue kind must be one of {', '.join(KINDS)}")
    base = get_settings().queue_name
    return base if kind == "residents" else f"{base}-{kind}"


def get_queue(kind: str = "residents") -> Queue:
    """The work queue of `kind` (residents: turns, replies, upkeep; notices: status texts;
    city: Open311 calls)."""
    return Queue(queue_name(kind), connection=get_redis())


def kind_for(func: str) -> str:
    """The queue kind that carries `func` when the caller names none: a delivery queued by a
    job of NOTICE_SOURCES rides the notices lane."""
    if func in CITY_JOBS:
        return "city"
    if func == "bot.jobs.deliver":
        current = get_current_job()
        if current is not None and current.func_name in NOTICE_SOURCES:
            return "notices"
    return "residents"


def current_kind() -> str:
    """The kind of queue the running job came from ("residents" outside a job)."""
    current = get_current_job()
    if current is not None:
        for kind in KINDS:
            if current.origin == queue_name(kind):
                return kind
    return "residents"


def queue_for(func: str) -> Queue:
    """The queue that carries `func`."""
    return get_queue(kind_for(func))


def job_timeout(func: str) -> int:
    """Seconds the job `func` may run before rq stops it: shorter than any lock it holds."""
    return CITY_JOB_TIMEOUT if func in CITY_JOBS else get_settings().resident_job_timeout()


def enqueue(
    func: str, *args, delay: float = 0, at_front: bool = False, kind: str | None = None
) -> bool:
    """Queue `func` (a dotted path in bot.jobs) with id arguments, now or after `delay` seconds;
    `at_front` (now only) ahead of what waits: a resident's reply, ready to go, is not held
    behind every turn queued since their message. `kind`: the queue (by default `kind_for`).

    Work is queued after the database committed it, so a Redis that is down only delays it:
    the reconciler queues it again. False when it could not be queued now.
    """
    # The trace id of what queues it (a webhook, a job) goes with it (bot.trace, bot.worker).
    traced = trace.current()
    meta = {trace.META_KEY: traced} if traced else None
    try:
        queue, timeout = get_queue(kind or kind_for(func)), job_timeout(func)
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), func, *args, job_timeout=timeout, meta=meta)
        else:
            queue.enqueue(func, *args, job_timeout=timeout, at_front=at_front, meta=meta)
    except RedisError as exc:
        log.warning(
            "could not queue %s%s (%s); the reconciler will", func, args, type(exc).__name__
        )
        return False
    return True


def _turn_waiting(conversation_id: int) -> str:
    return f"intake311:turn-waiting:{conversation_id}"


def enqueue_turn(conversation_id: int) -> bool:
    """Queue the conversation's turn, unless one is already waiting in the queue.

    A resident whose texts arrive faster than they are answered has one turn in line, not one
    per text, and each turn answers one of their texts (bot.jobs.turns) before going to the
    back of the line again: a flood from a few senders waits its turns while everyone else's
    come round. The mark lapses after RECONCILE_GRACE (a job Redis lost leaves no resident
    stuck: the reconciler queues their turn by then), and goes when the turn starts.
    """
    try:
        waiting = not get_redis().set(
            _turn_waiting(conversation_id), 1, nx=True, ex=max(1, get_settings().reconcile_grace)
        )
    except RedisError:
        waiting = False  # enqueue says what became of it
    if waiting:
        return True
    if enqueue("bot.jobs.run_turn", conversation_id):
        return True
    turn_started(conversation_id)
    return False


def turn_started(conversation_id: int) -> None:
    """The conversation's turn left the queue: its next text queues another."""
    with suppress(RedisError):  # else it lapses by itself
        get_redis().delete(_turn_waiting(conversation_id))
