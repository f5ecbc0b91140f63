"""close_idle and time_out: a conversation left quiet ends politely, its report kept for later."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_
from sqlmodel import col, select

from bot import queue
from bot.db import session_scope
from bot.jobs import turn_handoff
from bot.jobs.common import locked
from bot.jobs.turn_state import engine_context, resident_state, store_turn
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import step
from conversations.types import TimedOut

BATCH = 500


def close_idle() -> int:
    """Queue time_out for conversations mid-report and quiet past the idle time; how many."""
    settings = get_settings()
    for conversation_id in turn_handoff.waits_due(settings):  # nobody took them in time
        queue.enqueue("bot.jobs.end_wait", conversation_id)
    for conversation_id in turn_handoff.agents_gone(settings):  # the agent left it
        queue.enqueue("bot.jobs.end_agent", conversation_id)
    if settings.conversation_idle_minutes <= 0:
        return 0
    cutoff = utcnow() - timedelta(minutes=settings.conversation_idle_minutes)
    with session_scope() as session:
        due = session.exec(
            select(Conversation.id)
            .where(
                Conversation.updated_at < cutoff,
                Conversation.state["name"].as_string() != "idle",
                # Not one a person has, or waits for in staff hours (end_wait ends that).
                or_(
                    col(Conversation.handoff).is_(None),
                    and_(
                        Conversation.handoff == turn_handoff.WAITING,
                        or_(
                            col(Conversation.handoff_staff_in).is_(None),
                            col(Conversation.handoff_staff_in).is_(False),
                        ),
                    ),
                ),
            )
            .order_by(Conversation.updated_at)
            .limit(BATCH)
        ).all()
    for conversation_id in due:
        queue.enqueue("bot.jobs.time_out", conversation_id)
    return len(due)


def time_out(conversation_id: int) -> bool:
    """End one quiet conversation (if it is still quiet); True when it was ended."""
    settings = get_settings()
    cutoff = utcnow() - timedelta(minutes=settings.conversation_idle_minutes)
    with locked(f"conversation:{conversation_id}"), session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        contact = session.get(Contact, conversation.contact_id)
        waiting = session.exec(
            select(Message.id).where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.IN,
                Message.status == MessageStatus.PENDING,
            )
        ).first()
        if (
            conversation.updated_at >= cutoff
            or waiting is not None
            or conversation.followup is not None  # a look-up still to answer comes first
            or contact.opted_out
            or turn_handoff.quiet(conversation, settings, utcnow())  # a person has it
        ):
            return False
        state = resident_state(conversation, contact)
        turn = step(state, TimedOut(utcnow()), engine_context((), settings))
        ids = [message.id for message in store_turn(session, conversation, contact, turn)]
    for message_id in ids:
        queue.enqueue("bot.jobs.deliver", message_id)
    return True
