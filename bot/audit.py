"""The audit log of staff actions: who did what to which piece of work, from where.

Whoever signs staff in (the admin page's token check, the CLI) says who is acting for the
rest of the request or command (`acting_as`); the action itself (`bot.failures.retry`) writes
its `StaffAction` row in the same transaction as the change, so the log never misses one.
"""

from __future__ import annotations

import ipaddress
import logging
from contextvars import ContextVar
from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from bot.db import session_scope
from bot.models import StaffAction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staff:
    """Who acts: "admin-token" (the page's shared token) or "cli:<os user>", and from where."""

    actor: str
    remote_addr: str | None = None


NOBODY = Staff("unknown")
_acting: ContextVar[Staff] = ContextVar("intake311_staff", default=NOBODY)


def acting_as(staff: Staff | None) -> None:
    """Name who acts for the rest of this request or command (None: nobody)."""
    if staff is not None and staff.remote_addr:
        staff = replace(staff, remote_addr=_ip(staff.remote_addr))
    _acting.set(staff or NOBODY)


def _ip(given: str) -> str:
    """The client's IP address as written, or "invalid" (a proxy's header may carry anything)."""
    try:
        return str(ipaddress.ip_address(given.strip()))
    except ValueError:
        return "invalid"


def acting() -> Staff:
    """Who acts now ("unknown" when nobody signed in: a script calling bot.failures)."""
    return _acting.get()


def record(session: Session, action: str, target: str, detail: str = "") -> None:
    """Add one staff action to `session` (committed with the change it records) and log it."""
    staff = acting()
    session.add(
        StaffAction(
            actor=staff.actor[:128],
            action=action[:64],
            target=target[:255],
            detail=detail,
            remote_addr=(staff.remote_addr or None) and staff.remote_addr[:64],
        )
    )
    log.info(
        "staff %s: %s %s (%s) from %s",
        staff.actor,
        action,
        target,
        detail,
        staff.remote_addr or "here",
    )


def latest(limit: int = 20) -> list[StaffAction]:
    """The newest staff actions, newest first."""
    with session_scope() as session:
        return list(
            session.exec(
                select(StaffAction)
                .order_by(col(StaffAction.at).desc(), col(StaffAction.id).desc())
                .limit(limit)
            ).all()
        )
