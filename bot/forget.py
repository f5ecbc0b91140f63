"""Erasing a resident's data: DELETE MY DATA, `intake311 forget ADDRESS`, STOP and the
retention purge all end here (SECURITY.md says what is kept and why).

What goes: every message of theirs (transcripts and provider payloads), the conversation's
state, their language and consent, the contact details and words of their reports, the requests
they follow (and the address of their reports in the picture of the city's open requests).
What stays: a report the city has keeps its row (the city's request number, the service, its
status) for the city's sake and ours, without the resident's details; after STOP the contact
keeps its keyed hash and the opt-out, so we never text them again and honour START.

Nothing in flight is cut short: a reply being sent finishes first (the address goes once the
contact has nothing left to send, `finish_erasing`), and a report on its way to the city keeps
its words until the city has it (the purge blanks it then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, delete, not_, or_, update
from sqlmodel import Session, func, select

from bot import report_history
from bot.media.pipeline import erase_photos
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Follow,
    Message,
    MessageStatus,
    OpenRequest,
    Photo,
    Report,
    ReportState,
)
from bot.personal_data import address_key
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import State

# What people write between a phone number's digits.
_PHONE_FORMATTING = re.compile(r"[\s().-]")
# Our pipeline is done with these: what they hold of the resident is no longer needed.
SETTLED_REPORTS = (ReportState.SUBMITTED, ReportState.REJECTED)
# Reports that never reached the city and never will without staff: dropped when forgotten.
UNSENT_REPORTS = (ReportState.PENDING, ReportState.FAILED)


@dataclass(frozen=True)
class Erased:
    """What an erasure removed: messages deleted, reports kept without the resident's details,
    reports dropped before they reached the city."""

    messages: int = 0
    reports: int = 0
    dropped: int = 0

    def __str__(self) -> str:
        return (
            f"{self.messages} message(s) deleted, {self.reports} report(s) kept for the city "
            f"without personal data, {self.dropped} unsent report(s) dropped; contact details, "
            "language and conversation state erased"
        )


def find_contact(session: Session, address: str) -> Contact | None:
    """The contact at `address`, found by its keyed hash."""
    return session.exec(select(Contact).where(Contact.address_key == address_key(address))).first()


def erase_contact(session: Session, contact: Contact, keep_opt_out: bool = False) -> Erased:
    """Erase what we keep about `contact` (in the caller's transaction).

    `keep_opt_out` (STOP): the contact stays findable and opted out. Otherwise (DELETE MY
    DATA) it is no longer findable at all: its next message starts afresh as a new contact.
    The address itself stays until `finish_erasing`, for a reply still to send.
    """
    messages = _delete_messages(session, contact.id)
    session.execute(delete(Follow).where(Follow.contact_id == contact.id))
    # The words they typed for a place go; the city's own listing may name it again.
    session.execute(
        update(OpenRequest)
        .where(
            OpenRequest.ours.is_(True),
            OpenRequest.service_request_id.in_(
                select(Report.service_request_id).where(Report.contact_id == contact.id)
            ),
        )
        .values(address="")
        .execution_options(synchronize_session=False)
    )
    reports, dropped = _erase_reports(session, contact.id)
    erase_photos(session, Photo.contact_id == contact.id, settings=get_settings())
    conversation = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    fresh = State().to_dict()
    if conversation is not None and (
        conversation.state != fresh
        or conversation.followup is not None
        or conversation.forget_asked_at is not None
    ):
        conversation.state = fresh
        conversation.followup = None
        conversation.forget_asked_at = None
        conversation.updated_at = utcnow()
    contact.language = None
    contact.contact_consent = None
    # Opted out either way: a notice about a kept report (its number, its status) is never sent.
    contact.opted_out = True
    if not keep_opt_out:
        contact.address_key = None
    session.flush()
    return Erased(messages, reports, dropped)


def finish_erasing(session: Session, contact_id: int) -> bool:
    """Drop an erased contact's address (and its last messages) once it has nothing left to
    send or read; a forgotten contact without reports goes whole. True when done."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        return True
    if contact.address_key is not None and not contact.opted_out:
        return False  # not erased (or back after START)
    if _unsent(session, contact_id):
        return False
    # An opt-out the provider reported (or one from before 0011) is erased here.
    erase_contact(session, contact, keep_opt_out=contact.address_key is not None)
    session.execute(delete(Message).where(Message.contact_id == contact_id))
    if contact.address:
        _forget_at_channel(contact.channel, contact.address)
    contact.address = None
    if contact.address_key is None and not _has_reports(session, contact_id):
        session.execute(delete(Conversation).where(Conversation.contact_id == contact_id))
        session.delete(contact)
    session.flush()
    return True


def _forget_at_channel(channel: str, address: str) -> None:
    """What the resident's channel keeps outside our database goes too (a web chat mailbox)."""
    from bot.channels.registry import channel_for

    try:
        found = channel_for(channel)
    except LookupError:  # a channel this version no longer has
        return
    found.forget(address, get_settings())


def _unsent(session: Session, contact_id: int) -> bool:
    """Whether the contact has a message still to read (in) or to send (out, ours to finish)."""
    return (
        session.execute(
            select(func.count(Message.id)).where(
                Message.contact_id == contact_id,
                or_(
                    and_(
                        Message.direction == Direction.IN,
                        Message.status == MessageStatus.PENDING,
                    ),
                    and_(
                        Message.direction == Direction.OUT,
                        Message.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
                    ),
                ),
            )
        ).scalar_one()
        > 0
    )


def _has_reports(session: Session, contact_id: int) -> bool:
    return (
        session.exec(select(Report.id).where(Report.contact_id == contact_id)).first() is not None
    )


def _delete_messages(session: Session, contact_id: int) -> int:
    """Delete the contact's messages but those in flight: one being sent, one being read."""
    in_flight = or_(
        Message.status == MessageStatus.SENDING,
        and_(Message.direction == Direction.IN, Message.status == MessageStatus.PENDING),
    )
    result = session.execute(
        delete(Message)
        .where(Message.contact_id == contact_id, not_(in_flight))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _erase_reports(session: Session, contact_id: int) -> tuple[int, int]:
    """Reports never sent are dropped; the others lose the resident's details (a report still
    on its way keeps its words until the city has it). Returns (kept, dropped)."""
    kept = dropped = 0
    now = utcnow()
    for report in session.exec(select(Report).where(Report.contact_id == contact_id)).all():
        if report.erased_at is not None:
            if report.state in SETTLED_REPORTS and report.description:
                blank_report(report)  # forgotten on its way; the city has it now
            continue
        # Never posted again once its resident is erased, even where an earlier POST may have
        # reached the city (that copy is the city's); one being posted now is dropped by
        # `submit` if that POST fails, and blanked by the purge if it lands.
        if report.state in UNSENT_REPORTS and not report.service_request_id:
            report_history.forget(session, report.id)
            session.delete(report)
            dropped += 1
            continue
        report.contact_ok, report.phone, report.email = False, None, None
        if report.state in SETTLED_REPORTS:
            blank_report(report)
        report.erased_at = report.erased_at or now
        report.updated_at = now
        report_history.erased(session, report.id)
        kept += 1
    return kept, dropped


def blank_report(report: Report) -> None:
    """Keep only what the city and staff need of a report: its number, service and status."""
    report.description = ""
    report.address = ""
    report.lat = report.lon = None
    report.attributes = {}
    report.media = []
    report.contact_ok, report.phone, report.email = False, None, None
    report.status_notes = None
    report.last_error = None  # a city's refusal may quote the description, phone or email
    report.erased_at = report.erased_at or utcnow()


def forget_address(address: str, actor: str, remote_addr: str | None = None) -> Erased | None:
    """Staff's `intake311 forget`: erase the resident at `address` at once (no reply is sent)
    and record it in the audit log under the contact's pseudonym; None if unknown."""
    from bot.db import session_scope
    from bot.jobs.common import locked  # not at the top: bot.jobs imports this module
    from bot.models import StaffAction
    from bot.personal_data import pseudonym

    with session_scope() as session:
        contact = find_contact(session, address)
        if contact is None:
            return None
        conversation_id = session.exec(
            select(Conversation.id).where(Conversation.contact_id == contact.id)
        ).first()
    # Not while a turn of theirs runs: it would write back what was just erased.
    with locked(f"conversation:{conversation_id}"), session_scope() as session:
        contact = find_contact(session, address)
        if contact is None:
            return None
        erased = erase_contact(session, contact)
        finish_erasing(session, contact.id)
        session.add(
            StaffAction(
                actor=actor,
                action="forget",
                target=f"contact {pseudonym(address)}",
                detail=str(erased),
                remote_addr=remote_addr,
            )
        )
    return erased


def _phone_schemes() -> tuple[str, ...]:
    from bot.channels.registry import phone_schemes  # not at the top: channels load on use

    return phone_schemes()


def addresses_typed(text: str) -> list[str]:
    """The addresses staff mean: a phone number alone is the resident's on every channel that
    uses it (SMS and WhatsApp); an address with its scheme is that one (`address_typed`)."""
    address = address_typed(text)
    if ":" in text.strip().split("+", 1)[0] or not address.startswith("tel:"):
        return [address]  # typed with its scheme ("tel:", "whatsapp:", "telegram:")
    number = address.removeprefix("tel:")
    return [f"{scheme}:{number}" for scheme in _phone_schemes()]


def address_typed(text: str) -> str:
    """An address as staff type it: "tel:+1...", "whatsapp:+1...", "telegram:123",
    "webchat:<session>", or a phone number with its country code in any common writing
    ("+1 (312) 555-0142", an SMS address).

    ValueError for a number without its country code: which country is not ours to guess.
    """
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() not in _phone_schemes():
        return text
    prefix = scheme.lower() if colon else "tel"
    number = _PHONE_FORMATTING.sub("", rest if colon else text)
    if number.startswith("+") and number[1:].isdigit():
        return f"{prefix}:{number}"
    if number.isdigit():
        raise ValueError(
            f"give the number with its country code, as residents text from it: +{number}"
            if number.startswith("1") and len(number) == 11
            else "give the number with its country code (+1 312 555 0142)"
        )
    return text
