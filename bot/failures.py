"""Dead letters: work given up on (reports, sends, turns), listed for staff and retried by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import func, or_, select

from bot import audit, queue, report_history
from bot.db import session_scope
from bot.models import (
    Contact,
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

# Photos given up: tries spent, or never fetchable (not the provider's, not an image, too large).
PHOTO_STATES = (PhotoState.FAILED, PhotoState.REFUSED)
# Report states a photo can still be filed with (the city takes no photo after the report).
UNFILED_REPORTS = (
    ReportState.PENDING,
    ReportState.FAILED,
    ReportState.REJECTED,
    ReportState.UNCONFIRMED,
)

# Report states that wait for a person: refused our setup or given up after a long outage
# (failed), possibly filed where the city's requests cannot be searched (unconfirmed), or
# refused by the city for the report's own sake (rejected: retried once staff fixed the cause).
REPORT_STATES = (ReportState.FAILED, ReportState.UNCONFIRMED, ReportState.REJECTED)


@dataclass(frozen=True)
class Failure:
    """One piece of work given up on: "report:12", "send:40", "turn:7" or "photo:3", and why."""

    name: str
    what: str
    error: str
    at: datetime
    hint: str = ""


def list_failures(limit: int = 200) -> list[Failure]:
    """What waits for staff, newest first (the resident's words are never shown)."""
    found: list[Failure] = []
    with session_scope() as session:
        for report in session.exec(
            select(Report)
            .where(or_(Report.state.in_(REPORT_STATES), Report.staff_note.is_not(None)))
            .order_by(Report.updated_at.desc())
            .limit(limit)
        ).all():
            number = f" filed as {report.service_request_id}" if report.service_request_id else ""
            found.append(
                Failure(
                    f"report:{report.id}",
                    f"{report.state} report {report.marker or ''}{number} ({report.service_name})",
                    report.staff_note or report.last_error or "",
                    report.updated_at,
                    _hint(report),
                )
            )
        for message in session.exec(
            select(Message)
            .where(Message.status == MessageStatus.FAILED)
            .order_by(Message.updated_at.desc())
            .limit(limit)
        ).all():
            contact = session.get(Contact, message.contact_id)
            kind = "send" if message.direction == Direction.OUT else "turn"
            found.append(
                Failure(
                    f"{kind}:{message.id}",
                    f"{'reply to' if kind == 'send' else 'message from'} {_masked(contact)} "
                    f"on {message.channel}",
                    message.error_code or "",
                    message.updated_at,
                    _send_hint(message) if kind == "send" else "",
                )
            )
        for photo in session.exec(
            select(Photo)
            .where(Photo.state.in_(PHOTO_STATES))
            .order_by(Photo.updated_at.desc())
            .limit(limit)
        ).all():
            contact = session.get(Contact, photo.contact_id)
            report = f" for report:{photo.report_id}" if photo.report_id else ""
            found.append(
                Failure(
                    f"photo:{photo.id}",
                    f"{photo.state} photo from {_masked(contact)} on {photo.channel}{report}",
                    photo.last_error or "",
                    photo.updated_at,
                )
            )
    return sorted(found, key=lambda f: f.at, reverse=True)[:limit]


def count_failures(cap: int) -> dict[str, int]:
    """How many of each kind wait for staff (report, send, turn, photo), each counted up to `cap`
    (a bounded count: cheap whatever the backlog)."""
    wheres = {
        "report": (Report.id, or_(Report.state.in_(REPORT_STATES), Report.staff_note.is_not(None))),
        "send": (
            Message.id,
            (Message.status == MessageStatus.FAILED) & (Message.direction == Direction.OUT),
        ),
        "turn": (
            Message.id,
            (Message.status == MessageStatus.FAILED) & (Message.direction == Direction.IN),
        ),
        "photo": (Photo.id, Photo.state.in_(PHOTO_STATES)),
    }
    counts: dict[str, int] = {}
    with session_scope() as session:
        for kind, (column, where) in wheres.items():
            found = select(column).where(where).limit(cap).subquery()
            counts[kind] = session.exec(select(func.count()).select_from(found)).one()
    return counts


def _hint(report: Report) -> str:
    """What staff should do about a report that waits for them."""
    name = f"report:{report.id}"
    if report.state == ReportState.UNCONFIRMED:
        return (
            f"it may be at the city already: look for {report.marker} in the city's requests; "
            f"found: intake311 failures filed {name} REQUEST_ID; not there: "
            f"intake311 failures retry {name}"
        )
    if report.staff_note:
        return f"seen to at the city: intake311 failures retry {name} (acknowledges it)"
    return ""


def _send_hint(message: Message) -> str:
    """What staff can do about a send the provider will not take (the channel says)."""
    from bot.channels.registry import channel_for

    try:
        channel = channel_for(message.channel)
    except LookupError:  # a channel this version no longer has
        return ""
    notice = OutboundPayload.from_dict(message.payload).notice
    return channel.failure_hint(message.error_code, notice, get_settings())


def _masked(contact: Contact | None) -> str:
    """A contact's address with all but its last four characters hidden."""
    address = (contact.address if contact else None) or "?"  # None: erased
    scheme, _, rest = address.rpartition(":")
    return f"{scheme}:…{rest[-4:]}" if scheme else f"…{rest[-4:]}"


KINDS = ("report", "send", "turn", "photo")
MAX_ID = 2**31 - 1  # the largest id a row of ours has (an INTEGER column)
_NAME = re.compile(r"([a-z]+):([0-9]{1,10})")


def parse_name(name: object, kinds: tuple[str, ...] = KINDS) -> tuple[str, int]:
    """A failure's name ("report:12") as its kind and row id; ValueError unless it is one of
    `kinds`, a colon and an id written in ASCII digits within a row id's range (not
    "report:٣", nor 400 nines)."""
    found = _NAME.fullmatch(name) if isinstance(name, str) else None
    if found is None or found[1] not in kinds or not 0 < int(found[2]) <= MAX_ID:
        shown = repr(name)[:40] if isinstance(name, str) else type(name).__name__
        spelled = " or ".join(", ".join(f"{kind}:N" for kind in kinds).rsplit(", ", 1))
        raise ValueError(f"not a failure's name: {shown} ({spelled})")
    return found[1], int(found[2])


def retry(name: str) -> bool:
    """Send one failure ("report:12", "send:40", "turn:7", "photo:3") back in line (a filed report's
    staff note is acknowledged instead); False if not failed. Each retry is a staff action
    (bot.audit), recorded with the change."""
    kind, number = parse_name(name)
    job = None
    with session_scope() as session:
        if kind == "report":
            report = session.get(Report, number)
            if report is not None and report.staff_note and report.state not in REPORT_STATES:
                report.staff_note = None  # a filed report's note, seen: acknowledged
                report.updated_at = utcnow()
                audit.record(session, "retry", name, "staff note acknowledged")
                return True
            if report is None or report.state not in REPORT_STATES:
                return False
            if report.erased_at is not None:
                raise ValueError(
                    f"{name} was erased (the resident's request, or RETENTION_DAYS): "
                    "nothing is left of it to file"
                )
            if report.state == ReportState.UNCONFIRMED:
                report.check_before_post = False  # staff checked the city: file it
            report.state = ReportState.PENDING
            report.attempts = 0
            report.next_attempt_at = None
            report.retried_at = report.updated_at = utcnow()
            job = ("bot.jobs.submit", report.id)
            audit.record(session, "retry", name, "report sent back in line")
            report_history.record(
                session, report.id, "retried", ReportState.PENDING, f"by {audit.acting().actor}"
            )
        elif kind == "photo":
            job = _photo_again(session, name, number)
            if job is None:
                return False
        else:
            message = session.get(Message, number)
            direction = Direction.OUT if kind == "send" else Direction.IN
            failed = message is not None and message.status == MessageStatus.FAILED
            if message is None or not failed or message.direction != direction:
                return False
            message.status = MessageStatus.PENDING
            message.attempts = 0
            message.next_attempt_at = None
            message.updated_at = utcnow()
            job = (
                ("bot.jobs.deliver", message.id)
                if kind == "send"
                else ("bot.jobs.run_turn", message.conversation_id)
            )
            audit.record(session, "retry", name, f"{kind} sent back in line")
    queue.enqueue(*job)
    return True


def _photo_again(session, name: str, photo_id: int) -> tuple[str, int] | None:
    """A given-up photo back to pending, while its report can still be filed with it."""
    photo = session.get(Photo, photo_id)
    if photo is None or photo.state not in PHOTO_STATES:
        return None
    report = session.get(Report, photo.report_id) if photo.report_id else None
    if report is not None and report.state not in UNFILED_REPORTS:
        raise ValueError(
            f"{name}: its report is at the city already (a request takes no photo after it "
            "is filed)"
        )
    photo.state, photo.attempts, photo.next_attempt_at = PhotoState.PENDING, 0, None
    photo.updated_at = utcnow()
    audit.record(session, "retry", name, "photo sent back in line")
    return ("bot.jobs.fetch_photo", photo.id)


def retry_all() -> list[str]:
    """Send every failure back in line but unconfirmed reports (which may be at the city
    already: each needs a look first); the names of those retried."""
    return [
        f.name
        for f in list_failures(limit=10_000)
        if not f.what.startswith(ReportState.UNCONFIRMED) and _retried(f.name)
    ]


def _retried(name: str) -> bool:
    try:
        return retry(name)
    except ValueError:  # erased: nothing to file
        return False


def mark_filed(name: str, service_request_id: str) -> bool:
    """Record that staff found a waiting report at the city as `service_request_id`: it is
    submitted, and the resident gets the number; False if the report does not wait."""
    from bot.jobs.submission import mark_found_by_staff

    kind, number = parse_name(name, kinds=("report",))
    request_id = service_request_id.strip()
    if not request_id or len(request_id) > 128 or not request_id.isprintable():
        raise ValueError("give the request number the city shows for it")
    return mark_found_by_staff(number, request_id)
