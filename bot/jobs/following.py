"""Follows: residents who follow a city request (instead of filing it again) are told each change
of its status, once, in their language, on the notices lane.

A follow of one of our own reports is told by the status check's own change of that report
(tracking `_apply`); the others are asked of the city in batches each cycle (`track_follows`).
One notice per change: the follow's `last_status` is moved by a conditional UPDATE in the
notice's own transaction, so a retry or a second check at once finds no change to tell.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, exists, func, or_, update
from sqlmodel import Session, select

from bot import duplicates, metrics, queue
from bot.db import session_scope
from bot.jobs.common import add_notice_to, message_chars
from bot.languages import load_languages
from bot.models import Contact, Conversation, Follow, Report, ReportState
from bot.open311.client import Open311Client, Open311Error
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import notices
from conversations.language import ENGLISH
from conversations.segments import measured_in

log = logging.getLogger(__name__)

# How long a follow of a closed request is still checked: cities reopen requests closed in
# error (as tracking's REOPEN_WATCH); then it is let go (following it again makes it active).
FOLLOW_REOPEN_WATCH = timedelta(days=30)
CHUNK = 1000


def notify_followers(
    session: Session, number: str, status: str, skip_contact: int | None = None
) -> list[int]:
    """Request `number` now has `status`: each active follow of it (but `skip_contact`'s, the
    reporter's own) that knew another status records it and gets one notice, in the caller's
    transaction; the notices' ids, for the caller to queue after the commit."""
    status = status.strip().lower()[:32]
    follows = session.exec(
        select(Follow.id, Follow.contact_id, Follow.service_name)
        .join(Contact, Contact.id == Follow.contact_id)
        .where(
            Follow.service_request_id == number,
            Follow.active.is_(True),
            Contact.address_key.is_not(None),  # a forgotten resident is told nothing
            or_(Follow.last_status.is_(None), Follow.last_status != status),
        )
        .order_by(Follow.id)
    ).all()
    settings = get_settings()
    languages = load_languages(settings.locale_dir or None)
    sent = []
    for follow_id, contact_id, service_name in follows:
        moved = session.execute(
            update(Follow)
            .where(
                Follow.id == follow_id,
                or_(Follow.last_status.is_(None), Follow.last_status != status),
            )
            .values(last_status=status, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        # The reporter following their own report learns its change with the report's own
        # notice: theirs only moves (an unmoved follow would stay open, and keep them, for ever).
        if moved.rowcount != 1 or contact_id == skip_contact:
            continue  # or another check told them first
        contact = session.get(Contact, contact_id)
        conversation = session.exec(
            select(Conversation).where(Conversation.contact_id == contact_id)
        ).first()
        if contact is None or conversation is None:
            continue
        say = languages.get(contact.language or "en") or ENGLISH
        # Someone else's request: its status word alone (the city's notes and dates are its
        # reporter's, as STATUS tells them: turn_actions.with_own).
        with measured_in(message_chars(contact.channel)):
            text = notices.status_changed(number, status, "", service_name, say=say)
        notice = add_notice_to(
            session,
            conversation,
            number,
            service_name,
            text,
            status=True,
            kind="status",
            values={"status": status, "notes": ""},
        )
        sent.append(notice.id)
    return sent


def track_follows(client: Open311Client) -> int:
    """Ask the city about the followed requests that are not our own tracked reports, batch by
    batch; each change is told to their followers once. Return how many notices were queued."""
    numbers = _followed_elsewhere()
    size = client.profile.batch_size
    told = 0
    for start in range(0, len(numbers), size):
        batch = numbers[start : start + size]
        try:
            found = client.requests(batch)
        except Open311Error as exc:
            log.warning("the followed requests' check failed: %s", exc)
            if exc.retryable:
                break  # the city is struggling: the rest wait for the next cycle
            continue
        told += _receive(set(batch), found)
    told += _catch_up_with_our_reports()
    _let_go()
    return told


def _catch_up_with_our_reports() -> int:
    """Tell the followers of our own reports who know another status than the report's (a
    follow made after a change the status check had already told its reporter), with no call
    to the city; each at most once (notify_followers moves them)."""
    sent: list[int] = []
    with session_scope() as session:
        behind = session.exec(
            select(Report.service_request_id, Report.city_status, Report.contact_id)
            .join(Follow, Follow.service_request_id == Report.service_request_id)
            .where(
                Follow.active.is_(True),
                Report.state == ReportState.SUBMITTED,
                Report.city_status.is_not(None),
                or_(Follow.last_status.is_(None), Follow.last_status != Report.city_status),
            )
            .distinct()
            .limit(CHUNK)
        ).all()
        for number, status, reporter in behind:
            sent.extend(notify_followers(session, number, status, skip_contact=reporter))
    metrics.status_updates.inc(len(sent))
    for notice in sent:
        queue.enqueue("bot.jobs.deliver", notice, kind="notices")
    return len(sent)


def _receive(asked: set[str], found: list[dict]) -> int:
    """The city's answers about followed requests, stored in one transaction; the notices are
    queued once it commits."""
    sent: list[int] = []
    with session_scope() as session:
        for entry in found:
            number = str(entry.get("service_request_id") or "")
            status = str(entry.get("status") or "").strip().lower()
            if number not in asked or not status:
                continue
            duplicates.note_status(session, number, status)
            sent.extend(notify_followers(session, number, status))
    metrics.status_updates.inc(len(sent))
    for notice in sent:
        queue.enqueue("bot.jobs.deliver", notice, kind="notices")
    return len(sent)


def _followed_elsewhere() -> list[str]:
    """The numbers of the requests followed (actively) that the status check does not track as
    our own reports."""
    ours = exists().where(
        Report.service_request_id == Follow.service_request_id,
        Report.state == ReportState.SUBMITTED,
        Report.contact_id == Contact.id,
        Contact.address_key.is_not(None),
    )
    with session_scope() as session:
        rows = session.exec(
            select(Follow.service_request_id)
            .where(Follow.active.is_(True), ~ours)
            .distinct()
            .order_by(Follow.service_request_id)
        ).all()
    return [str(number) for number in rows]


def _let_go() -> int:
    """Follows of requests closed for longer than FOLLOW_REOPEN_WATCH are no longer checked."""
    with session_scope() as session:
        result = session.execute(
            update(Follow)
            .where(
                Follow.active.is_(True),
                and_(
                    func.lower(Follow.last_status) == "closed",
                    Follow.updated_at < utcnow() - FOLLOW_REOPEN_WATCH,
                ),
            )
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount or 0
