"""run_turn: a conversation's unread messages, one at a time, through the engine."""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from bot import geocoding, queue
from bot.catalog import load_services
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.jobs.common import locked, open311_client, queue_reply
from bot.models import Contact, Conversation, Message, Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
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
)
from conversations import Message as MessageEvent
from conversations.engine import stale_tap

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 10
# Words that switch every message off or on, on channels without carrier keywords of their own.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})


def run_turn(conversation_id: int) -> int:
    """Handle the conversation's unprocessed messages in arrival order; return how many."""
    settings = get_settings()
    handled = 0
    with locked(f"conversation:{conversation_id}"):
        client = open311_client(settings)
        try:
            while (message_id := _next_pending(conversation_id)) is not None:
                for job, job_id in _handle_safely(message_id, client, settings):
                    queue.enqueue(job, job_id)
                handled += 1
        finally:
            client.close()
    return handled


def _next_pending(conversation_id: int) -> int | None:
    with session_scope() as session:
        return session.exec(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.status == "pending",
            )
            .order_by(Message.id)
        ).first()


def _handle_safely(message_id: int, client: Open311Client, settings: Settings) -> list:
    """Handle one message; if that fails, set it aside so the messages behind it still flow."""
    try:
        context = _context(client, settings)
        with session_scope() as session, session.no_autoflush:
            return _handle(session, session.get(Message, message_id), client, context, settings)
    except Exception:
        # Only the id is logged: the exception may carry the resident's words.
        log.exception("message %s could not be handled; set aside as failed", message_id)
        with session_scope() as session:
            message = session.get(Message, message_id)
            message.status = "failed"
            message.updated_at = utcnow()
        return []


def _context(client: Open311Client, settings: Settings) -> Context:
    # Its own short transaction: a slow city must not hold a write lock on the database.
    with session_scope() as session:
        services = load_services(session, client, settings.open311_endpoint, settings.catalog_ttl)
    return Context(services=services, city=settings.city_name, timezone=settings.city_timezone)


def _handle(
    session: Session,
    message: Message,
    client: Open311Client,
    context: Context,
    settings: Settings,
) -> list[tuple[str, int]]:
    conversation = session.get(Conversation, message.conversation_id)
    contact = session.get(Contact, conversation.contact_id)
    if _switches_messages(contact, conversation, message.text) or contact.opted_out:
        replies, reports = [], []
    elif _stale_tap(session, contact.id, (message.payload or {}).get("reply_to")):
        replies = list(stale_tap(State.from_dict(conversation.state), context).replies)
        reports = []
    else:
        state, replies, actions = _run_engine(conversation, message, context, client, settings)
        conversation.state = state.to_dict()
        reports = [_new_report(conversation, a) for a in actions if isinstance(a, FileReport)]
    message.status = "processed"
    message.updated_at = conversation.updated_at = utcnow()
    session.add_all(reports)
    outgoing = [queue_reply(session, conversation, reply) for reply in replies]
    session.flush()
    return [("bot.jobs.deliver", m.id) for m in outgoing] + [
        ("bot.jobs.submit", r.id) for r in reports
    ]


QUESTION_KINDS = ("choice", "choices", "yes_no", "location")


def _stale_tap(session: Session, contact_id: int, reply_to: str | None) -> bool:
    """True when a button tap answers an earlier question than the one last asked."""
    if not reply_to:
        return False
    recent = session.exec(
        select(Message)
        .where(Message.contact_id == contact_id, Message.direction == "out",
               Message.external_id.is_not(None))
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    for sent in recent:
        if (sent.payload.get("reply") or {}).get("expects") in QUESTION_KINDS:
            return sent.external_id != reply_to
    return False


def _switches_messages(contact: Contact, conversation: Conversation, text: str) -> bool:
    """Apply an opt-out or opt-in keyword; True if there is nothing more to answer."""
    channel = channel_for(contact.channel)
    word = " ".join(text.split()).upper().strip("./! ")  # Telegram's /start is START
    if word in getattr(channel, "OPT_OUT_WORDS", OPT_OUT_WORDS):
        contact.opted_out = True
        conversation.state = State().to_dict()  # a half-made report is dropped with the texts
        return True
    if contact.opted_out and word in getattr(channel, "OPT_IN_WORDS", OPT_IN_WORDS):
        contact.opted_out = False
        # A carrier (Twilio) confirms the opt-in itself; elsewhere the engine greets them.
        return hasattr(channel, "OPT_IN_WORDS")
    return False


def _run_engine(conversation, message, context, client, settings):
    """Step the engine through the message and the answers to its inline actions."""
    state = State.from_dict(conversation.state)
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
                events.append(lookup_status(client, action.number))
            else:
                actions.append(action)
    return state, replies, actions


def _message_event(message: Message, settings: Settings) -> MessageEvent:
    """The stored message as the engine's event, a shared pin named by reverse geocoding."""
    payload = message.payload or {}
    place = None
    if payload.get("location"):
        lat, lon = payload["location"]
        name = payload.get("place_name") or geocoding.reverse(lat, lon, settings)
        place = Place(address=name, lat=lat, lon=lon)
    return MessageEvent(
        text=message.text,
        at=message.created_at,
        location=place,
        media=tuple(payload.get("media") or ()),
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
    )


def lookup_status(client: Open311Client, number: str) -> StatusFound:
    """Ask the city about request `number` for a resident's STATUS command."""
    try:
        found = client.request(number)
    except Open311Error:
        return StatusFound(number, failed=True)
    if not found:
        return StatusFound(number)
    return StatusFound(
        number,
        status=str(found.get("status") or "open"),
        notes=str(found.get("status_notes") or ""),
        service_name=str(found.get("service_name") or ""),
    )
