"""Abuse limits, kept in Redis with the `limits` library (the one under flask-limiter).

What is checked where (SECURITY.md):

- **Inbound**, at intake (`bot.intake`), once the channel has parsed the sender and the message
  is stored, before its turn is queued: per sender (INBOUND_LIMIT_PER_SENDER, by a keyed hash of
  the address, never the address itself) and for every sender together (INBOUND_LIMIT_GLOBAL;
  past it, a sender's first QUIET_SENDER texts in their own tightest window still pass, so a
  flood from many numbers cannot shut out a resident texting once, within a second allowance
  as large as INBOUND_LIMIT_GLOBAL: at most twice that passes, whatever the number of
  senders). Only new messages count
  (a provider's redelivery is recognised first). A message past a limit
  is kept, marked processed with the limit's name as its error (nothing is lost silently), and
  gets no turn (nothing is paid for); the resident is told once (`bot.jobs.tell_limited`), then
  hears nothing more until that limit's window has passed. STOP and DELETE MY DATA always
  pass (a resident can always leave), and START from a resident who is opted out; from anyone
  else START is an ordinary message.
- **Replies**, where they are stored (`bot.jobs.common.store_reply`): REPLY_LIMIT_PER_SENDER per
  address (its keyed hash: erasing one's data and starting afresh does not restart it), counting
  every reply and notice, DELETE MY DATA's question and confirmation and STOP's confirmation
  included. A reply past it is stored as suppressed (never sent; but STOP's confirmation, which
  carrier rules require), and the first in its window is followed by one notice, so a resident
  is never sent more than the limit, that one notice and STOP's confirmations.
- **Texts sent**, where they are sent (`bot.jobs.delivery`): a count of the day's SMS in the
  city's time zone; past SMS_ALARM_PER_DAY one ERROR log line (once a day) and a line in
  `intake311 failures` alert staff.

Every limit is a moving window (`MovingWindowRateLimiter`: no burst at a window's edge). Redis
down: the limits let everything through (logged), as the queue does; the database still owns
every message, and the reconciler queues what the queue lost.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from bot import queue
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

PREFIX = "intake311:limits"
# What an inbound message refused by a limit keeps as its error_code (its status: processed).
SENDER_LIMIT = "SenderLimit"
GLOBAL_LIMIT = "GlobalLimit"
# What a reply past the per-sender reply limit keeps as its error_code (its status: suppressed).
REPLY_LIMIT = "ReplyLimit"
# A web chat session refused to a client past WEBCHAT_SESSIONS_PER_CLIENT.
SESSION_LIMIT = "SessionLimit"
# A staff sign-in refused to a client past CONSOLE_SIGNIN_LIMIT.
SIGNIN_LIMIT = "SigninLimit"
SMS_COUNT_DAYS = 3  # how long a day's count of texts sent is kept
# Past the global limit, a sender's first few texts in their own tightest window still pass:
# a flood from many numbers sheds its busy senders, never the resident texting once.
QUIET_SENDER = 3

_limiters: dict[tuple[int, str], MovingWindowRateLimiter] = {}


@dataclass(frozen=True)
class Refusal:
    """A limit that refused: its name (an error code) and its window, in seconds."""

    code: str
    seconds: int


@lru_cache(maxsize=16)
def limits_of(text: str) -> tuple[RateLimitItem, ...]:
    """The rate limits a setting names ("10/minute;60/hour"); none for ""."""
    return tuple(parse_many(text)) if text.strip() else ()


def _limiter(settings: Settings) -> MovingWindowRateLimiter:
    """One limiter per process, on the queue's Redis connection pool."""
    key = (os.getpid(), settings.redis_url)
    if key not in _limiters:
        storage = RedisStorage(
            settings.redis_url,
            connection_pool=queue.get_redis(settings.redis_url).connection_pool,
            key_prefix=PREFIX,
        )
        _limiters[key] = MovingWindowRateLimiter(storage)
    return _limiters[key]


def _refused(
    limiter: MovingWindowRateLimiter, setting: str, code: str, *identifiers: str
) -> Refusal | None:
    """Count one hit against each limit of `setting`; the first that refuses it, if any."""
    for item in limits_of(setting):
        if not limiter.hit(item, *identifiers):
            return Refusal(code, item.get_expiry())
    return None


def inbound_refusal(
    channel: str, address: str, text: str, opted_out: bool = False
) -> Refusal | None:
    """Count a new message from `address`; the limit it is past (no turn for it), or None.

    The sender's limits are counted first, and only a message they let through counts
    against everyone's: one flooder cannot use up the city's whole allowance. STOP and
    DELETE MY DATA always pass; START (and the channel's other opt-in words) only for a
    sender who is `opted_out`: from anyone else it is an ordinary message.
    """
    from bot.channels.registry import channel_for
    from bot.languages import load_languages
    from bot.personal_data import address_key
    from conversations.commands import forget_language

    settings = get_settings()
    abilities = channel_for(channel).abilities
    word = " ".join(text.split()).upper().strip("./! ")
    if word in abilities.opt_out_words or (opted_out and word in abilities.opt_in_words):
        return None  # STOP (and START, when opted out) always reach the turn that applies them
    if forget_language(text, load_languages(settings.locale_dir or None)) is not None:
        return None  # and so does DELETE MY DATA: a flood must not keep a resident's data
    try:
        limiter = _limiter(settings)
        sender = address_key(address)[:32]
        refused = _refused(limiter, settings.inbound_limit_per_sender, SENDER_LIMIT, "in", sender)
        if refused is not None:
            return refused
        refused = _refused(limiter, settings.inbound_limit_global, GLOBAL_LIMIT, "in", "everyone")
        if (
            refused is not None
            and _quiet(limiter, settings.inbound_limit_per_sender, sender)
            # The quiet senders let through past the global limit have a limit of their own
            # (as large as the global one): however many numbers a flood comes from, at most
            # twice the global limit passes in its window.
            and _refused(limiter, settings.inbound_limit_global, GLOBAL_LIMIT, "in", "newcomers")
            is None
        ):
            return None  # a resident texting for the first time in a while is not shut out
        return refused
    except RedisError as exc:
        log.warning(
            "inbound limits not checked (Redis: %s); message let through", type(exc).__name__
        )
        return None


def _quiet(limiter: MovingWindowRateLimiter, setting: str, sender: str) -> bool:
    """Whether the sender has sent no more than QUIET_SENDER texts (this one included) in the
    tightest window of their own limit."""
    items = limits_of(setting)
    if not items:
        return False
    tightest = min(items, key=lambda item: item.get_expiry())
    stats = limiter.get_window_stats(tightest, "in", sender)
    return tightest.amount - stats.remaining <= QUIET_SENDER


def session_refusal(client: str, settings: Settings) -> Refusal | None:
    """Count one web chat session started by `client` (an IP address, kept as its keyed hash);
    the limit it is past, its `seconds` those until the next may start, or None."""
    from bot.personal_data import address_key

    try:
        limiter = _limiter(settings)
        who = address_key(f"client:{client}")[:32]
        for item in limits_of(settings.webchat_sessions_per_client):
            if not limiter.hit(item, "session", who):
                reset = limiter.get_window_stats(item, "session", who).reset_time
                return Refusal(SESSION_LIMIT, max(1, math.ceil(reset - time.time())))
        return None
    except RedisError as exc:
        log.warning("session limit not checked (Redis: %s); let through", type(exc).__name__)
        return None


def client_of(address: str) -> str:
    """Whom a per-client limit counts: an IPv4 address itself, an IPv6 one by its /64 (one
    host usually has a whole /64 to pick addresses from); anything else as given."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def signin_refusal(client: str, settings: Settings) -> Refusal | None:
    """Count one staff sign-in attempt from `client` (an IP address, IPv6 by its /64, kept as
    its keyed hash) against CONSOLE_SIGNIN_LIMIT; the limit it is past, or None. Redis down:
    let through (the sign-in itself then answers 503)."""
    from bot.personal_data import address_key

    try:
        limiter = _limiter(settings)
        who = address_key(f"client:{client_of(client)}")[:32]
        return _refused(limiter, settings.console_signin_limit, SIGNIN_LIMIT, "signin", who)
    except RedisError as exc:
        log.warning("sign-in limit not checked (Redis: %s); let through", type(exc).__name__)
        return None


def first_refusal(conversation_id: int, refusal: Refusal) -> bool:
    """True for the first refused message of the conversation within the refusing limit's
    window: the one the resident is told about. False (told already) when Redis is down."""
    try:
        return bool(
            queue.get_redis().set(
                f"{PREFIX}:told:{conversation_id}",
                refusal.code,
                nx=True,
                ex=max(1, refusal.seconds),
            )
        )
    except RedisError:
        return False


def reply_refusal(recipient: str) -> Refusal | None:
    """Count one reply to `recipient` (the keyed hash of the address, `recipient_of`); the
    reply limit it is past (not sent), or None."""
    settings = get_settings()
    if not settings.reply_limit_per_sender:
        return None
    try:
        return _refused(
            _limiter(settings), settings.reply_limit_per_sender, REPLY_LIMIT, "out", recipient
        )
    except RedisError as exc:
        log.warning("reply limit not checked (Redis: %s); reply let through", type(exc).__name__)
        return None


def recipient_of(address_key: str | None, address: str | None, contact_id: int) -> str:
    """Whom the reply limit counts: the address's keyed hash (as the inbound limit does), so
    DELETE MY DATA, which makes the next text a new contact, does not restart the count; the
    contact's id only when neither the key nor the address is left."""
    from bot.personal_data import address_key as key_of

    key = address_key or (key_of(address) if address else None)
    return key[:32] if key else f"contact:{contact_id}"


def first_spent(recipient: str, refusal: Refusal) -> bool:
    """True for the first reply the limit refuses within its window: a last notice goes out."""
    try:
        return bool(
            queue.get_redis().set(
                f"{PREFIX}:spent:{recipient}", 1, nx=True, ex=max(1, refusal.seconds)
            )
        )
    except RedisError:
        return False


def _sms_key(settings: Settings, when: datetime | None = None) -> str:
    day = (when or datetime.now(ZoneInfo(settings.city_timezone))).date().isoformat()
    return f"intake311:sms-sent:{day}"


def count_sms_sent(settings: Settings) -> int | None:
    """Count one text sent on SMS today (the city's day); the day's count, or None when Redis
    is down. The text that takes it past SMS_ALARM_PER_DAY logs the alarm, once a day."""
    key = _sms_key(settings)
    try:
        with queue.get_redis().pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, SMS_COUNT_DAYS * 86400)
            count = int(pipe.execute()[0])
    except RedisError:
        return None
    if settings.sms_alarm_per_day and count == settings.sms_alarm_per_day + 1:
        log.error(
            "SMS alarm: more than %s texts sent today (SMS_ALARM_PER_DAY); see SECURITY.md",
            settings.sms_alarm_per_day,
        )
    return count


def sms_sent_today(settings: Settings | None = None) -> int | None:
    """The texts sent on SMS today (the city's day); None when Redis cannot say."""
    settings = settings or get_settings()
    try:
        found = queue.get_redis().get(_sms_key(settings))
    except RedisError:
        return None
    return int(found or 0)


def sms_alarm(settings: Settings | None = None) -> str | None:
    """A line for staff when today's texts are past SMS_ALARM_PER_DAY, else None."""
    settings = settings or get_settings()
    sent = sms_sent_today(settings)
    if not settings.sms_alarm_per_day or sent is None or sent <= settings.sms_alarm_per_day:
        return None
    return (
        f"SMS alarm: {sent} texts sent today, past SMS_ALARM_PER_DAY "
        f"({settings.sms_alarm_per_day}); look for a flood in the logs (SECURITY.md)"
    )
