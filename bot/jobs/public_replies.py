"""Public replies to a resident's public post (a mention of the city on X or Mastodon).

A resident who mentions the city in public is answered in public twice at most, with fixed
words that hold nothing of theirs: at once, an invitation to go on privately (the turn's own
replies go privately, as on every channel), and once the report from that conversation has
its request number, that number alone. Each is an outbound message like any other (the same
outbox, retries and pacing), marked `OutboundPayload.public_reply_to` for its channel.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session, col, select

from bot.channels.registry import channel_for
from bot.jobs.common import store_reply
from bot.models import Contact, Conversation, Direction, Message, Report
from bot.payloads import InboundPayload, OutboundPayload
from bot.timeutil import utcnow
from conversations import Reply, notices
from conversations.language import Language

# How far back a filed report looks for the public post that started it, in messages.
LOOKBACK = 200
# After a public answer, a conversation's next public posts are taken privately, unanswered in
# public, for this long.
INVITE_QUIET = timedelta(hours=24)


def public_post_of(message: Message) -> str | None:
    """The public post an inbound message came as, on a channel that takes them."""
    if message.direction != Direction.IN or not _takes_public_posts(message.channel):
        return None
    return InboundPayload.from_dict(message.payload).public_post


def _takes_public_posts(channel: str) -> bool:
    try:
        return channel_for(channel).abilities.public_posts
    except LookupError:  # a channel this deployment no longer runs
        return False


def store_public_reply(
    session: Session, conversation: Conversation, post: str, text: str
) -> Message:
    """Store a public reply to `post` (the caller queues its delivery)."""
    message = store_reply(session, conversation, Reply(text))
    payload = OutboundPayload.from_dict(message.payload)
    message.payload = replace(payload, public_reply_to=post).to_dict()
    session.flush()
    return message


def invite(
    session: Session, conversation: Conversation, post: str, say: Language
) -> Message | None:
    """Answer a public post in public: the report goes on in private messages. None when the
    conversation was answered in public within INVITE_QUIET: a resident's reply in the thread
    mentions the city again (X and Mastodon add the mention), and one invitation is enough."""
    if _answered_in_public_since(session, conversation, utcnow() - INVITE_QUIET):
        return None
    return store_public_reply(session, conversation, post, notices.public_invite(say))


def _answered_in_public_since(session: Session, conversation: Conversation, since) -> bool:
    recent = session.exec(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.OUT,
            col(Message.created_at) >= since,
        )
        .order_by(col(Message.id).desc())
        .limit(LOOKBACK)
    )
    return any(OutboundPayload.from_dict(m.payload).public_reply_to for m in recent)


def filed(session: Session, report: Report, say: Language) -> Message | None:
    """Tell the public post that started `report` its request number (None: it started in
    private, or on a channel without public posts)."""
    contact = session.get(Contact, report.contact_id)
    if contact is None or not _takes_public_posts(contact.channel):
        return None
    post = _post_behind(session, report)
    if post is None or not report.service_request_id:
        return None
    conversation = session.get(Conversation, report.conversation_id)
    text = notices.public_filed(report.service_request_id, say)
    return store_public_reply(session, conversation, post, text)


def _post_behind(session: Session, report: Report) -> str | None:
    """The post the report's conversation last invited in public since its previous report,
    and has not told a number yet: only a post we answered ourselves gets the number, never
    one a later mention, or a forged event, could name."""
    earlier = session.exec(
        select(Report.created_at)
        .where(Report.conversation_id == report.conversation_id, col(Report.id) < report.id)
        .order_by(col(Report.id).desc())
        .limit(1)
    ).first()
    query = select(Message).where(
        Message.conversation_id == report.conversation_id,
        Message.direction == Direction.OUT,
        col(Message.created_at) <= report.created_at,
    )
    replies: dict[str, list[Message]] = {}  # post -> our public replies to it, newest first
    for message in session.exec(query.order_by(col(Message.id).desc()).limit(LOOKBACK)):
        post = OutboundPayload.from_dict(message.payload).public_reply_to
        if post:
            replies.setdefault(post, []).append(message)
    for post, answers in replies.items():
        [invitation] = answers[-1:]
        # One reply: its invitation alone (a post told a number has two), made for this report.
        if len(answers) == 1 and (earlier is None or invitation.created_at > earlier):
            return post
    return None
