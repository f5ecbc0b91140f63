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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot import metrics, queue
from bot.catalog import load_services
from bot.db import session_scope
from bot.handoff_hours import OPEN as HANDOFF_OPEN
from bot.jobs.common import city_client, locked
from bot.jobs.turn_state import engine_context, for_channel, resident_state, store_turn
from bot.models import Contact, Conversation, Direction, Message
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import Context, Reply
from conversations.engine import emergency_reply, handed_back, no_answer, takes_bot_back
from conversations.types import HandOff

log = logging.getLogger(__name__)

WAITING, AGENT = "waiting", "agent"  # Conversation.handoff
_CLEARED = {
    "handoff": None,
    "handoff_reason": None,
    "handoff_at": None,
    "handoff_by": None,
    "handoff_staff_in": None,
}
BATCH = 500


def quiet(conversation: Conversation, settings: Settings, now: datetime) -> bool:
    """Whether the bot says nothing to this resident now: a person has the conversation, or
    it was flagged while staff were in and is still within HANDOFF_WAIT_MINUTES of it (a flag
    raised outside staff hours is for staff to see later: the bot carries on meanwhile)."""
    if conversation.handoff == AGENT:
        return True
    flagged = conversation.handoff_at
    if conversation.handoff != WAITING or flagged is None or not conversation.handoff_staff_in:
        return False
    wait = settings.handoff_wait_minutes
    return wait == 0 or now - flagged < timedelta(minutes=wait)


def flag(session: Session, conversation: Conversation, actions: list, context: Context) -> None:
    """Mark the conversation waiting for staff for the engine's HandOff (the last one's
    reason), in the turn's transaction; never one a person already has. Whether staff were in
    is the engine's own reading (`context.handoff`), kept on the row: a later change of
    HANDOFF_HOURS does not judge it again."""
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
        .values(
            handoff=WAITING,
            handoff_reason=reason,
            handoff_at=utcnow(),
            handoff_by=None,
            handoff_staff_in=context.handoff == HANDOFF_OPEN,
        )
        .execution_options(synchronize_session=False)
    )
    metrics.handoffs.labels(reason=reason).inc()
    log.info("conversation %s: handed off (%s)", conversation.id, reason)


@dataclass
class Held:
    """A message the bot does not answer (a person has the conversation): what it says all
    the same (the 911 prompt to an emergency)."""

    replies: list[Reply] = field(default_factory=list)


def while_quiet(
    session: Session,
    conversation: Conversation,
    contact: Contact,
    message: Message,
    context: Context,
) -> Held | None:
    """None when the bot answers the message as always; a Held when it stays quiet. A
    resident waiting for a person who says RESTART or START takes the bot back (the wait ends,
    by a conditional UPDATE: staff taking it meanwhile win)."""
    if not quiet(conversation, get_settings(), utcnow()):
        return None
    state = resident_state(conversation, contact)
    if conversation.handoff == WAITING and takes_bot_back(state, message.text, context):
        ended = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, Conversation.handoff == WAITING)
            .values(**_CLEARED)
            .execution_options(synchronize_session=False)
        )
        if ended.rowcount == 1:
            clear(conversation)
            log.info("conversation %s: the resident took the bot back", conversation.id)
            return None
    urgent = emergency_reply(state, message.text, context)
    return Held([urgent] if urgent else [])


def clear(conversation: Conversation) -> None:
    """Forget the handoff (the resident opted out or was forgotten: nobody may write to them)."""
    conversation.handoff = conversation.handoff_reason = conversation.handoff_by = None
    conversation.handoff_at = conversation.handoff_staff_in = None


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
    """Conversations flagged while staff were in that nobody took within HANDOFF_WAIT_MINUTES
    (chosen in SQL: flags raised outside staff hours, however many, are never picked)."""
    if settings.handoff_wait_minutes <= 0:
        return []
    cutoff = utcnow() - timedelta(minutes=settings.handoff_wait_minutes)
    with session_scope() as session:
        rows = session.exec(
            select(Conversation.id)
            .where(
                Conversation.handoff == WAITING,
                col(Conversation.handoff_staff_in).is_(True),
                col(Conversation.handoff_at) < cutoff,
            )
            .order_by(col(Conversation.handoff_at))
            .limit(BATCH)
        ).all()
    return [found for found in rows if found is not None]


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
        if not conversation.handoff_staff_in or quiet(conversation, settings, utcnow()):
            return False
        done = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.handoff == WAITING)
            .where(Conversation.handoff_at == flagged)
            .values(**_CLEARED)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            return False
        contact = session.get(Contact, conversation.contact_id)
        ids: list[int] = []
        if not contact.opted_out and contact.address_key is not None:
            turn = no_answer(resident_state(conversation, contact), context)
            ids = [message.id for message in store_turn(session, conversation, contact, turn)]
    for message_id in ids:
        queue.enqueue("bot.jobs.deliver", message_id)
    log.info("conversation %s: nobody took it in time; back to the bot", conversation_id)
    return True


def agents_gone(settings: Settings) -> list[int]:
    """Conversations a person took over and has not written in for HANDOFF_AGENT_IDLE_HOURS
    (while a person has it every message to the resident is theirs, or the take-over's)."""
    if settings.handoff_agent_idle_hours <= 0:
        return []
    cutoff = utcnow() - timedelta(hours=settings.handoff_agent_idle_hours)
    with session_scope() as session:
        rows = session.exec(
            select(Conversation.id)
            .where(
                Conversation.handoff == AGENT,
                col(Conversation.handoff_at) < cutoff,
                ~_wrote_since(cutoff),
            )
            .order_by(col(Conversation.handoff_at))
            .limit(BATCH)
        ).all()
    return [found for found in rows if found is not None]


def _wrote_since(cutoff: datetime):
    """Whether a message went to the conversation's resident since `cutoff` (SQL)."""
    return (
        select(Message.id)
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == Direction.OUT,
            col(Message.created_at) >= cutoff,
        )
        .exists()
    )


def end_agent(conversation_id: int) -> bool:
    """Give a conversation its agent left (no word for HANDOFF_AGENT_IDLE_HOURS) back to the
    bot, telling the resident (if still due); True when it was ended."""
    settings = get_settings()
    channel = channel_of(conversation_id)
    if channel is None or settings.handoff_agent_idle_hours <= 0:
        return False
    context = context_for(settings, channel)
    cutoff = utcnow() - timedelta(hours=settings.handoff_agent_idle_hours)
    with locked(f"conversation:{conversation_id}"), session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.handoff != AGENT:
            return False
        done = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.handoff == AGENT,
                Conversation.handoff_at == conversation.handoff_at,
                col(Conversation.handoff_at) < cutoff,
                ~_wrote_since(cutoff),
            )
            .values(**_CLEARED)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            return False
        session.refresh(conversation)
        contact = session.get(Contact, conversation.contact_id)
        ids: list[int] = []
        if not contact.opted_out and contact.address_key is not None:
            turn = handed_back(resident_state(conversation, contact), context)
            outgoing = store_turn(session, conversation, contact, turn, always=True)
            ids = [message.id for message in outgoing]
    for message_id in ids:
        queue.enqueue("bot.jobs.deliver", message_id)
    log.info("conversation %s: no word from its agent; back to the bot", conversation_id)
    return True
