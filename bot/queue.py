"""The rq queue that carries work between the web process and the workers."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

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
    }
)
KINDS = ("residents", "city")


def queue_name(kind: str = "residents") -> str:
    """The rq queue's name for `kind`: QUEUE_NAME for residents, QUEUE_NAME-city for the city."""
    if kind not in KINDS:
        raise ValueError(f"queue kind must be one of {', '.join(KINDS)}")
    base = get_settings().queue_name
    return base if kind == "residents" else f"{base}-city"


def get_queue(kind: str = "residents") -> Queue:
    """The work queue of `kind` (residents: turns, replies, upkeep; city: Open311 calls)."""
    return Queue(queue_name(kind), connection=get_redis())


def queue_for(func: str) -> Queue:
    """The queue that carries `func`."""
    return get_queue("city" if func in CITY_JOBS else "residents")


def enqueue(func: str, *args, delay: float = 0) -> bool:
    """Queue `func` (a dotted path in bot.jobs) with id arguments, now or after `delay` seconds.

    Work is queued after the database committed it, so a Redis that is down only delays it:
    the reconciler queues it again. False when it could not be queued now.
    """
    try:
        queue = queue_for(func)
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), func, *args, job_timeout=300)
        else:
            queue.enqueue(func, *args, job_timeout=300)
    except RedisError as exc:
        log.warning(
            "could not queue %s%s (%s); the reconciler will", func, args, type(exc).__name__
        )
        return False
    return True
