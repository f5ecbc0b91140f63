"""Human handoff, the staff side: take a conversation over, reply to the resident, hand it back.

The console calls these with the member of staff's name; `bot.audit.acting_as` says who acts
for the audit row each writes in the same transaction as its change. A conversation moves
None | "waiting" -> "agent" (take_over) -> None (hand_back) by conditional UPDATEs, so two
agents taking one conversation at once cannot both have it. What the resident is told, and
an agent's words, are stored as outbound messages like any reply (`store_reply`) and sent by
`bot.jobs.deliver`: the same order, pacing, retries and opt-out suppression; an agent's reply,
and what the resident is told on take over and hand back, are marked `OutboundPayload.agent`
(Messenger sends them with the HUMAN_AGENT tag after its 24-hour window, within 7 days of the
resident's last message). hand_back holds the conversation's lock, as a turn does.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import or_, update
from sqlmodel import Session, col

from bot import audit, queue
from bot.db import session_scope
from bot.jobs.common import locked, store_reply
from bot.jobs.turn_handoff import AGENT, WAITING, channel_of, context_for
from bot.jobs.turn_state import resident_state, store_turn
from bot.models import Contact, Conversation, Message
from bot.payloads import OutboundPayload
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import Reply
from conversations.engine import handed_back, taken_over

log = logging.getLogger(__name__)

MAX_REPLY = 1600  # characters of one agent's reply (ten SMS segments)


class HandoffError(ValueError):
    """Why staff cannot do that to the conversation (its message is shown to them)."""


def take_over(conversation_id: int, staff: str) -> None:
    """Give the conversation (waiting, or any the bot has) to `staff`; the resident is told a
    person is answering."""
    context = context_for(get_settings(), _channel(conversation_id), catalogue=False)
    with session_scope() as session:
        conversation, contact = _reachable(session, conversation_id)
        taken = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                or_(col(Conversation.handoff).is_(None), Conversation.handoff == WAITING),
            )
            .values(handoff=AGENT, handoff_by=staff[:64], handoff_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            session.refresh(conversation)
            raise HandoffError(f"already taken by {conversation.handoff_by or 'someone'}")
        reason = conversation.handoff_reason or "staff"
        state = resident_state(conversation, contact)
        message = store_reply(session, conversation, taken_over(state, context), always=True)
        _as_agent(message)
        audit.record(session, "handoff.take", f"conversation:{conversation_id}", reason)
        session.flush()
        message_id = message.id
    queue.enqueue("bot.jobs.deliver", message_id, at_front=True)


def agent_reply(conversation_id: int, text: str, staff: str) -> int:
    """Send `staff`'s words to the resident of a conversation a person has, through their own
    channel; the stored message's id."""
    words = text.strip()
    if not words:
        raise HandoffError("the reply is empty")
    if len(words) > MAX_REPLY:
        raise HandoffError(f"the reply is longer than {MAX_REPLY} characters")
    with session_scope() as session:
        conversation, _contact = _reachable(session, conversation_id)
        held = session.execute(  # holds the row: a hand back meanwhile waits for this commit
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.handoff == AGENT,
                Conversation.handoff_by == staff[:64],  # this member of staff, no other
            )
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if held.rowcount != 1:
            session.refresh(conversation)
            if conversation.handoff == AGENT:
                raise HandoffError(f"held by {conversation.handoff_by or 'someone else'}")
            raise HandoffError("not with a person: take it over first")
        message = store_reply(session, conversation, Reply(words), always=True)
        _as_agent(message)
        audit.record(
            session, "handoff.reply", f"conversation:{conversation_id}", f"{len(words)} chars"
        )
        session.flush()
        message_id = message.id
    queue.enqueue("bot.jobs.deliver", message_id, at_front=True)
    log.info("conversation %s: %s replied", conversation_id, staff)
    return message_id


def hand_back(conversation_id: int, staff: str, admin: bool = False) -> None:
    """Give the conversation back to the bot; the resident is told, and asked their report's
    pending question again (or how to start one). One an agent holds only that agent (or an
    `admin`) may hand back; one waiting, any agent."""
    context = context_for(get_settings(), _channel(conversation_id))
    # The conversation's lock, as a turn holds it: the state read here is not one a resident's
    # turn is about to replace (asking a stale question, writing stale state back). The row
    # locked too: who held it, for the audit row, is still who holds it at the UPDATE.
    with locked(f"conversation:{conversation_id}"), session_scope() as session:
        conversation = session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise HandoffError("no such conversation")
        contact = session.get(Contact, conversation.contact_id)
        held_by = conversation.handoff_by if conversation.handoff == AGENT else None
        mine = or_(Conversation.handoff == WAITING, Conversation.handoff_by == staff[:64])
        back = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                or_(Conversation.handoff == AGENT, Conversation.handoff == WAITING),
                *([] if admin else [mine]),
            )
            .values(handoff=None, handoff_reason=None, handoff_at=None, handoff_by=None)
            .execution_options(synchronize_session=False)
        )
        if back.rowcount != 1:
            session.refresh(conversation)
            if conversation.handoff == AGENT:
                raise HandoffError(f"held by {conversation.handoff_by or 'someone else'}")
            raise HandoffError("not with a person: the bot already answers")
        ids: list[int] = []
        if not contact.opted_out and contact.address_key is not None:
            turn = handed_back(resident_state(conversation, contact), context)
            sent = store_turn(session, conversation, contact, turn, always=True)
            for message in sent:
                _as_agent(message)
            ids = [message.id for message in sent]
        held = f"held by {held_by}" if held_by else "was waiting"
        audit.record(session, "handoff.back", f"conversation:{conversation_id}", f"{staff}; {held}")
    for message_id in ids:
        queue.enqueue("bot.jobs.deliver", message_id, at_front=True)


def _as_agent(message: Message) -> None:
    """Mark a stored reply as staff's (Messenger sends it with HUMAN_AGENT after its 24-hour
    window): the agent's words, and what the resident is told when staff take over or hand
    back, which must not be refused while the agent's words go."""
    message.payload = replace(OutboundPayload.from_dict(message.payload), agent=True).to_dict()


def _channel(conversation_id: int) -> str:
    channel = channel_of(conversation_id)
    if channel is None:
        raise HandoffError("no such conversation")
    return channel


def _reachable(session: Session, conversation_id: int) -> tuple[Conversation, Contact]:
    """The conversation and its resident, who can still be written to."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HandoffError("no such conversation")
    contact = session.get(Contact, conversation.contact_id)
    if contact.opted_out:
        raise HandoffError("the resident opted out")
    if contact.address_key is None or contact.address is None:
        raise HandoffError("the resident's data was deleted")
    return conversation, contact
