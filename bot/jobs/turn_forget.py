"""DELETE MY DATA in a turn: asked, confirmed with YES, then everything erased (bot.forget).

The request is recognised here, before the engine, in every language the bot speaks (the
words are conversations.commands.forget_language's): the engine never sees it, so it is
never taken for a report's words. A stray message cannot wipe a report in progress: the
resident is asked first, and only a YES to the very next message erases. NO (or a message
that is not an answer) keeps everything; the report in progress goes on where it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from bot.forget import erase_contact
from bot.jobs.turn_state import keep_state, resident_state
from bot.models import Contact, Conversation
from bot.timeutil import utcnow
from conversations import Context, Reply, prompts, texts
from conversations.answers import yes_or_no
from conversations.commands import forget_language
from conversations.engine import asked
from conversations.language import Language
from conversations.segments import measured_in

# A YES later than this answers whatever was asked since, not the question to erase.
CONFIRM_WITHIN = timedelta(minutes=30)


@dataclass(frozen=True)
class Forgetting:
    """A turn DELETE MY DATA took over: its replies, and whether the data was erased."""

    replies: tuple[Reply, ...]
    erased: bool = False


def forget_turn(
    session: Session, conversation: Conversation, contact: Contact, text: str, context: Context
) -> Forgetting | None:
    """The turn when `text` asks to erase the resident's data or answers that question; None
    when the message is for the engine."""
    state = resident_state(conversation, contact)
    say = context.language(state.language)
    asked_at = conversation.forget_asked_at
    if asked_at is not None:
        conversation.forget_asked_at = None
        answer = _answer(text, say)
        if answer is True and utcnow() - asked_at <= CONFIRM_WITHIN:
            erased = erase_contact(session, contact)
            done = say(texts.FORGOTTEN).format(
                messages=erased.messages, reports=erased.reports + erased.dropped
            )
            return Forgetting((Reply(done),), erased=True)
        if answer is False:
            with measured_in(context.message_chars):
                again = asked(state, context)
                kept = say(texts.FORGET_KEPT)
                if again:  # the question the conversation waits on, asked again
                    return Forgetting(prompts.with_lead(kept, again[0]) + again[1:])
            return Forgetting((Reply(kept),))
    code = forget_language(text, context.languages)
    if code is None:
        return None
    if code != "en" and code != state.language and not state.language_chosen:
        # Asked in the words they wrote, and the answer read in that language alone.
        state.language = code
        keep_state(conversation, contact, state)
        say = context.language(code)
    conversation.forget_asked_at = utcnow()
    return Forgetting((Reply(say(texts.FORGET_ASK), expects="yes_no"),))


def _answer(text: str, say: Language) -> bool | None:
    """YES or NO in the resident's language (or English) only: this answer cannot be undone, so a
    word that means yes in another language ("co", "da", a hesitant "uh") is not taken for one."""
    return yes_or_no(text, say)
