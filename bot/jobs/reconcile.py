"""reconcile: queue again whatever work Redis lost, from the database that owns it."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import func, or_, select

from bot import queue
from bot.db import session_scope
from bot.models import Message, Report
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# Work untouched this long is presumed lost from the queue.
GRACE = timedelta(minutes=2)
# A send or a filing "in flight" this long belongs to a worker that died.
STUCK = timedelta(minutes=15)


def reconcile() -> int:
    """Re-queue lost turns, sends, filings and token polls; return how many jobs were queued."""
    now = utcnow()
    jobs = [("bot.jobs.submit", report_id) for report_id in _release_stuck(now)]
    with session_scope() as session:
        jobs += [
            ("bot.jobs.run_turn", conversation_id)
            for conversation_id in session.exec(
                select(Message.conversation_id)
                .where(
                    Message.direction == "in",
                    Message.status == "pending",
                    Message.created_at < now - GRACE,
                )
                .distinct()
            ).all()
        ]
        jobs += [
            ("bot.jobs.deliver", message_id)
            for message_id in session.exec(
                select(func.min(Message.id))
                .where(
                    Message.direction == "out",
                    Message.status == "pending",
                    Message.updated_at < now - GRACE,
                    or_(Message.next_attempt_at.is_(None), Message.next_attempt_at < now - GRACE),
                )
                .group_by(Message.contact_id)
            ).all()
        ]
        for report_id, state in session.exec(
            select(Report.id, Report.state).where(
                Report.state.in_(("pending", "awaiting_number")),
                Report.updated_at < now - GRACE,
                or_(Report.next_attempt_at.is_(None), Report.next_attempt_at < now - GRACE),
            )
        ).all():
            jobs.append(("bot.jobs.submit" if state == "pending" else "bot.jobs.resolve_token",
                         report_id))
    for job, job_id in jobs:
        queue.enqueue(job, job_id)
    return len(jobs)


def _release_stuck(now) -> list[int]:
    """Put work whose worker died mid-flight back in line; return the reports released.

    Window: if the worker died after the city (or Twilio) accepted the call but before we
    stored the answer, the retry files (or sends) it a second time. ARCHITECTURE.md tells.
    """
    with session_scope() as session:
        reports = session.exec(
            select(Report.id).where(
                Report.state == "submitting", Report.updated_at < now - STUCK
            )
        ).all()
        if reports:
            session.execute(
                update(Report)
                .where(Report.id.in_(reports), Report.state == "submitting")
                .values(state="pending", next_attempt_at=None, updated_at=now)
            )
        messages = session.execute(
            update(Message)
            .where(Message.status == "sending", Message.updated_at < now - STUCK)
            .values(status="pending", next_attempt_at=None, updated_at=now)
        ).rowcount
    if reports or messages:
        log.warning("released %s report(s) and %s message(s) stuck in flight", len(reports),
                    messages)
    return list(reports)
