"""deliver: a contact's pending messages, oldest first, through its channel; and their statuses."""

from __future__ import annotations

import logging

from sqlmodel import select

from bot import queue
from bot.channels.base import Outgoing, SendError
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.jobs.common import backoff, due_after, locked
from bot.models import Contact, Message
from bot.settings import get_settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6
SEND_BACKOFF_BASE = 5

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


def deliver(message_id: int) -> int:
    """Send the pending messages of `message_id`'s contact, oldest first; return how many.

    A message waiting out a failed send holds back the ones behind it, so a resident reads
    them in order; only its own scheduled job (deliver of its id) sends it early.
    """
    settings = get_settings()
    with session_scope() as session:
        target = session.get(Message, message_id)
        if target is None or target.direction != "out":
            return 0
        contact_id = target.contact_id
    sent = 0
    with locked(f"contact:{contact_id}"):
        while True:
            with session_scope() as session:
                message = session.exec(
                    select(Message)
                    .where(
                        Message.contact_id == contact_id,
                        Message.direction == "out",
                        Message.status == "pending",
                    )
                    .order_by(Message.id)
                ).first()
                if message is None:
                    return sent
                waiting = message.next_attempt_at and message.next_attempt_at > utcnow()
                if waiting and message.id != message_id:
                    return sent
                contact = session.get(Contact, contact_id)
                if contact.opted_out and not (message.payload or {}).get("opt_out_notice"):
                    message.status = "suppressed"
                    continue
                message.status = "sending"
                message.attempts += 1
                message.updated_at = utcnow()
                out = Outgoing(message.id, contact.address, message.text, message.payload)
                attempts = message.attempts
            try:
                external_id = channel_for(contact.channel).send(out, settings)
            except SendError as exc:
                delay = _send_failed(out.message_id, exc, attempts)
                if delay is not None:
                    queue.enqueue("bot.jobs.deliver", out.message_id, delay=delay)
                    return sent
                continue
            with session_scope() as session:
                message = session.get(Message, out.message_id)
                message.status = "sent"
                message.external_id = external_id
                message.next_attempt_at = None
                message.updated_at = utcnow()
            sent += 1


def _send_failed(message_id: int, exc: SendError, attempts: int) -> float | None:
    """Record a failed send; the seconds until its retry, or None when it is given up."""
    log.warning("send of message %s failed: %s", message_id, exc)
    with session_scope() as session:
        message = session.get(Message, message_id)
        message.error_code = exc.code
        message.updated_at = utcnow()
        if exc.opted_out:
            session.get(Contact, message.contact_id).opted_out = True
        if exc.retryable and (attempts < MAX_SEND_ATTEMPTS or exc.retry_after is not None):
            delay = max(backoff(attempts, base=SEND_BACKOFF_BASE), exc.retry_after or 0)
            message.status = "pending"
            message.next_attempt_at = due_after(delay)
            return delay
        message.status = "failed"
        message.next_attempt_at = None
        return None


def record_delivery(
    channel: str,
    external_id: str,
    status: str,
    error_code: str | None,
    opted_out_address: str | None = None,
) -> bool:
    """Store a provider's delivery status (already in our words) for a message we sent.

    `opted_out_address` names a recipient the provider reports as opted out; it is marked so
    even when the status outruns our record of the message. False if the message is unknown.
    """
    with session_scope() as session:
        if opted_out_address:
            contact = session.exec(
                select(Contact).where(Contact.address == opted_out_address)
            ).first()
            if contact is not None:
                contact.opted_out = True
        message = session.exec(
            select(Message).where(
                Message.channel == channel,
                Message.external_id == external_id,
                Message.direction == "out",
            )
        ).first()
        if message is None:
            return False
        if PROGRESS.get(status, -1) > PROGRESS.get(message.status, 0):
            message.status = status
            message.error_code = error_code
            message.updated_at = utcnow()
        return True
