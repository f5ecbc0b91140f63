"""run_turn: a conversation's unread messages, one at a time, through the engine."""

from __future__ import annotations

import logging
from dataclasses import replace

from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, select

from bot import geocoding, queue
from bot.catalog import load_services
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.jobs.common import expected_at, locked, open311_client, queue_reply
from bot.languages import load_languages
from bot.models import Contact, Conversation, Message, Report
from bot.open311.client import Open311Client, Open311Error
from bot.payloads import InboundPayload, OutboundPayload
from bot.phrases import load_synonyms
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from bot.understanding import similarity_for
from conversations import (
    Context,
    FileReport,
    Geocode,
    LookupStatus,
    Place,
    Reply,
    State,
    StatusFound,
    step,
    texts,
)
from conversations import Message as MessageEvent
from conversations.engine import stale_tap
from conversations.types import ListReports, ReportLine, ReportsListed

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 10
MY_REPORTS_SHOWN = 3


def run_turn(conversation_id: int) -> int:
    """Handle the conversation's unprocessed messages in arrival order; return how many."""
    settings = get_settings()
    handled = 0
    with locked(f"conversation:{conversation_id}"):
        client = open311_client(settings)
        try:
            while (jobs := _handle_next(conversation_id, client, settings)) is not None:
                for job, job_id in jobs:
                    queue.enqueue(job, job_id)
                handled += 1
        finally:
            client.close()
    return handled


class _HandledElsewhere(Exception):
    """Another worker's turn for this message committed first (its lock had lapsed)."""


def _handle_next(conversation_id: int, client: Open311Client, settings: Settings):
    """Handle the oldest unprocessed message; the jobs it queues, or None when none is left.

    The turn is one transaction that holds the conversation's row, so turns of one resident
    never interleave, and it commits only if it is the one to mark the message processed: a
    worker whose Redis lock lapsed cannot answer a message twice. A message that fails is set
    aside, so the messages behind it still flow.
    """
    context = _context(client, settings)
    message_id = None
    try:
        with session_scope() as session, session.no_autoflush:
            conversation = session.exec(
                select(Conversation).where(Conversation.id == conversation_id).with_for_update()
            ).first()
            message = _oldest_pending(session, conversation_id) if conversation else None
            if message is None:
                return None
            message_id = message.id
            jobs = _handle(session, conversation, message, client, context, settings)
            if not _mark(session, message_id, "processed"):
                raise _HandledElsewhere
            return jobs
    except _HandledElsewhere:
        log.warning("message %s was answered by another worker; this turn is dropped", message_id)
        return []
    except (OperationalError, InterfaceError, RedisError):
        # The database or Redis failed, not the message: it stays pending for the next job
        # (the reconciler queues one), rather than being set aside.
        raise
    except Exception as exc:
        if message_id is None:
            raise
        # Only the id is logged: the exception may carry the resident's words.
        log.exception("message %s could not be handled; set aside as failed", message_id)
        with session_scope() as session:
            _mark(session, message_id, "failed", error=type(exc).__name__)
        return []


def _oldest_pending(session: Session, conversation_id: int) -> Message | None:
    return session.exec(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "in",
            Message.status == "pending",
        )
        .order_by(Message.id)
    ).first()


def _mark(session: Session, message_id: int, status: str, error: str | None = None) -> bool:
    """Move an inbound message out of pending; False if it already was."""
    values = {"status": status, "updated_at": utcnow()}
    if error:
        values["error_code"] = error[:32]
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "pending")
        .values(**values)
    )
    return result.rowcount == 1


def _context(client: Open311Client, settings: Settings) -> Context:
    # Its own short transaction: a slow city must not hold a write lock on the database.
    with session_scope() as session:
        services = load_services(session, client, settings.open311_endpoint, settings.catalog_ttl)
    return engine_context(services, settings)


def engine_context(services: tuple, settings: Settings) -> Context:
    """What the engine may know: the catalogue, the city, its languages and phrases."""
    return Context(
        services=services,
        city=settings.city_name,
        timezone=settings.city_timezone,
        languages=load_languages(settings.locale_dir or None),
        emergency_number=settings.emergency_number,
        synonyms=load_synonyms(settings.synonyms_file),
        ask_optional=settings.optional_questions(),
        similar=similarity_for(services, settings),
    )


def resident_state(conversation: Conversation, contact: Contact) -> State:
    """The stored state, with what the contact keeps across reports (language, consent)."""
    state = State.from_dict(conversation.state)
    if not state.language and contact.language and not state.language_chosen:
        state.language = contact.language
    if state.consent is None:
        state.consent = contact.contact_consent
    return state


def keep_state(conversation: Conversation, contact: Contact, state: State) -> None:
    """Store the state, and on the contact what outlives it (language for later notices)."""
    conversation.state = state.to_dict()
    contact.language = state.language or None
    contact.contact_consent = state.consent


def _handle(
    session: Session,
    conversation: Conversation,
    message: Message,
    client: Open311Client,
    context: Context,
    settings: Settings,
) -> list[tuple[str, int]]:
    contact = session.get(Contact, conversation.contact_id)
    switched = _switches_messages(contact, conversation, message.text)
    if switched or contact.opted_out:
        replies, reports = [], []
        if switched == "out" and not channel_for(contact.channel).abilities.carrier_keywords:
            # Channels without carrier keywords confirm the opt-out themselves, once.
            say = context.language(contact.language or "")
            replies = [Reply(say(texts.OPTED_OUT))]
    elif _stale_tap(session, contact.id, InboundPayload.from_dict(message.payload).reply_to):
        replies = list(stale_tap(resident_state(conversation, contact), context).replies)
        reports = []
    else:
        state, replies, actions = _run_engine(
            session, conversation, contact, message, context, client, settings
        )
        keep_state(conversation, contact, state)
        reports = [_new_report(conversation, a) for a in actions if isinstance(a, FileReport)]
    conversation.updated_at = utcnow()
    session.add_all(reports)
    outgoing = [queue_reply(session, conversation, reply) for reply in replies]
    if switched == "out":
        for sent in outgoing:
            notice = replace(OutboundPayload.from_dict(sent.payload), opt_out_notice=True)
            sent.payload = notice.to_dict()
    session.flush()
    return [("bot.jobs.deliver", m.id) for m in outgoing] + [
        ("bot.jobs.submit", r.id) for r in reports
    ]


def _stale_tap(session: Session, contact_id: int, reply_to: str | None) -> bool:
    """True when a button tap answers an earlier question than the one last asked (also one
    asked but not delivered yet: a double tap on YES at an address read-back must not answer
    the summary that follows it, which files the report)."""
    if not reply_to:
        return False
    recent = session.exec(
        select(Message)
        .where(Message.contact_id == contact_id, Message.direction == "out")
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    for sent in recent:
        reply = OutboundPayload.from_dict(sent.payload).reply
        if reply is not None and reply.is_question:
            return sent.external_id != reply_to
    return False


def _switches_messages(contact: Contact, conversation: Conversation, text: str) -> str | None:
    """Apply an opt-out or opt-in keyword: "out", "in" (nothing more to answer), or None."""
    abilities = channel_for(contact.channel).abilities
    word = " ".join(text.split()).upper().strip("./! ")  # Telegram's /start is START
    if word in abilities.opt_out_words:
        contact.opted_out = True
        conversation.state = State().to_dict()  # a half-made report is dropped with the texts
        return "out"
    if contact.opted_out and word in abilities.opt_in_words:
        contact.opted_out = False
        # A carrier (Twilio) confirms the opt-in itself; elsewhere the engine greets them.
        return "in" if abilities.carrier_keywords else None
    return None


def _run_engine(session, conversation, contact, message, context, client, settings):
    """Step the engine through the message and the answers to its inline actions."""
    state = resident_state(conversation, contact)
    events = [_message_event(message, settings)]
    replies: list[Reply] = []
    actions = []
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
                events.append(lookup_status(client, action.number, session, contact.id))
            elif isinstance(action, ListReports):
                events.append(list_reports(session, contact.id))
            else:
                actions.append(action)
    return state, replies, actions


def _message_event(message: Message, settings: Settings) -> MessageEvent:
    """The stored message as the engine's event, a shared pin named by reverse geocoding."""
    payload = InboundPayload.from_dict(message.payload)
    place = None
    if payload.location:
        lat, lon = payload.location
        name = payload.place_name or geocoding.reverse(lat, lon, settings)
        place = Place(address=name, lat=lat, lon=lon)
    return MessageEvent(
        text=message.text, at=message.created_at, location=place, media=payload.media
    )


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
        attributes=dict(action.attributes),
        media=list(action.media),
        phone=action.phone or None,
        email=action.email or None,
        contact_ok=action.contact_ok,
    )


def list_reports(session: Session, contact_id: int) -> ReportsListed:
    """The resident's latest reports, newest first, for MY REPORTS (the engine shows the day
    each was filed on the city's calendar)."""
    reports = session.exec(
        select(Report)
        .where(Report.contact_id == contact_id)
        .order_by(Report.id.desc())
        .limit(MY_REPORTS_SHOWN)
    ).all()
    return ReportsListed(
        tuple(
            ReportLine(
                number=report.service_request_id or "",
                service_name=report.service_name,
                status=report.status or "",
                filed_at=report.created_at,
            )
            for report in reports
        )
    )


def lookup_status(
    client: Open311Client,
    number: str,
    session: Session | None = None,
    contact_id: int | None = None,
) -> StatusFound:
    """Ask the city about request `number` for a resident's STATUS command; one the city says
    it does not have is looked for among the contact's filed reports (a city may hide new
    requests until its staff moderate them)."""
    try:
        found = client.request(number)
    except Open311Error:
        return StatusFound(number, failed=True)
    if not found:
        own = session is not None and filed_by(session, contact_id, number)
        return StatusFound(number, own=own)
    return StatusFound(
        number,
        status=str(found.get("status") or "open"),
        notes=str(found.get("status_notes") or ""),
        service_name=str(found.get("service_name") or ""),
        expected=expected_at(found.get("expected_datetime"), get_settings()),
    )


def filed_by(session: Session, contact_id: int | None, number: str) -> bool:
    """Whether the contact has a report the city numbered `number`."""
    return (
        session.exec(
            select(Report.id).where(
                Report.contact_id == contact_id, Report.service_request_id == number
            )
        ).first()
        is not None
    )
