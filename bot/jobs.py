"""The worker's jobs: plain functions that take ids, so a lost job can simply be queued again."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from sqlalchemy import update
from sqlmodel import Session, func, select

from bot import geocoding, queue
from bot.catalog import load_services
from bot.channels.base import Outgoing, SendError
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.models import Contact, Conversation, Message, Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import (
    Context,
    FileReport,
    Geocode,
    LookupStatus,
    Reply,
    State,
    StatusFound,
    notices,
    plaintext,
    step,
)
from conversations import Message as MessageEvent

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 10
MAX_SEND_ATTEMPTS = 6
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "OPTOUT"}
OPT_IN_WORDS = {"START", "UNSTOP"}
OPTED_OUT_CODES = {"21610"}


def backoff(attempts: int, base: float = 30, cap: float = 3600) -> float:
    """Seconds to wait before attempt number `attempts` + 1: doubling, capped."""
    return min(cap, base * 2 ** max(0, attempts - 1))


@contextmanager
def _locked(name: str):
    lock = get_redis_lock(name)
    if not lock.acquire(blocking=True):
        raise RuntimeError(f"could not lock {name}")
    try:
        yield
    finally:
        lock.release()


def get_redis_lock(name: str):
    """A Redis lock shared by every worker, released by itself if its holder dies."""
    return queue.get_redis().lock(f"intake311:lock:{name}", timeout=300, blocking_timeout=120)


def open311_client(settings: Settings) -> Open311Client:
    """A client for the city's Open311 server."""
    return Open311Client(
        settings.open311_endpoint,
        api_key=settings.open311_api_key,
        jurisdiction_id=settings.open311_jurisdiction_id,
        timeout=settings.open311_timeout,
    )


# --- turns ----------------------------------------------------------------------------


def run_turn(conversation_id: int) -> int:
    """Handle the conversation's unprocessed messages in arrival order; return how many."""
    settings = get_settings()
    handled = 0
    with _locked(f"conversation:{conversation_id}"):
        client = open311_client(settings)
        try:
            while True:
                with session_scope() as session:
                    message = session.exec(
                        select(Message)
                        .where(
                            Message.conversation_id == conversation_id,
                            Message.direction == "in",
                            Message.status == "pending",
                        )
                        .order_by(Message.id)
                    ).first()
                    if message is None:
                        break
                    follow_ups = _handle(session, message, client, settings)
                for job, job_id in follow_ups:
                    queue.enqueue(job, job_id)
                handled += 1
        finally:
            client.close()
    return handled


def _handle(session: Session, message: Message, client: Open311Client, settings: Settings):
    conversation = session.get(Conversation, message.conversation_id)
    contact = session.get(Contact, conversation.contact_id)
    message.status = "processed"
    message.updated_at = utcnow()
    word = message.text.strip().upper()
    if word in OPT_OUT_WORDS or word in OPT_IN_WORDS:
        # The carrier (Twilio's opt-out handling) confirms these itself; we only remember.
        contact.opted_out = word in OPT_OUT_WORDS
        return []
    if contact.opted_out:
        return []
    context = Context(
        services=load_services(
            session, client, settings.open311_endpoint, settings.catalog_ttl
        ),
        city=settings.city_name,
    )
    state = State.from_dict(conversation.state)
    events = [MessageEvent(text=message.text, at=message.created_at)]
    replies: list[Reply] = []
    reports: list[Report] = []
    for _ in range(MAX_EVENTS_PER_MESSAGE):
        if not events:
            break
        turn = step(state, events.pop(0), context)
        state = turn.state
        replies.extend(turn.replies)
        for action in turn.actions:
            if isinstance(action, Geocode):
                events.append(geocoding.lookup(action.query, settings))
            elif isinstance(action, LookupStatus):
                events.append(lookup_status(client, action.number))
            elif isinstance(action, FileReport):
                reports.append(_new_report(conversation, action))
    conversation.state = state.to_dict()
    conversation.updated_at = utcnow()
    session.add_all(reports)
    outgoing = [queue_reply(session, conversation, reply) for reply in replies]
    session.flush()
    return [("bot.jobs.deliver", m.id) for m in outgoing] + [
        ("bot.jobs.submit", r.id) for r in reports
    ]


def _new_report(conversation: Conversation, action: FileReport) -> Report:
    return Report(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        service_code=action.service_code,
        service_name=action.service_name,
        description=action.description,
        address=action.address,
        lat=action.lat,
        lon=action.lon,
    )


def lookup_status(client: Open311Client, number: str) -> StatusFound:
    """Ask the city about request `number` for a resident's STATUS command."""
    try:
        found = client.request(number)
    except Open311Error as exc:
        if exc.status_code == 404:
            return StatusFound(number)
        return StatusFound(number, failed=True)
    if not found:
        return StatusFound(number)
    return StatusFound(
        number,
        status=str(found.get("status") or "open"),
        notes=str(found.get("status_notes") or ""),
        service_name=str(found.get("service_name") or ""),
    )


def queue_reply(session: Session, conversation: Conversation, reply: Reply) -> Message:
    """Store a reply as a pending outbound message (the caller queues its delivery)."""
    contact = session.get(Contact, conversation.contact_id)
    message = Message(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        channel=contact.channel,
        direction="out",
        text=plaintext.render(reply),
        payload={"reply": {"text": reply.text, "options": list(reply.options),
                           "expects": reply.expects}},
    )
    session.add(message)
    return message


def add_notice(session: Session, report: Report, text: str) -> Message:
    """Store a notice about `report` for its resident, in the caller's transaction."""
    conversation = session.get(Conversation, report.conversation_id)
    message = queue_reply(session, conversation, Reply(text))
    session.flush()
    return message


# --- delivery -------------------------------------------------------------------------


def deliver(message_id: int) -> int:
    """Send the contact's pending messages up to `message_id`, oldest first; return how many."""
    settings = get_settings()
    with session_scope() as session:
        target = session.get(Message, message_id)
        if target is None or target.direction != "out":
            return 0
        contact_id = target.contact_id
    sent = 0
    with _locked(f"contact:{contact_id}"):
        while True:
            with session_scope() as session:
                message = session.exec(
                    select(Message)
                    .where(
                        Message.contact_id == contact_id,
                        Message.direction == "out",
                        Message.status == "pending",
                        Message.id <= message_id,
                    )
                    .order_by(Message.id)
                ).first()
                if message is None:
                    return sent
                contact = session.get(Contact, contact_id)
                if contact.opted_out:
                    message.status = "suppressed"
                    continue
                message.status = "sending"
                message.attempts += 1
                message.updated_at = utcnow()
                out = Outgoing(message.id, contact.address, message.text, message.payload)
                attempts = message.attempts
            try:
                external_id = channel_for(contact.channel).send(out, settings)
            except SendError as exc:
                if _send_failed(out.message_id, exc, attempts):
                    # Keep later messages behind this one so the resident reads them in order.
                    queue.enqueue("bot.jobs.deliver", message_id, delay=backoff(attempts, base=5))
                    return sent
                continue
            with session_scope() as session:
                message = session.get(Message, out.message_id)
                message.status = "sent"
                message.external_id = external_id
                message.updated_at = utcnow()
            sent += 1


def _send_failed(message_id: int, exc: SendError, attempts: int) -> bool:
    """Record a failed send; True when it will be retried."""
    log.warning("send of message %s failed: %s", message_id, exc)
    with session_scope() as session:
        message = session.get(Message, message_id)
        message.error_code = exc.code
        message.updated_at = utcnow()
        if exc.opted_out:
            session.get(Contact, message.contact_id).opted_out = True
        if exc.retryable and attempts < MAX_SEND_ATTEMPTS:
            message.status = "pending"
            return True
        message.status = "failed"
        return False


def record_delivery(channel: str, external_id: str, status: str, error_code: str | None) -> bool:
    """Store a provider's delivery status for a message we sent; False if it is unknown."""
    with session_scope() as session:
        message = session.exec(
            select(Message).where(
                Message.channel == channel,
                Message.external_id == external_id,
                Message.direction == "out",
            )
        ).first()
        if message is None:
            return False
        message.status = status
        message.error_code = error_code
        message.updated_at = utcnow()
        if error_code in OPTED_OUT_CODES:
            # Sends through a Messaging Service can be accepted and only fail here.
            session.get(Contact, message.contact_id).opted_out = True
        return True


# --- submission -----------------------------------------------------------------------


def submit(report_id: int) -> str:
    """File a pending report with the city; returns the report's new state."""
    settings = get_settings()
    report = _claimed(report_id, "pending", "submitting")
    if isinstance(report, str):
        return report
    fields = request_fields(report)
    client = open311_client(settings)
    try:
        answer = client.create_request(fields)
    except Open311Error as exc:
        return _submit_failed(report_id, exc)
    finally:
        client.close()
    number = answer.get("service_request_id")
    token = answer.get("token")
    with session_scope() as session:
        report = session.get(Report, report_id)
        report.updated_at = utcnow()
        if number:
            _mark_submitted(report, str(number))
            notice = add_notice(session, report, notices.report_filed(str(number),
                                                                      report.service_name))
        else:
            report.state = "awaiting_number"
            report.token = str(token)
    if number:
        queue.enqueue("bot.jobs.deliver", notice.id)
        return "submitted"
    queue.enqueue("bot.jobs.resolve_token", report_id, delay=5)
    return "awaiting_number"


def claim(session: Session, report_id: int, from_state: str, to_state: str) -> bool:
    """Move a report between states only if it is still in `from_state` (one winner per race)."""
    result = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.state == from_state)
        .values(state=to_state, attempts=Report.attempts + 1, updated_at=utcnow())
    )
    return result.rowcount == 1


def _claimed(report_id: int, from_state: str, to_state: str) -> Report | str:
    """The report, claimed for this job; else the state that made the claim fail."""
    with session_scope() as session:
        claimed = claim(session, report_id, from_state, to_state)
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        return report if claimed else report.state


def request_fields(report: Report) -> dict:
    """The POST requests fields for a report."""
    fields = {"service_code": report.service_code, "description": report.description}
    if report.lat is not None and report.lon is not None:
        fields["lat"] = f"{report.lat:.6f}"
        fields["long"] = f"{report.lon:.6f}"
    if report.address:
        fields["address_string"] = report.address
    return fields


def _mark_submitted(report: Report, number: str) -> None:
    report.state = "submitted"
    report.service_request_id = number
    report.status = "open"
    report.submitted_at = utcnow()
    report.status_changed_at = report.submitted_at


def _submit_failed(report_id: int, exc: Open311Error) -> str:
    log.warning("submission of report %s failed: %s", report_id, exc)
    notice = None
    with session_scope() as session:
        report = session.get(Report, report_id)
        report.last_error = str(exc)[:2000]
        report.updated_at = utcnow()
        attempts = report.attempts
        if not exc.retryable:
            report.state = "failed"
            notice = add_notice(session, report, notices.report_rejected(_reason(exc)))
        else:
            report.state = "pending"
            if not report.delay_notice_sent:
                report.delay_notice_sent = True
                notice = add_notice(session, report, notices.report_delayed())
    if notice is not None:
        queue.enqueue("bot.jobs.deliver", notice.id)
    if not exc.retryable:
        return "failed"
    queue.enqueue("bot.jobs.submit", report_id, delay=backoff(attempts))
    return "pending"


def _reason(exc: Open311Error) -> str:
    for error in exc.errors or ():
        if error.get("description"):
            return str(error["description"])
    return "the city's system refused it"


def resolve_token(report_id: int) -> str:
    """Turn a report's token into the city's request number, polling with backoff."""
    settings = get_settings()
    report = _claimed(report_id, "awaiting_number", "awaiting_number")
    if isinstance(report, str):
        return report
    token, attempts = report.token, report.attempts
    client = open311_client(settings)
    try:
        answer = client.token(token)
    except Open311Error as exc:
        answer = None
        if not exc.retryable and exc.status_code != 404:
            log.warning("token %s of report %s failed: %s", token, report_id, exc)
    finally:
        client.close()
    number = (answer or {}).get("service_request_id")
    if not number:
        queue.enqueue("bot.jobs.resolve_token", report_id, delay=backoff(attempts, base=5))
        return "awaiting_number"
    with session_scope() as session:
        if not claim(session, report_id, "awaiting_number", "submitted"):
            return "submitted"
        report = session.get(Report, report_id)
        _mark_submitted(report, str(number))
        notice = add_notice(session, report, notices.report_filed(str(number),
                                                                  report.service_name))
    queue.enqueue("bot.jobs.deliver", notice.id)
    return "submitted"


# --- status tracking ------------------------------------------------------------------


def track() -> int:
    """Ask the city about every open report, in batches; text residents once per change."""
    settings = get_settings()
    with session_scope() as session:
        rows = session.exec(
            select(Report.id, Report.service_request_id)
            .where(Report.state == "submitted", func.lower(Report.status) != "closed")
            .order_by(Report.id)
        ).all()
    ids = {str(number): report_id for report_id, number in rows}
    numbers = list(ids)
    changed = 0
    client = open311_client(settings)
    try:
        for start in range(0, len(numbers), settings.open311_batch_size):
            batch = numbers[start : start + settings.open311_batch_size]
            try:
                found = client.requests(batch)
            except Open311Error as exc:
                log.warning("status check failed: %s", exc)
                break
            for entry in found:
                report_id = ids.get(str(entry.get("service_request_id")))
                if report_id is not None and receive_status(report_id, entry):
                    changed += 1
    finally:
        client.close()
    return changed


def receive_status(report_id: int, entry: dict) -> bool:
    """Store the city's view of a report; on a real change, text the resident. True if changed."""
    status = str(entry.get("status") or "").strip().lower() or None
    notes = str(entry.get("status_notes") or "").strip() or None
    with session_scope() as session:
        report = session.get(Report, report_id)
        if status is None or (report.status, report.status_notes) == (status, notes):
            return False
        report.status = status
        report.status_notes = notes
        report.status_changed_at = utcnow()
        report.updated_at = report.status_changed_at
        text = notices.status_changed(
            report.service_request_id, status, notes or "", report.service_name
        )
        notice = add_notice(session, report, text)
    queue.enqueue("bot.jobs.deliver", notice.id)
    return True


def reconcile(grace: float = 120) -> int:
    """Queue again the work Redis may have lost: unread messages and reports past their retry."""
    now = utcnow()
    requeued = 0
    with session_scope() as session:
        conversations = session.exec(
            select(Message.conversation_id)
            .where(Message.direction == "in", Message.status == "pending")
            .distinct()
        ).all()
        reports = session.exec(
            select(Report).where(Report.state.in_(("pending", "awaiting_number")))
        ).all()
        due = [
            (r.id, r.state)
            for r in reports
            if (now - r.updated_at).total_seconds() > backoff(r.attempts) + grace
        ]
    for conversation_id in conversations:
        queue.enqueue("bot.jobs.run_turn", conversation_id)
        requeued += 1
    for report_id, state in due:
        job = "bot.jobs.submit" if state == "pending" else "bot.jobs.resolve_token"
        queue.enqueue(job, report_id)
        requeued += 1
    return requeued
