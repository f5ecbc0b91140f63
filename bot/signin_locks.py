"""Sign-in lockout of the staff console, counted in Redis.

Wrong sign-ins are counted per (typed username, client address): CONSOLE_LOCKOUT_FAILURES of
them within CONSOLE_LOCKOUT_MINUTES lock that name for that address (IPv6: its /64) for
CONSOLE_LOCKOUT_MINUTES, so someone who knows a username cannot lock its owner out from
elsewhere. Per username alone, only CONSOLE_ACCOUNT_LOCKOUT_FAILURES (far more) lock it for
everyone. An unknown username is counted exactly like a real one (the same Redis work, no
database write), so neither the answer nor its timing tells which names exist. Counters are
INCRs (atomic); their keys hold keyed hashes, never the typed name or the address.
"""

from __future__ import annotations

from enum import StrEnum

from bot import queue
from bot.ratelimits import client_of
from bot.settings import Settings

PREFIX = "intake311:console:failed"


class Lock(StrEnum):
    """What a wrong sign-in just locked."""

    CLIENT = "client"  # this name, from this address
    ACCOUNT = "account"  # this name, from everywhere


def _name(username: str) -> str:
    from bot.personal_data import address_key

    return address_key(f"staff:{username}")[:32]


def _client(client: str) -> str:
    from bot.personal_data import address_key

    return address_key(f"client:{client_of(client)}")[:32]


def _keys(username: str, client: str) -> tuple[str, str]:
    name = _name(username)
    return f"{PREFIX}:{name}:{_client(client)}", f"{PREFIX}:{name}"


def _window(settings: Settings) -> int:
    return max(1, int(settings.console_lockout_minutes * 60))


def locked(username: str, client: str, settings: Settings) -> bool:
    """Whether sign-ins to `username` from `client` are refused for now."""
    pair, account = _keys(username, client)
    counts = queue.get_redis().mget(pair, account)
    from_here, everywhere = (int(c or 0) for c in counts)
    return (
        from_here >= settings.console_lockout_failures
        or everywhere >= settings.console_account_lockout_failures
    )


def failed(username: str, client: str, settings: Settings) -> Lock | None:
    """Count one wrong sign-in to `username` (existing or not) from `client`; the lock this one
    started, if any (the lock lasts CONSOLE_LOCKOUT_MINUTES from now)."""
    pair, account = _keys(username, client)
    window = _window(settings)
    with queue.get_redis().pipeline() as pipe:
        pipe.incr(pair)
        pipe.expire(pair, window)
        pipe.incr(account)
        pipe.expire(account, window)
        from_here, _, everywhere, _ = pipe.execute()
    if int(everywhere) == settings.console_account_lockout_failures:
        return Lock.ACCOUNT
    if int(from_here) == settings.console_lockout_failures:
        return Lock.CLIENT
    return None


def succeeded(username: str, client: str) -> None:
    """A good sign-in: this address's count for the name starts again."""
    queue.get_redis().delete(_keys(username, client)[0])


def clear(username: str) -> int:
    """Lift every lock and count of `username` (staff unlock, a new password); keys removed."""
    redis = queue.get_redis()
    name = _name(username)
    keys = [f"{PREFIX}:{name}", *redis.scan_iter(match=f"{PREFIX}:{name}:*", count=500)]
    return int(redis.delete(*keys))
