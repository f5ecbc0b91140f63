"""poll_channels: ask the channels that have no webhook for what they need (Mastodon's mentions).

The cron queues it every POLL_TICK seconds; a channel is polled when it is set up to be and
its interval has passed since its last poll (`Channel.poll_every`). What a poll finds is stored as a
webhook's events are (`bot.intake.accept`: once per provider id, so a poll that overlaps the
last one stores nothing twice); its cursor is kept in Redis only once they are all stored. A
lost cursor (Redis emptied) is the channel's to find again: Mastodon's goes on from the newest
mention it stored in the database, and reads only the newest page (the last hour's mentions)
for an account with nothing stored.
"""

from __future__ import annotations

import logging

from bot.channels.base import Channel, PollError
from bot.channels.fields import bounded
from bot.channels.registry import CHANNELS
from bot.intake import accept
from bot.jobs.common import redis_lock
from bot.queue import get_redis
from bot.settings import get_settings

log = logging.getLogger(__name__)

POLL_TICK = 5  # seconds between the cron's calls: the finest poll interval that means anything


def cursor_key(name: str) -> str:
    """The Redis key of a channel's poll cursor."""
    return f"intake311:poll:{name}:cursor"


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
        due = redis.set(f"intake311:poll:{channel.name}:due", 1, nx=True, px=_ms(every))
        if due:
            stored += poll_channel(channel)
    return stored


def poll_channel(channel: Channel) -> int:
    """Store what one poll of `channel` finds and keep its cursor; how many events."""
    settings = get_settings()
    redis = get_redis()
    lock = redis_lock(f"poll:{channel.name}", wait=None, timeout=600)
    if not lock.acquire(blocking=False):
        return 0  # the last poll is still running
    try:
        cursor = redis.get(cursor_key(channel.name))
        try:
            polled = channel.poll(settings, cursor.decode() if cursor else None)
        except PollError as problem:
            log.warning("%s poll failed (%s): %s", channel.name, _kind(problem), problem)
            return 0
        for event in polled.events:
            accept(bounded(event))
        if polled.cursor is not None:
            redis.set(cursor_key(channel.name), polled.cursor)
        if polled.events:
            log.info("%s poll: %d event(s)", channel.name, len(polled.events))
        return len(polled.events)
    finally:
        lock.release()


def _ms(every: float) -> int:
    return max(1, int(every * 1000) - 500)


def _kind(problem: PollError) -> str:
    return "will retry" if problem.retryable else "needs staff"
