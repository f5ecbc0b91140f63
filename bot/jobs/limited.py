"""tell_limited: the one polite "too many messages" text to a resident past an inbound limit."""

from __future__ import annotations

from bot import queue
from bot.db import session_scope
from bot.jobs.common import store_reply, too_many
from bot.models import Contact, Conversation
from conversations import Reply


def tell_limited(conversation_id: int) -> bool:
    """Tell the conversation's resident, once (intake queues it for the first refused message
    in a limit's window), that their messages wait unanswered; True when a text was stored.

    Queued behind the turns of the messages let through, so it is read after their answers
    and in the language those turns found. It counts against the reply limit like any reply.
    """
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        contact = session.get(Contact, conversation.contact_id) if conversation else None
        if conversation is None or contact is None or contact.opted_out:
            return False
        message = store_reply(session, conversation, Reply(too_many(contact)))
        session.flush()
        message_id = message.id
    queue.enqueue("bot.jobs.deliver", message_id, at_front=True)
    return True
