"""Human handoff: a staff member takes a conversation over, replies through the resident's own
channel (the same outbox), and hands it back to the bot.

A minimal version for the staff console; the handoff work (issue 20) owns the rest (AGENT,
not understood twice running, the bot staying quiet, the resident told both ways).
"""

from __future__ import annotations

from bot import audit, queue
from bot.db import session_scope
from bot.models import Contact, Conversation
from bot.timeutil import utcnow

MAX_REPLY_CHARS = 1600  # one long SMS is ten segments: more is a letter, not a reply


class HandoffError(ValueError):
    """A handoff step refused, said for staff ("not waiting", "resident opted out")."""


def _conversation(session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HandoffError("no such conversation")
    return conversation


def _reachable(session, conversation: Conversation) -> Contact:
    contact = session.get(Contact, conversation.contact_id)
    if contact is None or contact.opted_out or not contact.address:
        raise HandoffError("resident opted out")
    return contact


def take_over(conversation_id: int, staff: str) -> None:
    """Give the conversation to `staff`: the bot stays quiet until it is handed back."""
    with session_scope() as session:
        conversation = _conversation(session, conversation_id)
        if conversation.handoff == "agent" and conversation.handoff_by != staff:
            raise HandoffError(f"{conversation.handoff_by} has it already")
        _reachable(session, conversation)
        conversation.handoff, conversation.handoff_by = "agent", staff
        conversation.handoff_at = conversation.updated_at = utcnow()
        audit.record(session, "take-over", f"conversation:{conversation_id}")


def agent_reply(conversation_id: int, text: str, staff: str) -> int:
    """Queue `text` from `staff` to the resident through the outbox; the message's id."""
    from bot.jobs.common import store_reply
    from conversations import Reply

    text = text.strip()
    if not text:
        raise HandoffError("write a reply first")
    if len(text) > MAX_REPLY_CHARS:
        raise HandoffError(f"a reply has at most {MAX_REPLY_CHARS} characters")
    with session_scope() as session:
        conversation = _conversation(session, conversation_id)
        if conversation.handoff != "agent" or conversation.handoff_by != staff:
            raise HandoffError("take the conversation over first")
        _reachable(session, conversation)
        message = store_reply(session, conversation, Reply(text))
        session.flush()
        message_id = message.id
        assert message_id is not None  # flushed: the database gave it one
        audit.record(
            session, "agent-reply", f"conversation:{conversation_id}", f"{len(text)} characters"
        )
    queue.enqueue("bot.jobs.deliver", message_id, at_front=True)
    return message_id


def hand_back(conversation_id: int, staff: str) -> None:
    """Give the conversation back to the bot."""
    with session_scope() as session:
        conversation = _conversation(session, conversation_id)
        if conversation.handoff is None:
            raise HandoffError("not handed off")
        conversation.handoff = conversation.handoff_by = conversation.handoff_reason = None
        conversation.handoff_at = None
        conversation.updated_at = utcnow()
        audit.record(session, "hand-back", f"conversation:{conversation_id}", f"from {staff}")
