"""What the jobs share: backoff, Redis locks, the Open311 client and stored replies (within
the per-sender reply limit)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from redis.lock import Lock
from sqlmodel import Session

from bot import queue, ratelimits
from bot.channels.registry import channel_for
from bot.languages import load_languages
from bot.models import Contact, Conversation, Direction, Message, MessageStatus, Report
from bot.open311.client import Open311Client
from bot.open311.dates import parse_datetime
from bot.open311.profile import Profile, load_profile
from bot.payloads import OutboundPayload, ReplyIntent
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import Reply, plaintext, texts
from conversations.language import ENGLISH, Language
from conversations.segments import measured_in


def backoff(attempts: int, base: float = 30, cap: float = 3600) -> float:
    """Seconds to wait before attempt number `attempts` + 1: doubling, capped."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def city_zone(settings: Settings) -> ZoneInfo:
    """The city's time zone (CITY_TIMEZONE)."""
    return ZoneInfo(settings.city_timezone)


def expected_at(value: object, settings: Settings) -> datetime | None:
    """An expected_datetime as an aware datetime; one without a zone is the city's own time
    (a date alone is that day in the city, not midnight UTC)."""
    return parse_datetime(value, naive_zone=city_zone(settings))


def expected_text(value: object, settings: Settings) -> str | None:
    """An expected_datetime as UTC text, so one instant spelled two ways compares equal."""
    when = expected_at(value, settings)
    if when is not None:
        return when.astimezone(UTC).isoformat()
    return str(value or "").strip() or None


def due_after(seconds: float) -> datetime:
    """The time `seconds` from now."""
    return utcnow() + timedelta(seconds=seconds)


def redis_lock(name: str, wait: float | None = 120, timeout: float | None = None) -> Lock:
    """A Redis lock shared by every worker, released by itself if its holder dies."""
    # A holder that keeps it longer than LOCK_TIMEOUT (or `timeout`) is presumed dead and loses
    # it; jobs that hold one end first (JOB_TIMEOUT, bot.queue.job_timeout), and the database's
    # own checks (claims, row locks) keep a late holder from doing work twice.
    return queue.get_redis().lock(
        f"intake311:lock:{name}",
        timeout=timeout or get_settings().lock_timeout,
        blocking_timeout=wait,
    )


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the named lock, waiting for it; raise if it cannot be had."""
    lock = redis_lock(name)
    if not lock.acquire(blocking=True):
        raise RuntimeError(f"could not lock {name}")
    try:
        yield
    finally:
        lock.release()


def open311_profile(settings: Settings) -> Profile:
    """The city's server profile (OPEN311_PROFILE), with the settings that override it."""
    profile = load_profile(settings.open311_profile)
    if settings.open311_batch_size:
        profile = replace(profile, batch_size=settings.open311_batch_size)
    return profile


# (pid, the settings that shape it) -> this process's client for the city.
_city_clients: dict[tuple, Open311Client] = {}


def city_client(settings: Settings) -> Open311Client:
    """This process's client for the city's Open311 server: built at its first use (a turn
    that never calls the city builds none), then kept with its connections and TLS context.

    Jobs run one at a time in a worker process, so one client serves them all; a forked
    process builds its own (the key holds the pid).
    """
    key = (
        os.getpid(),
        settings.open311_endpoint,
        settings.open311_api_key,
        settings.open311_jurisdiction_id,
        settings.open311_timeout,
        settings.open311_profile,
        settings.open311_batch_size,
    )
    client = _city_clients.get(key)
    if client is None:
        client = _city_clients[key] = open311_client(settings)
    return client


def open311_client(settings: Settings) -> Open311Client:
    """A new client for the city's Open311 server, shaped by its profile (the caller closes
    it; jobs use `city_client`)."""
    return Open311Client(
        settings.open311_endpoint,
        api_key=settings.open311_api_key,
        jurisdiction_id=settings.open311_jurisdiction_id,
        timeout=settings.open311_timeout,
        profile=open311_profile(settings),
    )


def store_reply(
    session: Session,
    conversation: Conversation,
    reply: Reply,
    always: bool = False,
    opted_out: bool = False,
) -> Message:
    """Store a reply as a pending outbound message (the caller queues its delivery).

    Every reply counts against the resident's reply limit (REPLY_LIMIT_PER_SENDER,
    bot.ratelimits), kept by the keyed hash of their address, not by contact: erasing their
    data does not restart it. Past the limit a reply is stored suppressed, never sent (but
    one that must `always` go, an opt-out's confirmation); the first one past it in the
    limit's window is followed by one last notice ("too many messages"), which the contact's
    next delivery sends. `opted_out`: both are sent to a resident opted out (an opt-out's or
    an erasure's confirmation).
    """
    contact = session.get(Contact, conversation.contact_id)
    message = _outbound(conversation, contact, reply, opted_out)
    recipient = ratelimits.recipient_of(contact.address_key, contact.address, contact.id)
    refused = ratelimits.reply_refusal(recipient)
    if refused is not None and always:
        refused = None  # counted all the same
    if refused is not None:
        message.status, message.error_code = MessageStatus.SUPPRESSED, refused.code
    session.add(message)
    if refused is not None and ratelimits.first_spent(recipient, refused):
        session.add(_outbound(conversation, contact, Reply(too_many(contact)), opted_out))
    return message


def _outbound(
    conversation: Conversation, contact: Contact, reply: Reply, opted_out: bool = False
) -> Message:
    return Message(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        channel=contact.channel,
        direction=Direction.OUT,
        text=plaintext.render(reply),
        payload=OutboundPayload(
            ReplyIntent(
                reply.text,
                tuple(reply.options),
                reply.expects,
                # for the channel's own words (button labels) in the resident's language
                language=(conversation.state or {}).get("language") or "",
            ),
            opt_out_notice=opted_out,
        ).to_dict(),
    )


def too_many(contact: Contact) -> str:
    """The polite "too many messages, please wait" text, in the resident's language."""
    settings = get_settings()
    languages = load_languages(settings.locale_dir or None)
    say = languages.get(contact.language or "en") or ENGLISH
    return say(texts.TOO_MANY).format(number=settings.emergency_number)


def add_notice(
    session: Session,
    report: Report,
    text: str,
    media_url: str | None = None,
    status: bool = False,
    *,
    kind: str = "",
    values: Mapping[str, str] | None = None,
) -> Message:
    """Store a notice about `report` for its resident, in the caller's transaction.

    `media_url` is a photo the city published (a status update's), for channels that show one;
    `status` marks a status check's notice, sent on the notices lane. `kind` says which notice
    it is (`payloads.NOTICE_KINDS`) and `values` what it says beyond the report's request
    number and service (a status, the city's notes or reason): a channel that may send only an
    approved template after a long silence (WhatsApp) fills the kind's template with them.
    """
    conversation = session.get(Conversation, report.conversation_id)
    return add_notice_to(
        session,
        conversation,
        report.service_request_id or "",
        report.service_name or "",
        text,
        media_url=media_url,
        status=status,
        kind=kind,
        values=values,
    )


def add_notice_to(
    session: Session,
    conversation: Conversation,
    number: str,
    service_name: str,
    text: str,
    media_url: str | None = None,
    status: bool = False,
    *,
    kind: str = "",
    values: Mapping[str, str] | None = None,
) -> Message:
    """add_notice for the resident of `conversation` about request `number` of the service
    `service_name`, which need not be their report (a request they follow)."""
    message = store_reply(session, conversation, Reply(text))
    payload = OutboundPayload.from_dict(message.payload)
    said = {"number": number, "service": service_name, **(values or {}), "text": text}
    marked = replace(
        payload, media_url=media_url or None, status_notice=status, notice=kind, values=said
    )
    message.payload = marked.to_dict()
    session.flush()
    return message


def message_chars(channel: str) -> int | None:
    """How long one message may be on `channel`, in characters; None where replies are fitted
    to SMS segments (the engine's `Context.message_chars`)."""
    abilities = channel_for(channel).abilities
    return abilities.text_budget if abilities.budget_unit == "characters" else None


def fitted_for(session: Session, report: Report) -> AbstractContextManager[None]:
    """Within it, notices about `report` (a city's notes, a refusal's reason) are cut to fit
    its resident's channel: SMS segments, or a whole message elsewhere."""
    contact = session.get(Contact, report.contact_id)
    return measured_in(message_chars(contact.channel) if contact else None)


def language_of(session: Session, report: Report, settings: Settings) -> Language:
    """The language the report's resident reads, for notices about it."""
    contact = session.get(Contact, report.contact_id)
    code = contact.language if contact else None
    return load_languages(settings.locale_dir or None).get(code or "en") or ENGLISH
