"""Staff accounts of the console: named users, Argon2id password hashes, roles and sign-in lockout.

Every change to an account is a staff action in the audit log (bot.audit), written in the same
transaction. `verify` gives the same refusal for an unknown user, a disabled one, a wrong
password and a locked account, and does the same work for each (one password check, the same
Redis counts in bot.signin_locks, no database write), so neither the answer nor its timing tells
which usernames exist.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import RedisError
from sqlmodel import Session, col, select

from bot import audit, signin_locks
from bot.db import session_scope
from bot.models import StaffUser
from bot.settings import get_settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"  # the actor of a lock's audit row: nobody signed in typed that
ROLES = ("viewer", "agent", "admin")  # each may do what the one before it may, and more
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # hashing a megabyte-long "password" is work nobody should cause
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
REFUSAL = "Wrong username or password, or too many tries: wait a while and try again."


class StaffError(ValueError):
    """An account change refused, said for staff (no such user, a short password, ...)."""


@dataclass(frozen=True)
class Refused:
    """A sign-in refused: `message` is the same whatever the cause; `why` is for the log."""

    why: str  # "unknown", "disabled", "locked", "password"
    message: str = REFUSAL


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """The password hasher (argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile)."""
    return PasswordHasher()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to verify against when there is no account, so that takes as long as a real one."""
    return hasher().hash("intake311 decoy: no such account")


def role_at_least(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may (viewer < agent < admin)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_username(username: str) -> str:
    """`username` as stored; StaffError unless it is 1-64 letters, digits and . _ @ -."""
    if not _USERNAME.fullmatch(username or ""):
        raise StaffError(
            "a username is 1 to 64 letters, digits and . _ @ - (a letter or digit first)"
        )
    return username


def check_password(password: str) -> str:
    """`password`, or StaffError when it is too short or too long."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise StaffError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise StaffError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return password


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"a role is one of {', '.join(ROLES)}")
    return role


def _user(session: Session, username: str) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise StaffError(f"no staff account {username!r}")
    return user


def _target(username: str) -> str:
    return f"staff {username}"


def create_user(username: str, password: str, role: str = "viewer") -> StaffUser:
    """Add an active account; StaffError if the name is taken or the password too short."""
    check_username(username)
    check_password(password)
    _check_role(role)
    with session_scope() as session:
        taken = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if taken is not None:
            raise StaffError(f"there is already a staff account {username!r}")
        user = StaffUser(username=username, password_hash=hasher().hash(password), role=role)
        session.add(user)
        audit.record(session, "staff-add", _target(username), f"role {role}")
    return user


def set_password(username: str, password: str) -> None:
    """Give the account a new password, lift any lockout and end its sessions everywhere."""
    check_password(password)
    with session_scope() as session:
        user = _user(session, username)
        user.password_hash = hasher().hash(password)
        user.session_epoch += 1
        user.updated_at = utcnow()
        audit.record(session, "staff-password", _target(username), "new password")
        user_id = user.id
    _forget_sessions_and_locks(user_id, username)


def set_role(username: str, role: str) -> None:
    """Change the account's role (it applies at the account's next request)."""
    _check_role(role)
    with session_scope() as session:
        user = _user(session, username)
        before, user.role, user.updated_at = user.role, role, utcnow()
        audit.record(session, "staff-role", _target(username), f"{before} -> {role}")


def disable(username: str) -> None:
    """Disable the account: no sign-in, and its sessions end at once."""
    with session_scope() as session:
        user = _user(session, username)
        user.active = False
        user.session_epoch += 1
        user.updated_at = utcnow()
        audit.record(session, "staff-disable", _target(username))
        user_id = user.id
    _forget_sessions_and_locks(user_id, None)


def enable(username: str) -> None:
    """Enable a disabled account again (with its lockout lifted)."""
    with session_scope() as session:
        user = _user(session, username)
        user.active = True
        user.updated_at = utcnow()
        audit.record(session, "staff-enable", _target(username))
    _forget_sessions_and_locks(None, username)


def sign_out_everywhere(user_id: int) -> None:
    """End every session of the account: its epoch moves on and its sessions are deleted."""
    with session_scope() as session:
        user = session.get(StaffUser, user_id)
        if user is None:
            return
        user.session_epoch += 1
        user.updated_at = utcnow()
        audit.record(session, "signout-everywhere", _target(user.username))
    _forget_sessions_and_locks(user_id, None)


def _forget_sessions_and_locks(user_id: int | None, username: str | None) -> None:
    """Delete the account's console sessions and sign-in locks in Redis. Redis down: the moved
    epoch ends the sessions anyway; the locks lapse by themselves."""
    from bot import console_sessions

    try:
        if user_id is not None:
            console_sessions.end_all(user_id)
        if username is not None:
            signin_locks.clear(username)
    except RedisError as exc:
        log.warning("console sessions or locks not cleared (Redis: %s)", type(exc).__name__)


def list_users() -> list[StaffUser]:
    """Every staff account, by username."""
    with session_scope() as session:
        return list(session.exec(select(StaffUser).order_by(col(StaffUser.username))).all())


def signed_in(user_id: int, epoch: int) -> StaffUser | None:
    """The account of a session (by id and epoch), if it is active and the epoch still holds."""
    with session_scope() as session:
        user = session.get(StaffUser, user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user


def verify(username: str, password: str, client: str = "unknown") -> StaffUser | Refused:
    """The account `username` signs in to with `password` from `client` (an IP address), or a
    Refused (the same for every cause). Wrong sign-ins are counted in Redis (bot.signin_locks),
    for a username that exists or not alike: CONSOLE_LOCKOUT_FAILURES from one address lock
    the name there for CONSOLE_LOCKOUT_MINUTES, CONSOLE_ACCOUNT_LOCKOUT_FAILURES lock it
    everywhere; only a lock writes an audit row. A good one clears this address's count and
    rehashes an outdated hash. Redis down: RedisError (nobody is signed in)."""
    settings = get_settings()
    if signin_locks.locked(username, client, settings):
        _spend(password)
        return Refused("locked")
    with session_scope() as session:
        user = None
        if _USERNAME.fullmatch(username or "") and len(password) <= MAX_PASSWORD_CHARS:
            user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        good = False
        if user is None or not user.active:
            _spend(password)  # one password check whatever the cause
        else:
            try:
                good = hasher().verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                good = False
        if not good or user is None or not user.active:
            lock = signin_locks.failed(username, client, settings)
            if lock is not None:
                _record_lock(session, username, lock, settings)
            if user is None:
                return Refused("unknown")
            return Refused("disabled" if not user.active else "password")
        signin_locks.succeeded(username, client)
        if hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hasher().hash(password)
        user.last_signin_at = user.updated_at = utcnow()
        audit.acting_as(replace(audit.acting(), actor=user.username))
        audit.record(session, "signin", _target(username))
        return user


def shown(typed: str) -> str:
    """A typed username as the audit log may show it: cut to 64 characters, escaped."""
    return ascii(typed[:64])[1:-1]


def _record_lock(session: Session, typed: str, lock: signin_locks.Lock, settings) -> None:
    """The audit row of a lock, by "anonymous" (whoever typed the name is not known)."""
    if lock is signin_locks.Lock.ACCOUNT:
        detail = (
            f"name {shown(typed)!r}: {settings.console_account_lockout_failures} wrong sign-ins"
            " from anywhere; locked for everyone"
        )
    else:
        detail = (
            f"name {shown(typed)!r}: {settings.console_lockout_failures} wrong sign-ins from"
            " one address; locked for that address"
        )
    audit.acting_as(replace(audit.acting(), actor=ANONYMOUS))
    audit.record(session, "signin-locked", _target(shown(typed)), detail)
    log.warning("console sign-in locked (%s) after wrong sign-ins", lock.value)


def unlock(username: str) -> int:
    """Lift every sign-in lock of the account (audited); the lock counters removed."""
    with session_scope() as session:
        _user(session, username)  # an unknown name: ValueError, said for staff
        removed = signin_locks.clear(username)
        audit.record(session, "staff-unlock", _target(username), f"{removed} counter(s) cleared")
    return removed


def _spend(password: str) -> None:
    """Verify against the decoy hash: the time a real account's check would take."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher().verify(_decoy_hash(), password[:MAX_PASSWORD_CHARS])
