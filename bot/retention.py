"""purge: what is older than RETENTION_DAYS goes (the cron runs it every PURGE_INTERVAL).

- Transcripts: messages (their words and provider payloads) older than RETENTION_DAYS are
  deleted, except one still pending or being sent (a delivery in flight is never cut short)
  and one a conversation's follow-up still answers.
- Reports: once our pipeline is done with them (the city has them, or refused them; given-up
  ones too), their personal data (words, address, coordinates, answers, photos, phone, email,
  the city's notes) is blanked RETENTION_DAYS after they were made. The row keeps the city's
  request number, the service and status, and the link to the resident, so an open request
  still gets its status updates.
- Contacts quiet for RETENTION_DAYS with nothing open (no report on its way, none the city
  still has open, no request followed that is still open) are forgotten as DELETE MY DATA
  would (bot.forget); opted-out contacts keep their keyed hash and opt-out for good.
- Erasures waiting on a last reply (DELETE MY DATA, STOP) are finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, update
from sqlmodel import Session, func, select

from bot import report_history
from bot.db import session_scope
from bot.forget import blank_report, erase_contact, finish_erasing
from bot.media.pipeline import erase_photos
from bot.models import (
    Contact,
    Conversation,
    Follow,
    Message,
    MessageStatus,
    OpenRequest,
    Photo,
    PhotoState,
    Report,
    ReportState,
)
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import State

log = logging.getLogger(__name__)

PURGE_INTERVAL = 600  # seconds between purges (also how soon an erasure's last step runs)
BATCH = 1000  # contacts handled per purge at most (the rest wait for the next one)
LIVE_REPORTS = (ReportState.PENDING, ReportState.SUBMITTING, ReportState.AWAITING_NUMBER)


@dataclass(frozen=True)
class Purged:
    """What one purge removed."""

    messages: int = 0
    reports: int = 0
    contacts: int = 0
    finished: int = 0


def purge(now: datetime | None = None) -> Purged:
    """Delete and blank what RETENTION_DAYS no longer allows; return what went."""
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().retention_days)
    with session_scope() as session:
        messages = _old_messages(session, cutoff)
        reports = _old_reports(session, cutoff)
        _old_states(session, cutoff)
    contacts = _quiet_contacts(cutoff)
    finished = _finish_erasures()
    purged = Purged(messages, reports, contacts, finished)
    if any((messages, reports, contacts, finished)):
        log.info(
            "purge: %s message(s), %s report(s) blanked, %s contact(s) forgotten, "
            "%s erasure(s) finished",
            messages,
            reports,
            contacts,
            finished,
        )
    return purged


def _old_messages(session: Session, cutoff: datetime) -> int:
    waiting_followup = select(Conversation.id).where(Conversation.followup.is_not(None))
    result = session.execute(
        delete(Message)
        .where(
            Message.created_at < cutoff,
            Message.status.not_in((MessageStatus.PENDING, MessageStatus.SENDING)),
            Message.conversation_id.not_in(waiting_followup),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _old_reports(session: Session, cutoff: datetime) -> int:
    """Blank the reports our pipeline is done with, made before the cutoff (and those forgotten
    while on their way, once the city has them)."""
    done = Report.state.not_in(LIVE_REPORTS)
    reports = session.exec(
        select(Report).where(
            done,
            or_(
                and_(Report.created_at < cutoff, Report.erased_at.is_(None)),
                and_(Report.erased_at.is_not(None), Report.description != ""),
            ),
        )
    ).all()
    for report in reports:
        if report.erased_at is None:
            report_history.erased(session, report.id)
        blank_report(report)
        report.updated_at = utcnow()
    # The address they typed leaves the picture of the city's open requests with the report's.
    session.execute(
        update(OpenRequest)
        .where(
            OpenRequest.ours.is_(True),
            OpenRequest.address != "",
            OpenRequest.service_request_id.in_(
                select(Report.service_request_id).where(Report.erased_at.is_not(None))
            ),
        )
        .values(address="")
        .execution_options(synchronize_session=False)
    )
    # Photos go with their report's words; those of reports never made go with the transcript;
    # tombstones (a copy the store could not delete before) are tried again.
    blanked = select(Report.id).where(Report.erased_at.is_not(None), done)
    erase_photos(
        session,
        or_(
            Photo.report_id.in_(blanked),
            and_(Photo.report_id.is_(None), Photo.created_at < cutoff),
            Photo.state == PhotoState.ERASED,
        ),
        settings=get_settings(),
    )
    return len(reports)


def _old_states(session: Session, cutoff: datetime) -> None:
    """A conversation quiet since the cutoff drops its half-made report (its words)."""
    state = Conversation.state
    for conversation in session.exec(
        select(Conversation).where(
            Conversation.updated_at < cutoff,
            # only those holding more than a fresh state does (cheap on both databases)
            or_(
                state["name"].as_string() != "idle",
                state["draft"].as_string() != "{}",
                state["offered"].as_string() != "[]",
            ),
        )
    ).all():
        fresh = State.from_dict(conversation.state).fresh().to_dict()
        if conversation.state != fresh:
            conversation.state = fresh


def _quiet_contacts(cutoff: datetime) -> int:
    """Forget the contacts quiet since the cutoff with nothing open."""
    recent = exists().where(Message.contact_id == Contact.id, Message.created_at >= cutoff)
    open_report = exists().where(
        Report.contact_id == Contact.id,
        or_(
            Report.state.in_(LIVE_REPORTS),
            and_(
                Report.state == ReportState.SUBMITTED,
                or_(Report.city_status.is_(None), func.lower(Report.city_status) != "closed"),
            ),
        ),
    )
    active = exists().where(
        Conversation.contact_id == Contact.id, Conversation.updated_at >= cutoff
    )
    # A request they follow that is still open: its next change is theirs to hear.
    closed_request = exists().where(
        OpenRequest.service_request_id == Follow.service_request_id,
        func.lower(OpenRequest.status) == "closed",
    )
    following = exists().where(
        Follow.contact_id == Contact.id,
        Follow.active.is_(True),
        or_(Follow.last_status.is_(None), func.lower(Follow.last_status) != "closed"),
        ~closed_request,
    )
    with session_scope() as session:
        ids = session.exec(
            select(Contact.id)
            .where(
                Contact.address_key.is_not(None),
                Contact.opted_out.is_(False),
                Contact.created_at < cutoff,
                ~recent,
                ~open_report,
                ~active,
                ~following,
            )
            .limit(BATCH)
        ).all()
    for contact_id in ids:
        with session_scope() as session:
            contact = session.get(Contact, contact_id)
            if contact is not None:
                erase_contact(session, contact)
                finish_erasing(session, contact_id)
    return len(ids)


def _finish_erasures() -> int:
    """Finish the erasures that waited for a last reply to be sent (page by page: contacts
    still waiting do not hide the ones after them)."""
    done, after = 0, 0
    while True:
        with session_scope() as session:
            ids = session.exec(
                select(Contact.id)
                .where(
                    Contact.id > after,
                    Contact.address.is_not(None),
                    or_(Contact.address_key.is_(None), Contact.opted_out.is_(True)),
                )
                .order_by(Contact.id)
                .limit(BATCH)
            ).all()
        for contact_id in ids:
            with session_scope() as session:
                done += finish_erasing(session, contact_id)
        if len(ids) < BATCH:
            break
        after = ids[-1]
    return done
