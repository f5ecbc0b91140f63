"""Every channel's inbound message, normalised, stored once and handed to the worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import queue
from bot.db import session_scope
from bot.models import Contact, Conversation, Message
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# A channel without message ids that sends the same words twice this quickly is redelivering.
REDELIVERY_WINDOW = timedelta(seconds=10)


class MalformedInbound(ValueError):
    """A webhook payload that lacks what we need; answered with 400, never a 500."""


@dataclass(frozen=True)
class Inbound:
    """One message from a resident, whatever the channel.

    `address` is URN-like ('tel:+15551234567', 'telegram:12345'); `external_id` is the
    provider's message id; `media` are references the channel can fetch later (never a URL
    carrying a secret, such as Telegram's file URLs with the bot token).
    """

    channel: str
    address: str
    external_id: str | None
    text: str
    media: tuple[str, ...] = ()
    raw: dict = field(default_factory=dict)
    # A shared location pin (latitude, longitude), and the name of the place if it has one.
    location: tuple[float, float] | None = None
    place_name: str = ""
    # For a button tap: the provider id of our message whose button was tapped.
    reply_to: str | None = None


@dataclass(frozen=True)
class Received:
    """What became of an inbound message: its row, and whether it was a redelivery."""

    message_id: int
    conversation_id: int
    duplicate: bool


def receive(inbound: Inbound) -> Received:
    """Store `inbound` (once per provider id), then queue its conversation's turn."""
    inbound = _without_nul(inbound)
    try:
        received = _store(inbound)
    except IntegrityError:
        # A concurrent delivery won a race to a unique constraint (the message id, or a new
        # contact's address): the row it wrote decides.
        received = _existing(inbound) or _store(inbound)
    if not received.duplicate:
        queue.enqueue("bot.jobs.run_turn", received.conversation_id)
    else:
        log.info("redelivery of %s message %s ignored", inbound.channel, inbound.external_id)
    return received


def _without_nul(inbound: Inbound) -> Inbound:
    """Drop NUL characters, which PostgreSQL text refuses and no resident means."""
    raw = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in inbound.raw.items()}
    return replace(inbound, text=inbound.text.replace("\x00", ""), raw=raw)


def _store(inbound: Inbound) -> Received:
    existing = _existing(inbound)
    if existing is not None:
        return existing
    with session_scope() as session:
        conversation = conversation_for(session, inbound.channel, inbound.address)
        message = Message(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            channel=inbound.channel,
            direction="in",
            external_id=inbound.external_id,
            text=inbound.text,
            payload={
                "media": list(inbound.media),
                "location": list(inbound.location) if inbound.location else None,
                "place_name": inbound.place_name,
                "reply_to": inbound.reply_to,
                "raw": inbound.raw,
            },
        )
        session.add(message)
        session.flush()
        return Received(message.id, conversation.id, duplicate=False)


def _existing(inbound: Inbound) -> Received | None:
    """The stored copy of `inbound`: same provider id, or, where the channel gives none, the
    same words and media from the same sender within REDELIVERY_WINDOW."""
    with session_scope() as session:
        if inbound.external_id is not None:
            query = select(Message).where(
                Message.channel == inbound.channel, Message.external_id == inbound.external_id
            )
        else:
            query = (
                select(Message)
                .join(Contact, Contact.id == Message.contact_id)
                .where(
                    Contact.address == inbound.address,
                    Message.direction == "in",
                    Message.external_id.is_(None),
                    Message.text == inbound.text,
                    Message.created_at > utcnow() - REDELIVERY_WINDOW,
                )
                .order_by(Message.id.desc())
            )
        for message in session.exec(query).all():
            if inbound.external_id is not None or (
                list((message.payload or {}).get("media") or []) == list(inbound.media)
            ):
                return Received(message.id, message.conversation_id, duplicate=True)
        return None


def conversation_for(session: Session, channel: str, address: str) -> Conversation:
    """The conversation with the contact at `address`, created with the contact if new."""
    contact = session.exec(select(Contact).where(Contact.address == address)).first()
    if contact is None:
        contact = Contact(address=address, channel=channel)
        session.add(contact)
        session.flush()
    conversation = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).first()
    if conversation is None:
        conversation = Conversation(contact_id=contact.id, state={})
        session.add(conversation)
        session.flush()
    return conversation
