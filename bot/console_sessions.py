"""Staff console sessions kept in Redis: the cookie carries only a random session id.

A session is a Redis hash (the account's id, its session epoch, when it signed in and when it
was last seen) that lapses CONSOLE_IDLE_HOURS after the last request that counts (an automatic
refresh does not) and ends CONSOLE_MAX_SESSION_HOURS after sign-in whatever happens. Signing
out deletes it; "sign out everywhere" deletes every session of the account (a set of ids per
account). Redis down: RedisError reaches the caller (the console answers 503, signs nobody in).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from bot import queue
from bot.settings import Settings

PREFIX = "intake311:console:session"


@dataclass(frozen=True)
class ConsoleSession:
    """One signed-in browser: its account, the epoch it signed in at, and its times (epoch s)."""

    sid: str
    user_id: int
    epoch: int
    signed_in: float
    seen: float


def _key(sid: str) -> str:
    return f"{PREFIX}:{sid}"


def _user_key(user_id: int) -> str:
    return f"{PREFIX}s-of:{user_id}"


def _idle(settings: Settings) -> int:
    return max(1, int(settings.console_idle_hours * 3600))


def _lifetime(settings: Settings) -> int:
    return max(1, int(settings.console_max_session_hours * 3600))


def start(user_id: int, epoch: int, settings: Settings) -> str:
    """A new session for the account: its fresh random id."""
    sid = secrets.token_urlsafe(32)
    now = time.time()
    with queue.get_redis().pipeline() as pipe:
        pipe.hset(
            _key(sid), mapping={"uid": user_id, "epoch": epoch, "signed_in": now, "seen": now}
        )
        pipe.expire(_key(sid), min(_idle(settings), _lifetime(settings)))
        pipe.sadd(_user_key(user_id), sid)
        pipe.expire(_user_key(user_id), _lifetime(settings))
        pipe.execute()
    return sid


def find(sid: str, settings: Settings, touch: bool = True) -> ConsoleSession | None:
    """The live session `sid` (None: unknown, idle too long or past its lifetime); `touch`
    counts this request as activity (the idle time starts again)."""
    redis = queue.get_redis()
    found = redis.hgetall(_key(sid))
    if not found:
        return None
    try:
        session = ConsoleSession(
            sid,
            int(found[b"uid"]),
            int(found[b"epoch"]),
            float(found[b"signed_in"]),
            float(found[b"seen"]),
        )
    except (KeyError, ValueError):
        end(sid)
        return None
    now = time.time()
    left = session.signed_in + _lifetime(settings) - now
    if left <= 0:
        end(sid, session.user_id)
        return None
    if touch:
        with redis.pipeline() as pipe:
            pipe.hset(_key(sid), "seen", now)
            pipe.expire(_key(sid), max(1, int(min(_idle(settings), left))))
            pipe.execute()
    return session


def end(sid: str, user_id: int | None = None) -> None:
    """End one session."""
    redis = queue.get_redis()
    redis.delete(_key(sid))
    if user_id is not None:
        redis.srem(_user_key(user_id), sid)


def end_all(user_id: int) -> int:
    """End every session of the account; how many there were."""
    redis = queue.get_redis()
    sids = [s.decode() if isinstance(s, bytes) else s for s in redis.smembers(_user_key(user_id))]
    with redis.pipeline() as pipe:
        for sid in sids:
            pipe.delete(_key(sid))
        pipe.delete(_user_key(user_id))
        pipe.execute()
    return len(sids)


def ttl(sid: str) -> int:
    """Seconds until the session lapses unless used (-2: there is none)."""
    return int(queue.get_redis().ttl(_key(sid)))
