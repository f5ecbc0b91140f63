"""deliver: a contact's pending messages, oldest first, through its channel."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import select

from bot import metrics, pacing, queue, ratelimits
from bot.channels.base import Outgoing, SendError
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.forget import finish_erasing
from bot.jobs.common import backoff, due_after, locked
from bot.logs import fields, scrub
from bot.models import Contact, Direction, Message, MessageStatus
from bot.payloads import OutboundPayload
from bot.personal_data import pseudonym
from bot.settings import get_settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

SEND_BACKOFF_BASE = 5
UNSENT = ("pending", "sending")
# A provider's "too many requests" (Telegram's 429, Twilio's 20429): the send was refused, not
# made, so it costs no attempt and needs no look-up; it waits what the provider asked, or this.
RATE_LIMITED = frozenset({"429", "20429"})
RATE_LIMITED_WAIT = 1.0
# Refusals after which nothing reached anyone: a rate limit, and a WhatsApp message outside the
# 24-hour window (ours, refused before any request; Twilio's, accepted then never delivered).
# A retry sends again rather than look for an earlier send.
NOTHING_SENT = RATE_LIMITED | {"63016"}


def deliver(message_id: int) -> int:
    """Send the unsent messages of `message_id`'s contact, oldest first; return how many.

    A message waiting out a failed send holds back the ones behind it, so a resident reads
    them in order; only its own scheduled job (deliver of its id) sends it early. A message
    left "sending" by a worker that died is looked up with the provider where it can be, so
    it is sent once.

    Each send first takes a token from its sender's bucket (bot.pacing), with the priority of
    the message's lane (a status notice's, or a reply's: the row says which, whichever queue
    the job came from); without one the job is queued again, on that lane, for when one is
    due: no attempt spent, no worker kept waiting.
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
                        Message.direction == Direction.OUT,
                        Message.status.in_(UNSENT),
                    )
                    .order_by(Message.id)
                ).first()
                if message is None:
                    # An erased contact (DELETE MY DATA, STOP) keeps its address only for
                    # this: its last reply is out, so the address goes now.
                    finish_erasing(session, contact_id)
                    return sent
                # Only a wait after a failed send holds the rest back: one waiting for its
                # sender's pace (no attempt yet) goes with whichever job has a token first.
                waiting = message.next_attempt_at and message.next_attempt_at > utcnow()
                if (
                    message.status == MessageStatus.PENDING
                    and waiting
                    and message.attempts > 0
                    and message.id != message_id
                ):
                    return sent
                contact = session.get(Contact, contact_id)
                payload = OutboundPayload.from_dict(message.payload)
                lane = "notices" if payload.status_notice else "residents"
                if contact.address is None or (contact.opted_out and not payload.opt_out_notice):
                    message.status = MessageStatus.SUPPRESSED
                    continue
                in_flight = timedelta(seconds=settings.send_in_flight)
                if (
                    message.status == MessageStatus.SENDING
                    and message.updated_at > utcnow() - in_flight
                ):
                    # Another worker is sending it (the lock lapsed or Redis lost it): it
                    # carries on with the rest; reconcile looks again if it died.
                    return sent
                # An earlier attempt may have reached the provider: one left "sending" by a
                # dead worker, or one whose answer was lost.
                # (A staff retry resets the attempts but keeps the last error.)
                # A refusal for rate (RATE_LIMITED) sent nothing.
                tried_before = message.attempts > 0 or (
                    message.error_code is not None and message.error_code not in NOTHING_SENT
                )
                buckets = pacing.buckets_for(contact.channel, contact.address, settings)
                wait = pacing.take(buckets, lane)
                if wait > 0:
                    # The row says when it is due, so the reconciler leaves it until then.
                    message.next_attempt_at = due_after(wait)
                    if message.status == MessageStatus.PENDING:
                        # (one left "sending" keeps its time: it is looked up once in-flight)
                        message.updated_at = utcnow()
                    paced = message.id
                elif not _claim(session, message):
                    return sent  # another worker claimed it first
                else:
                    paced = None
                out = Outgoing(
                    message.id,
                    contact.address,
                    message.text,
                    payload,
                    last_inbound_at=_last_inbound(session, contact),
                )
                # The claim's UPDATE synchronised the row in the session: attempts counts
                # this one already.
                attempts, created_at = message.attempts, message.created_at
            if paced is not None:
                queue.enqueue("bot.jobs.deliver", paced, delay=wait, kind=lane)
                return sent
            channel = channel_for(contact.channel)
            started = time.perf_counter()
            try:
                external_id = None
                if tried_before and channel.abilities.finds_sent:
                    external_id = channel.find_sent(
                        out,
                        created_at,
                        settings,
                        _sids_taken(contact_id, created_at, settings.send_in_flight),
                    )
                    if external_id and _held_elsewhere(channel.name, external_id, out.message_id):
                        external_id = None  # another message's send: this one was not made
                    if external_id:
                        log.info("message %s was sent by an earlier attempt", out.message_id)
                external_id = external_id or channel.send(out, settings)
            except SendError as exc:
                delay = _send_failed(out.message_id, exc, attempts, settings)
                # A provider's text may name the recipient (Twilio's does): scrubbed, and the
                # resident named by pseudonym.
                _log_send(
                    out.message_id,
                    channel.name,
                    "failed" if delay is None else "limited" if _rate_limited(exc) else "retry",
                    started,
                    contact=pseudonym(out.address),
                    code=exc.code,
                    error=scrub(str(exc))[:300],
                )
                if delay is not None:
                    if _rate_limited(exc):
                        # Every worker waits what was asked, on the narrowest bucket (one
                        # Telegram chat's, not the whole bot's: others' chats still go), or
                        # on the sender's own when the limit is the whole sender's.
                        pacing.hold(buckets[:1] if exc.sender_wide else buckets[-1:], delay)
                    queue.enqueue("bot.jobs.deliver", out.message_id, delay=delay, kind=lane)
                    return sent
                continue
            with session_scope() as session:
                message = session.get(Message, out.message_id)
                message.status = MessageStatus.SENT
                message.external_id = external_id
                message.next_attempt_at = None
                message.updated_at = utcnow()
            sent += 1
            _log_send(out.message_id, channel.name, "sent", started)
            metrics.messages_sent.labels(channel.name).inc()
            if channel.name == "sms":
                ratelimits.count_sms_sent(settings)  # the daily SMS alarm (SMS_ALARM_PER_DAY)


def _log_send(message_id: int, channel: str, outcome: str, started: float, **more) -> None:
    """A send's one log line: the message's id, its channel, what became of it (sent, retry,
    limited, failed), how long; a failure's code and scrubbed text, the resident by pseudonym."""
    log.log(
        logging.INFO if outcome == "sent" else logging.WARNING,
        "send of message %s on %s: %s%s",
        message_id,
        channel,
        outcome,
        "".join(f" {key}={value}" for key, value in more.items()),  # for text-only handlers
        extra=fields(
            event="send",
            message=message_id,
            channel=channel,
            outcome=outcome,
            ms=round((time.perf_counter() - started) * 1000, 1),
            **more,
        ),
    )


def _held_elsewhere(channel: str, external_id: str, message_id: int) -> bool:
    """Whether another message of ours already holds this provider id (the unique key a
    look-up's answer must never collide with)."""
    with session_scope() as session:
        return (
            session.exec(
                select(Message.id).where(
                    Message.channel == channel,
                    Message.external_id == external_id,
                    Message.id != message_id,
                )
            ).first()
            is not None
        )


def _last_inbound(session, contact: Contact) -> datetime | None:
    """When the contact last wrote, for a channel whose provider restricts what may be sent
    after a silence (`Abilities.reply_window`: WhatsApp's 24 hours); None elsewhere (not asked)
    or when they never did. One query on the contact's index."""
    if channel_for(contact.channel).abilities.reply_window is None:
        return None
    return session.exec(
        select(Message.created_at)
        .where(Message.contact_id == contact.id, Message.direction == Direction.IN)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()


def _sids_taken(contact_id: int, since, in_flight_seconds: int) -> set[str]:
    """Provider ids already stored on the contact's messages, so a look-up never takes one
    message's send for another's: those of messages made since, and of older ones sent (or
    told of) since (an old message retried by staff goes out after newer ones)."""
    after = since - timedelta(seconds=in_flight_seconds)
    with session_scope() as session:
        return set(
            session.exec(
                select(Message.external_id).where(
                    Message.contact_id == contact_id,
                    Message.direction == Direction.OUT,
                    Message.external_id.is_not(None),
                    or_(Message.created_at >= after, Message.updated_at >= after),
                )
            ).all()
        )


def _claim(session, message: Message) -> bool:
    """Mark `message` sending, only if no other worker has touched it since we read it."""
    result = session.execute(
        update(Message)
        .where(
            Message.id == message.id,
            Message.status == message.status,
            Message.attempts == message.attempts,
        )
        .values(status=MessageStatus.SENDING, attempts=Message.attempts + 1, updated_at=utcnow())
    )
    return result.rowcount == 1


def _rate_limited(exc: SendError) -> bool:
    """Whether the provider refused the send for its rate (nothing was sent)."""
    return exc.retryable and (exc.retry_after is not None or exc.code in RATE_LIMITED)


def _send_failed(message_id: int, exc: SendError, attempts: int, settings) -> float | None:
    """Record a failed send; the seconds until its retry, or None when it is given up.

    A refusal for rate is no failed attempt: it waits what the provider asked, however often.
    """
    with session_scope() as session:
        message = session.get(Message, message_id)
        message.updated_at = utcnow()
        # A refusal for rate keeps an earlier error that may have reached the provider: that
        # one calls for a look-up before the next send.
        if not _rate_limited(exc) or message.error_code in (None, *RATE_LIMITED):
            message.error_code = exc.code
        if _rate_limited(exc):
            delay = exc.retry_after if exc.retry_after is not None else RATE_LIMITED_WAIT
            message.attempts = max(0, message.attempts - 1)  # the claim counted it
            message.status = MessageStatus.PENDING
            message.next_attempt_at = due_after(delay)
            return delay
        if exc.opted_out:
            session.get(Contact, message.contact_id).opted_out = True
        if exc.retryable and (attempts < settings.send_max_attempts or exc.retry_after is not None):
            delay = max(backoff(attempts, base=SEND_BACKOFF_BASE), exc.retry_after or 0)
            message.status = MessageStatus.PENDING
            message.next_attempt_at = due_after(delay)
            return delay
        message.status = MessageStatus.FAILED
        message.next_attempt_at = None
        metrics.messages_failed.labels(message.channel).inc()
        return None
