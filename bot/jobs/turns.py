"""run_turn: a conversation's unread messages, one at a time, through the engine."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, select

from bot import geocoding, queue
from bot.catalog import load_services
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.jobs.common import locked, open311_client, queue_reply
from bot.jobs.turn_actions import list_reports, lookup_status, new_report
from bot.jobs.turn_state import (
    _message_event,
    _stale_tap,
    _switches_messages,
    engine_context,
    keep_state,
    resident_state,
)
from bot.models import Contact, Conversation, Message
from bot.open311.client import Open311Client
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import Context, FileReport, Geocode, LookupStatus, Reply, step, texts
from conversations.engine import stale_tap
from conversations.types import ListReports

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 10


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
    # No transaction is open while the city is asked for a catalogue the cache lacks.
    services = load_services(client, settings.open311_endpoint, settings.catalog_ttl)
    return engine_context(services, settings)


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
        if switched == "out" and not hasattr(channel_for(contact.channel), "OPT_OUT_WORDS"):
            # Channels without carrier keywords confirm the opt-out themselves, once.
            say = context.language(contact.language or "")
            replies = [Reply(say(texts.OPTED_OUT))]
    elif _stale_tap(session, contact.id, (message.payload or {}).get("reply_to")):
        replies = list(stale_tap(resident_state(conversation, contact), context).replies)
        reports = []
    else:
        state, replies, actions = _run_engine(
            session, conversation, contact, message, context, client, settings
        )
        keep_state(conversation, contact, state)
        reports = [new_report(conversation, a) for a in actions if isinstance(a, FileReport)]
    conversation.updated_at = utcnow()
    session.add_all(reports)
    outgoing = [queue_reply(session, conversation, reply) for reply in replies]
    if switched == "out":
        for sent in outgoing:
            sent.payload = {**sent.payload, "opt_out_notice": True}
    session.flush()
    return [("bot.jobs.deliver", m.id) for m in outgoing] + [
        ("bot.jobs.submit", r.id) for r in reports
    ]


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
