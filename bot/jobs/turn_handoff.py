"""Human handoff in the worker: a HandOff the engine asked for flags the conversation waiting
for staff; a conversation a person has (or is about to have) gets no word from the bot; and a
wait in staff hours that nobody answered ends, the resident told and the bot back.

While the bot is quiet the resident's messages are stored and marked processed (staff read
them in the console) and the engine is not stepped, so its state (the report being made) is
kept as it was: on hand back the resident finds their report where they left it, its question
asked again (`conversations.engine.handed_back`), or starts over with RESTART. STOP and DELETE
MY DATA are read before this, as always.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot import metrics, queue
from bot.catalog import load_services
from bot.db import session_scope
from bot.handoff_hours import parse_hours
from bot.jobs.common import city_client, locked, store_reply
from bot.jobs.turn_state import engine_context, for_channel, keep_state, resident_state
from bot.models import Contact, Conversation
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import Context
from conversations.engine import no_answer
from conversations.types import HandOff

log = logging.getLogger(__name__)

WAITING, AGENT = "waiting", "agent"  # Conversation.handoff
BATCH = 500


def staff_in_at(when: datetime | None, settings: Settings) -> bool:
    """Whether staff were (or are) in at `when` by HANDOFF_HOURS."""
    if when is None:
        return False
    return parse_hours(settings.handoff_hours).open_at(when, settings.city_timezone)


def quiet(conversation: Conversation, settings: Settings, now: datetime) -> bool:
    """Whether the bot says nothing to this resident now: a person has the conversation, or
    it was flagged in staff hours and is still within HANDOFF_WAIT_MINUTES of it (a flag
    raised outside them is for staff to see later: the bot carries on meanwhile)."""
    if conversation.handoff == AGENT:
        return True
    flagged = conversation.handoff_at
    if conversation.handoff != WAITING or flagged is None or not staff_in_at(flagged, settings):
        return False
    wait = settings.handoff_wait_minutes
    return wait == 0 or now - flagged < timedelta(minutes=wait)


def flag(session: Session, conversation: Conversation, actions: list) -> None:
    """Mark the conversation waiting for staff for the engine's HandOff (the last one's
    reason), in the turn's transaction; never one a person already has."""
    asked = [a for a in actions if isinstance(a, HandOff)]
    if not asked:
        return
    reason = asked[-1].reason
    session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            or_(col(Conversation.handoff).is_(None), Conversation.handoff == WAITING),
        )
        .values(handoff=WAITING, handoff_reason=reason, handoff_at=utcnow(), handoff_by=None)
        .execution_options(synchronize_session=False)
    )
    metrics.handoffs.labels(reason=reason).inc()
    log.info("conversation %s: handed off (%s)", conversation.id, reason)


def clear(conversation: Conversation) -> None:
    """Forget the handoff (the resident opted out or was forgotten: nobody may write to them)."""
    conversation.handoff = conversation.handoff_reason = conversation.handoff_by = None
    conversation.handoff_at = None


def context_for(settings: Settings, channel: str, catalogue: bool = True) -> Context:
    """The engine's context for a resident on `channel`; with the `catalogue` (read, or
    fetched, before any transaction is open), to ask their pending question again."""
    services: tuple = ()
    if catalogue:
        services = load_services(
            lambda: city_client(settings), settings.open311_endpoint, settings.catalog_ttl
        )
    return for_channel(engine_context(services, settings), channel)


def channel_of(conversation_id: int) -> str | None:
    """The channel of the conversation's resident (None: no such conversation)."""
    with session_scope() as session:
        return session.exec(
            select(Contact.channel)
            .join(Conversation, col(Conversation.contact_id) == col(Contact.id))
            .where(Conversation.id == conversation_id)
        ).first()


def waits_due(settings: Settings) -> list[int]:
    """Conversations flagged in staff hours that nobody took within HANDOFF_WAIT_MINUTES."""
    if settings.handoff_wait_minutes <= 0:
        return []
    cutoff = utcnow() - timedelta(minutes=settings.handoff_wait_minutes)
    with session_scope() as session:
        rows = session.exec(
            select(Conversation.id, Conversation.handoff_at)
            .where(Conversation.handoff == WAITING, col(Conversation.handoff_at) < cutoff)
            .order_by(col(Conversation.handoff_at))
            .limit(BATCH)
        ).all()
    return [found for found, at in rows if found is not None and staff_in_at(at, settings)]


def end_wait(conversation_id: int) -> bool:
    """Give a resident nobody answered back to the bot, telling them (if still due); True
    when it was ended."""
    settings = get_settings()
    channel = channel_of(conversation_id)
    if channel is None:
        return False
    context = context_for(settings, channel)
    with locked(f"conversation:{conversation_id}"), session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.handoff != WAITING:
            return False
        flagged = conversation.handoff_at
        if not staff_in_at(flagged, settings) or quiet(conversation, settings, utcnow()):
            return False
        done = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.handoff == WAITING)
            .where(Conversation.handoff_at == flagged)
            .values(handoff=None, handoff_reason=None, handoff_at=None, handoff_by=None)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            return False
        contact = session.get(Contact, conversation.contact_id)
        ids: list[int] = []
        if not contact.opted_out and contact.address_key is not None:
            turn = no_answer(resident_state(conversation, contact), context)
            keep_state(conversation, contact, turn.state)
            conversation.updated_at = utcnow()
            outgoing = [store_reply(session, conversation, reply) for reply in turn.replies]
            session.flush()
            ids = [message.id for message in outgoing]
    for message_id in ids:
        queue.enqueue("bot.jobs.deliver", message_id)
    log.info("conversation %s: nobody took it in time; back to the bot", conversation_id)
    return True
