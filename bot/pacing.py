"""Outbound pacing: each sender's send rate, kept in Redis, checked just before a send.

Providers take messages at a rate per sender: Twilio queues what a sender is sent beyond its
rate (about 1 message segment a second for a US long code, 3 for toll-free, 100 for a short
code; a Messaging Service's is the sum of its senders' — twilio.com/docs/api/errors/30001 and
21611; a WhatsApp sender 80 messages a second, twilio.com/docs/whatsapp/best-practices-and-faqs)
and fails what would wait longer than its queue holds; Telegram answers 429 with a
`retry_after` past about 30 messages a second from one bot, or past about one a second in one
chat for long (core.telegram.org/bots/faq). A mass status change must not hand 10,000 texts
over at once: a resident's own reply would then wait behind all of them in the provider's queue.

Each (channel, sender) has a bucket (GCRA, one Lua script, so every worker shares it): `take`
spends a token or says how long until one is free. Residents' replies take first: a notice
(`lane="notices"`) takes a token only while the bucket keeps `reserve` more for replies, so a
backlog of notices leaves a reply a token at once. A notice refused gets a place in its
sender's line (a time one interval after the last place given), so a backlog is spread over
the rate instead of every job asking again at once. Redis down: let through (logged), as the
other limits are; the provider's 429 is the backstop (bot.jobs.delivery).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

from redis.exceptions import RedisError

from bot import queue
from bot.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "intake311:pace"
Lane = Literal["residents", "notices"]

# KEYS: the buckets (the sender's first), then the sender's line of notices.
# ARGV: now (seconds; "" for the server's clock), 1 for a notice, then each bucket's interval
# (seconds per token), capacity and the tokens a notice must leave (all as numbers).
# A bucket is its theoretical arrival time `tat`: it holds capacity - (tat - now) / interval
# tokens. Returns "0" when a token was taken from every bucket, else the seconds to wait.
_TAKE = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local notice = ARGV[2] == '1'
local n = #KEYS - 1
local wait, tats = 0, {}
for i = 1, n do
  local interval = tonumber(ARGV[3 * i])
  local capacity = tonumber(ARGV[3 * i + 1])
  local need = 1
  if notice then need = 1 + tonumber(ARGV[3 * i + 2]) end
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  tats[i] = tat
  wait = math.max(wait, (tat - now) - (capacity - need) * interval)
end
if wait <= 0.000001 then  -- (a microsecond: the stored times' rounding)
  for i = 1, n do
    local tat = tats[i] + tonumber(ARGV[3 * i])
    local ms = math.ceil((tat - now) * 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.6f', tat), 'PX', ms)
  end
  return '0'
end
if notice then
  -- a place in the sender's line: never before the token is due, one interval after the last
  local line = KEYS[n + 1]
  local place = math.max(tonumber(redis.call('GET', line) or '0'), now + wait)
  local after = place + tonumber(ARGV[3])
  local ms = math.ceil((after - now) * 1000) + 1000
  redis.call('SET', line, string.format('%.6f', after), 'PX', ms)
  wait = place - now
end
return tostring(wait)
"""

# KEYS: the buckets; ARGV: now ("" for the server's clock), the seconds the provider asked for,
# then each bucket's interval. Empties every bucket until then (a reply's token first).
_HOLD = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local seconds = tonumber(ARGV[2])
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 + i])
  local capacity = tonumber(ARGV[2 + #KEYS + i])
  local until_then = now + seconds + (capacity - 1) * interval
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), until_then)
  redis.call('SET', KEYS[i], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
return 'OK'
"""


@dataclass(frozen=True)
class Bucket:
    """One sender's pace: its Redis key, tokens a second, tokens it holds when full and how many
    of those a notice leaves to replies."""

    key: str
    rate: float
    capacity: float
    reserve: float

    @property
    def interval(self) -> float:
        """Seconds per token."""
        return 1.0 / self.rate


def bucket(name: str, rate: float, settings: Settings) -> Bucket | None:
    """The bucket `name` at `rate` a second (None when `rate` is 0: not paced).

    It holds PACING_BURST seconds of the rate, at least 2 tokens, and notices leave
    PACING_REPLY_RESERVE of it (at least one token) to replies.
    """
    if rate <= 0:
        return None
    capacity = max(2.0, rate * settings.pacing_burst)
    reserve = min(capacity - 1, max(1.0, math.floor(capacity * settings.pacing_reply_reserve)))
    return Bucket(f"{PREFIX}:{name}", rate, capacity, reserve)


def buckets_for(channel: str, address: str, settings: Settings) -> tuple[Bucket, ...]:
    """The buckets a send on `channel` to `address` takes from: the paces the channel declares
    (`Channel.send_rates`), the sender's own first, those at rate 0 left out."""
    from bot.channels.registry import channel_for

    try:
        rates = channel_for(channel).send_rates(address, settings)
    except LookupError:  # a channel this version no longer has: not paced
        return ()
    found = (bucket(rate.key, rate.per_second, settings) for rate in rates)
    return tuple(b for b in found if b is not None)


def _args(buckets: tuple[Bucket, ...]) -> list[float]:
    return [value for b in buckets for value in (b.interval, b.capacity, b.reserve)]


def take(buckets: tuple[Bucket, ...], lane: Lane = "residents", now: float | None = None) -> float:
    """Take a token from every bucket for one send: 0.0 when taken, else the seconds until the
    send's turn (for a notice, its place in the sender's line). `now` is for tests (seconds);
    by default Redis's clock, the one every worker shares."""
    if not buckets:
        return 0.0
    keys = [b.key for b in buckets] + [f"{buckets[0].key}:line"]
    try:
        found = queue.get_redis().eval(
            _TAKE,
            len(keys),
            *keys,
            "" if now is None else repr(now),
            1 if lane == "notices" else 0,
            *_args(buckets),
        )
    except RedisError as exc:
        log.warning("send not paced (Redis: %s); let through", type(exc).__name__)
        return 0.0
    return max(0.0, float(found))


def hold(buckets: tuple[Bucket, ...], seconds: float, now: float | None = None) -> None:
    """The provider asked us to wait `seconds` (a 429): no token until then, for anyone."""
    if not buckets:
        return
    try:
        queue.get_redis().eval(
            _HOLD,
            len(buckets),
            *(b.key for b in buckets),
            "" if now is None else repr(now),
            seconds,
            *(b.interval for b in buckets),
            *(b.capacity for b in buckets),
        )
    except RedisError as exc:
        log.warning("provider's wait not kept (Redis: %s)", type(exc).__name__)
