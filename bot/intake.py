"""What a channel's webhook parsed, stored: a resident's message once (then its turn queued), a
delivery status, a blocked or restarted bot."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session, select

from bot import queue, ratelimits
from bot.channels.base import DeliveryStatus, Event, Ignored, Inbound, Membership
from bot.channels.fields import bounded_inbound
from bot.channels.registry import channel_for
from bot.db import get_engine, retry_disconnected, session_scope
from bot.forget import finish_erasing
from bot.inbox import upsert_inbound
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from bot.payloads import InboundPayload, OutboundPayload
from bot.personal_data import address_key
from bot.timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

# A channel without message ids that sends the same words twice this quickly is redelivering.
REDELIVERY_WINDOW = timedelta(seconds=10)


def accept(event: Event) -> bool:
    """Store one event a channel's webhook parsed (a redelivery is recognised and dropped);
    whether it was a message already stored."""
    if isinstance(event, Inbound):
        return receive(event).duplicate
    elif isinstance(event, DeliveryStatus):
        if not retry_disconnected(lambda: record_delivery(event)):
            # Not the provider's id: Telegram's and the web chat's name the chat or session.
            log.info("%s status for a message we do not know", event.channel)
    elif isinstance(event, Membership):
        retry_disconnected(lambda: record_membership(event))
    elif isinstance(event, Ignored):
        log.info("webhook call ignored: %s", event.reason)
    return False


@dataclass(frozen=True)
class Received:
    """What became of an inbound message: its row, and whether it was a redelivery."""

    message_id: int
    conversation_id: int
    duplicate: bool
    limited: ratelimits.Refusal | None = None  # past an inbound limit: stored, no turn


def receive(inbound: Inbound) -> Received:
    """Store `inbound` (once per provider id), then queue its conversation's turn."""
    inbound = bounded_inbound(inbound)  # NUL, surrogates, lengths: what the database holds
    received = retry_disconnected(lambda: _store(inbound))
    if received.duplicate:
        log.info("redelivery of %s message %s ignored", inbound.channel, received.message_id)
    elif received.limited is not None:
        # Past an inbound limit (bot.ratelimits): no turn; the resident is told once per window.
        if ratelimits.first_refusal(received.conversation_id, received.limited):
            queue.enqueue("bot.jobs.tell_limited", received.conversation_id)
    else:
        queue.enqueue_turn(received.conversation_id)  # one turn in line per resident
    return received


def _store(inbound: Inbound) -> Received:
    """One transaction on one connection: the message inserted once (with its contact and
    conversation when new), counted against the limits, marked if past one, committed."""
    with get_engine().begin() as connection:
        if inbound.external_id is None:
            # No provider id to be unique on: the same words from the same sender within
            # REDELIVERY_WINDOW are a redelivery.
            existing = _redelivered(connection, inbound)
            if existing is not None:
                return existing
        stored = upsert_inbound(connection, inbound)
        if stored.message_id is None:
            return _duplicate(connection, inbound)
        # Counted once the insert held (only new messages count), marked before any turn sees
        # it (the row is not visible to a turn before this transaction commits).
        limited = ratelimits.inbound_refusal(
            inbound.channel, inbound.address, inbound.text, opted_out=stored.opted_out
        )
        if limited is not None:
            connection.execute(
                _MARK_LIMITED,
                {"id": stored.message_id, "code": limited.code, "now": utcnow()},
            )
        return Received(stored.message_id, stored.conversation_id, False, limited)


_MARK_LIMITED = text(
    "UPDATE message SET status = :status, error_code = :code, updated_at = :now WHERE id = :id"
).bindparams(
    bindparam("status", MessageStatus.PROCESSED.value),
    bindparam("now", type_=UTCDateTime()),
)


def _duplicate(connection: Connection, inbound: Inbound) -> Received:
    """The stored copy of a message whose provider id is taken already."""
    row = connection.execute(
        select(Message.id, Message.conversation_id).where(
            Message.channel == inbound.channel, Message.external_id == inbound.external_id
        )
    ).first()
    if row is None:  # cannot be: the insert found it taken, and messages are not deleted
        raise RuntimeError("a message's provider id is taken by no message")
    return Received(row.id, row.conversation_id, duplicate=True)


def _redelivered(connection: Connection, inbound: Inbound) -> Received | None:
    """The stored copy of `inbound`, from a channel without provider ids: the same words and
    media from the same sender within REDELIVERY_WINDOW."""
    query = (
        select(Message.id, Message.conversation_id, Message.payload)
        .join(Contact, Contact.id == Message.contact_id)  # type: ignore[arg-type]
        .where(
            Contact.address_key == address_key(inbound.address),
            Message.direction == Direction.IN,
            Message.external_id.is_(None),  # type: ignore[union-attr]
            Message.text == inbound.text,
            Message.created_at > utcnow() - REDELIVERY_WINDOW,
        )
        .order_by(Message.id.desc())  # type: ignore[union-attr]
    )
    for row in connection.execute(query):
        if InboundPayload.from_dict(row.payload).media == inbound.payload.media:
            return Received(row.id, row.conversation_id, duplicate=True)
    return None


def conversation_for(session: Session, channel: str, address: str) -> Conversation:
    """The conversation with the contact at `address`, created with the contact if new."""
    key = address_key(address)
    contact = session.exec(select(Contact).where(Contact.address_key == key)).first()
    if contact is None:
        contact = Contact(address=address, address_key=key, channel=channel)
        session.add(contact)
        session.flush()
    elif contact.address is None:
        # Erased after STOP (only the key and the opt-out were kept): back with this message.
        contact.address = address
    conversation = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    if conversation is None:
        conversation = Conversation(contact_id=contact.id, state={})
        session.add(conversation)
        session.flush()
    return conversation


# How far along an outbound message is; a late or repeated status never moves it back.
PROGRESS = {
    "pending": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "read": 4,
}


def record_delivery(status: DeliveryStatus) -> bool:
    """Store a provider's delivery status (already in our words) for a message we sent.

    A recipient the provider reports as opted out is marked so even when the status outruns
    our record of the message. False if the message is unknown.
    """
    with session_scope() as session:
        if status.opted_out_address:
            contact = session.exec(
                select(Contact).where(Contact.address_key == address_key(status.opted_out_address))
            ).first()
            if contact is not None:
                # The provider stops our texts (STOP at the carrier): only the opt-out is
                # kept, once this status is stored (bot.forget.finish_erasing, the purge).
                contact.opted_out = True
        message = session.exec(
            select(Message).where(
                Message.channel == status.channel,
                Message.external_id == status.external_id,
                Message.direction == Direction.OUT,
            )
        ).first()
        if message is None:
            return False
        again = None
        if status.status and PROGRESS.get(status.status, -1) > PROGRESS.get(message.status, 0):
            message.status = status.status
            message.error_code = status.error_code
            message.updated_at = utcnow()
            if status.media_refused:
                again = _again_with_link(session, message)
    if again is not None:
        queue.enqueue("bot.jobs.deliver", again.id, kind=again.lane)
    return True


@dataclass(frozen=True)
class _Queued:
    id: int
    lane: str


def _again_with_link(session: Session, message: Message) -> _Queued | None:
    """A message the provider refused for its photo (a city's status photo too large, of a
    type or at an address it would not take): its words again, with the photo's link in
    place of the photo, so the notice is not lost with it."""
    payload = OutboundPayload.from_dict(message.payload)
    if not payload.media_url:
        return None
    words = channel_for(message.channel).with_link(message.text, payload.media_url)
    reply = replace(payload.reply, text=words) if payload.reply is not None else None
    again = Message(
        conversation_id=message.conversation_id,
        contact_id=message.contact_id,
        channel=message.channel,
        direction=Direction.OUT,
        text=words,
        payload=replace(payload, media_url=None, reply=reply).to_dict(),
    )
    session.add(again)
    session.flush()
    log.info(
        "message %s: its photo was refused; sent again as %s with the link", message.id, again.id
    )
    return _Queued(again.id, "notices" if payload.status_notice else "residents")


def record_membership(membership: Membership) -> bool:
    """Opt the contact out when it blocked the bot (keeping only the opt-out), in when it
    started it again.

    False when we have never heard from that address (nothing to record).
    """
    with session_scope() as session:
        contact = session.exec(
            select(Contact).where(Contact.address_key == address_key(membership.address))
        ).first()
        if contact is None:
            return False
        contact_id = contact.id
        if membership.blocked:  # only the opt-out is kept
            contact.opted_out = True
            finish_erasing(session, contact_id)
        else:
            contact.opted_out = False
            contact.address = contact.address or membership.address
    log.info("contact %s %s the bot", contact_id, "blocked" if membership.blocked else "restarted")
    return True
