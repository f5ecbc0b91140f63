"""poll_channels: ask the channels that have no webhook for what they need (Mastodon's mentions).

The cron queues it every POLL_TICK seconds; a channel is polled when it is set up to be and
its interval has passed since its last poll (`Channel.poll_every`). What a poll finds is stored as a
webhook's events are (`bot.intake.accept`: once per provider id, so a poll that overlaps the
last one stores nothing twice; one the bounds or the database refuse is logged and skipped);
its cursor is kept in Redis only once they are all stored. A
lost cursor (Redis emptied) is the channel's to find again: Mastodon's goes on from the newest
mention it stored in the database, and reads only the newest page (the last hour's mentions)
for an account with nothing stored.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlmodel import col, select

from bot.channels.base import Channel, Event, MalformedInbound, PollError
from bot.channels.fields import bounded
from bot.channels.registry import CHANNELS
from bot.db import session_scope
from bot.intake import accept
from bot.jobs.common import redis_lock
from bot.models import Direction, Message
from bot.queue import get_redis
from bot.settings import get_settings

log = logging.getLogger(__name__)

STORED_LOOKBACK = 50  # the newest stored messages a lost cursor is looked for in
POLL_TICK = 5  # seconds between the cron's calls: the finest poll interval that means anything
# The poll job's timeout (rq's): a channel's poll ends well within it (Mastodon's within 30 s),
# so a slow provider holds one of the residents' workers no longer; the poll's lock outlives it.
POLL_JOB_TIMEOUT = 60
POLL_LOCK_TIMEOUT = POLL_JOB_TIMEOUT + 30
# After a failed poll the next waits: twice as long after each failure in a row (from the
# channel's interval, at most MAX_BACKOFF), or as long as the provider asked (a rate limit's
# reset, at most MAX_RETRY_AFTER); after a refusal that needs staff, REFUSED_PAUSE.
MAX_BACKOFF = 300.0
MAX_RETRY_AFTER = 900.0
REFUSED_PAUSE = 600.0
FAILURES_TTL = 3600  # seconds a run of failures is remembered


def cursor_key(name: str) -> str:
    """The Redis key of a channel's poll cursor."""
    return f"intake311:poll:{name}:cursor"


def due_key(name: str) -> str:
    """The Redis key that, while it lives, keeps a channel from being polled again."""
    return f"intake311:poll:{name}:due"


def _failures_key(name: str) -> str:
    return f"intake311:poll:{name}:failures"


def _refused_key(name: str) -> str:
    return f"intake311:poll:{name}:refused"


def poll_channels() -> int:
    """Poll each channel that is due; how many events were stored."""
    settings = get_settings()
    redis = get_redis()
    stored = 0
    for channel in CHANNELS.values():
        every = channel.poll_every(settings)
        if not every:
            continue
        # One poll per interval, whichever worker takes the tick.
        due = redis.set(due_key(channel.name), 1, nx=True, px=_ms(every))
        if due:
            stored += poll_channel(channel)
    return stored


def poll_channel(channel: Channel) -> int:
    """Store what one poll of `channel` finds and keep its cursor; how many events."""
    settings = get_settings()
    redis = get_redis()
    lock = redis_lock(f"poll:{channel.name}", wait=None, timeout=POLL_LOCK_TIMEOUT)
    if not lock.acquire(blocking=False):
        return 0  # the last poll is still running
    try:
        kept = redis.get(cursor_key(channel.name))
        cursor = kept.decode() if kept else channel.resume_cursor(settings, _stored_raws(channel))
        try:
            polled = channel.poll(settings, cursor)
        except PollError as problem:
            _back_off(channel, problem)
            return 0
        redis.delete(_failures_key(channel.name), _refused_key(channel.name))
        for event in polled.events:
            _store(channel, event)
        if polled.cursor is not None:
            redis.set(cursor_key(channel.name), polled.cursor)
        if polled.events:
            log.info("%s poll: %d event(s)", channel.name, len(polled.events))
        return len(polled.events)
    finally:
        lock.release()


def _store(channel: Channel, event: Event) -> None:
    """Store one polled event; one the bounds or the database refuse is logged (its kind and
    the refusal's, nothing of the resident's) and skipped, so it cannot stop every later poll
    at the same cursor. The database out of reach is raised: the cursor stays."""
    try:
        accept(bounded(event))
    except MalformedInbound as refused:
        log.warning(
            "%s poll: a %s refused (%s): skipped",
            channel.name,
            type(event).__name__,
            type(refused).__name__,
        )
    except (DataError, IntegrityError) as refused:
        log.warning(
            "%s poll: a %s the database refused (%s): skipped",
            channel.name,
            type(event).__name__,
            type(refused).__name__,
        )


def _back_off(channel: Channel, problem: PollError) -> None:
    """Keep `channel` from being polled again for a while after `problem`: a provider that is
    down or limits us is not asked every interval, and a refusal is logged once, not at each
    poll."""
    redis = get_redis()
    name = channel.name
    if not problem.retryable:
        if redis.set(_refused_key(name), 1, nx=True, ex=FAILURES_TTL * 24):
            log.error("%s poll refused (needs staff): %s", name, problem)
        else:
            log.info("%s poll still refused", name)
        wait = REFUSED_PAUSE
    else:
        failures = int(redis.incr(_failures_key(name)))
        redis.expire(_failures_key(name), FAILURES_TTL)
        every = channel.poll_every(get_settings()) or POLL_TICK
        wait = min(MAX_BACKOFF, every * 2 ** min(failures, 16))
        if problem.retry_after is not None:
            wait = min(MAX_RETRY_AFTER, max(wait, problem.retry_after))
        log.warning("%s poll failed (will retry in %.0f s): %s", name, wait, problem)
    redis.set(due_key(name), 1, px=_ms(wait))


def _ms(every: float) -> int:
    return max(1, int(every * 1000) - 500)


def _stored_raws(channel: Channel) -> list[dict]:
    """The raw payloads of the channel's newest stored messages, newest first (where a lost
    cursor may be found again); none when the database cannot be read."""
    try:
        with session_scope() as session:
            payloads = session.exec(
                select(Message.payload)
                .where(Message.channel == channel.name, Message.direction == Direction.IN)
                .order_by(col(Message.id).desc())
                .limit(STORED_LOOKBACK)
            ).all()
    except SQLAlchemyError as exc:
        log.warning("%s poll: stored messages not read (%s)", channel.name, type(exc).__name__)
        return []
    return [p["raw"] for p in payloads if isinstance(p, dict) and isinstance(p.get("raw"), dict)]
