"""reconcile: queue again whatever work Redis lost, from the database that owns it."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, func, or_, select

from bot import queue
from bot.db import session_scope
from bot.media.pipeline import FETCH_IN_FLIGHT
from bot.models import (
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Photo,
    PhotoState,
    Report,
    ReportState,
)
from bot.payloads import OutboundPayload
from bot.settings import get_settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)


def reconcile() -> int:
    """Re-queue lost turns (and follow-ups), sends, filings, token polls and photo fetches;
    return how many jobs were queued.

    Work untouched for RECONCILE_GRACE is presumed lost from the queue; a filing in flight for
    STUCK_AFTER belongs to a worker that died.
    """
    settings = get_settings()
    now = utcnow()
    grace = timedelta(seconds=settings.reconcile_grace)
    jobs = [
        ("bot.jobs.submit", report_id)
        for report_id in _release_stuck(now - timedelta(seconds=settings.stuck_after))
    ]
    with session_scope() as session:
        waiting = session.exec(
            select(Message.conversation_id)
            .where(
                Message.direction == Direction.IN,
                Message.status == MessageStatus.PENDING,
                Message.created_at < now - grace,
            )
            .distinct()
        ).all()
        # A follow-up (a look-up the turn left to the worker) whose worker died or whose job
        # was lost: the next run_turn performs it before any pending message.
        followed = session.exec(
            select(Conversation.id).where(
                Conversation.followup.is_not(None), Conversation.updated_at < now - grace
            )
        ).all()
        jobs += [
            ("bot.jobs.run_turn", conversation_id)
            for conversation_id in dict.fromkeys([*waiting, *followed])
        ]
        jobs += [
            ("bot.jobs.deliver", message_id)
            for message_id in session.exec(
                select(func.min(Message.id))
                .where(
                    Message.direction == Direction.OUT,
                    Message.status.in_(("pending", "sending")),
                    Message.updated_at < now - grace,
                    or_(Message.next_attempt_at.is_(None), Message.next_attempt_at < now - grace),
                )
                .group_by(Message.contact_id)
            ).all()
        ]
        for report_id, state in session.exec(
            select(Report.id, Report.state).where(
                Report.state.in_(("pending", "awaiting_number")),
                Report.updated_at < now - grace,
                or_(Report.next_attempt_at.is_(None), Report.next_attempt_at < now - grace),
            )
        ).all():
            jobs.append(
                ("bot.jobs.submit" if state == "pending" else "bot.jobs.resolve_token", report_id)
            )
        # A photo whose next try is overdue (its job lost), or whose worker died mid-fetch.
        jobs += [
            ("bot.jobs.fetch_photo", photo_id)
            for photo_id in session.exec(
                select(Photo.id).where(
                    or_(
                        (Photo.state == PhotoState.PENDING)
                        & (Photo.updated_at < now - grace)
                        & or_(
                            Photo.next_attempt_at.is_(None),
                            Photo.next_attempt_at < now - grace,
                        ),
                        (Photo.state == PhotoState.FETCHING)
                        & (Photo.updated_at < now - FETCH_IN_FLIGHT),
                    )
                )
            ).all()
        ]
        # A status notice goes back to its own lane, behind residents' replies (bot.pacing).
        notices = _status_notices(session, [i for job, i in jobs if job == "bot.jobs.deliver"])
    for job, job_id in jobs:
        lane = "notices" if job == "bot.jobs.deliver" and job_id in notices else None
        queue.enqueue(job, job_id, kind=lane)
    return len(jobs)


def _status_notices(session: Session, message_ids: list[int]) -> set[int]:
    """Which of these outbound messages are status checks' notices."""
    if not message_ids:
        return set()
    rows = session.exec(
        select(Message.id, Message.payload).where(col(Message.id).in_(message_ids))
    ).all()
    return {i for i, payload in rows if OutboundPayload.from_dict(payload).status_notice}


def _release_stuck(before) -> list[int]:
    """Put filings whose worker died mid-flight back in line; return the reports released.

    They keep check_before_post, so the city is searched for them before any second POST; a
    send left "sending" is settled by deliver itself (it looks the message up first).
    """
    with session_scope() as session:
        reports = session.exec(
            select(Report.id).where(
                Report.state == ReportState.SUBMITTING, Report.updated_at < before
            )
        ).all()
        if reports:
            session.execute(
                update(Report)
                .where(Report.id.in_(reports), Report.state == ReportState.SUBMITTING)
                .values(state=ReportState.PENDING, next_attempt_at=None, updated_at=utcnow())
            )
    if reports:
        log.warning("released %s report(s) stuck in flight", len(reports))
    return list(reports)
