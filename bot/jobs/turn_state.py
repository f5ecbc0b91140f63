"""What a turn keeps and reads about a conversation: the resident's state, the engine's
context, the stored message as the engine's event, button taps on earlier questions, and the
channel's words that switch every message off or on."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, select

from bot import geocoding
from bot.channels.registry import channel_for
from bot.city_synonyms import load_synonyms
from bot.handoff_hours import parse_hours
from bot.jobs.common import message_chars, store_reply
from bot.languages import load_languages
from bot.media import pipeline
from bot.models import Contact, Conversation, Direction, Message
from bot.payloads import InboundPayload, OutboundPayload
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.understanding import similarity_for
from conversations import Context, Place, State, Turn
from conversations import Message as MessageEvent

log = logging.getLogger(__name__)


def engine_context(services: tuple, settings: Settings) -> Context:
    """What the engine may know: the catalogue, the city, its languages and phrases."""
    return Context(
        services=services,
        city=settings.city_name,
        timezone=settings.city_timezone,
        languages=load_languages(settings.locale_dir or None),
        emergency_number=settings.emergency_number,
        synonyms=load_synonyms(settings.synonyms_file),
        ask_optional=settings.optional_questions(),
        similar=similarity_for(services, settings),
        outside_text=settings.outside_city_text,
        nearby_off=settings.duplicates_off(),
        # Staff in or out now (the worker's clock: the engine has none), for AGENT.
        handoff=parse_hours(settings.handoff_hours).mode(utcnow(), settings.city_timezone),
        handoff_hours=settings.handoff_hours,
        handoff_closed_text=settings.handoff_closed_text,
    )


def for_channel(context: Context, channel: str) -> Context:
    """The context for a resident on `channel`: its replies fitted to that channel's messages."""
    return replace(context, message_chars=message_chars(channel))


def resident_state(conversation: Conversation, contact: Contact) -> State:
    """The stored state, with what the contact keeps across reports (language, consent)."""
    state = State.from_dict(conversation.state)
    if not state.language and contact.language and not state.language_chosen:
        state.language = contact.language
    if state.consent is None:
        state.consent = contact.contact_consent
    return state


def store_turn(
    session: Session, conversation: Conversation, contact: Contact, turn: Turn, always: bool = False
) -> list[Message]:
    """Keep a turn taken outside a resident's message (a time-out, a handoff's end) and store
    its replies, flushed (ids set) and left to the caller to deliver after its commit."""
    keep_state(conversation, contact, turn.state)
    conversation.updated_at = utcnow()  # the idle clock starts again
    stored = [store_reply(session, conversation, reply, always=always) for reply in turn.replies]
    session.flush()
    return stored


def keep_state(conversation: Conversation, contact: Contact, state: State) -> None:
    """Store the state, and on the contact what outlives it (language for later notices)."""
    conversation.state = state.to_dict()
    contact.language = state.language or None
    contact.contact_consent = state.consent


def _stale_tap(session: Session, contact_id: int, reply_to: str | None) -> bool:
    """True when a button tap answers an earlier question than the one last asked (also one
    asked but not delivered yet: a double tap on YES at an address read-back must not answer
    the summary that follows it, which files the report)."""
    if not reply_to:
        return False
    recent = session.exec(
        select(Message)
        .where(Message.contact_id == contact_id, Message.direction == Direction.OUT)
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    for sent in recent:
        reply = OutboundPayload.from_dict(sent.payload).reply
        if reply is not None and reply.is_question:
            return sent.external_id != reply_to
    return False


def _switches_messages(contact: Contact, conversation: Conversation, text: str) -> str | None:
    """Apply an opt-out or opt-in keyword: "out", "in" (nothing more to answer), or None."""
    abilities = channel_for(contact.channel).abilities
    word = " ".join(text.split()).upper().strip("./! ")  # Telegram's /start is START
    if word in abilities.opt_out_words:
        contact.opted_out = True
        conversation.state = State().to_dict()  # a half-made report is dropped with the texts
        return "out"
    if contact.opted_out and word in abilities.opt_in_words:
        contact.opted_out = False
        # A carrier (Twilio) confirms the opt-in itself; elsewhere the engine greets them.
        return "in" if abilities.carrier_keywords else None
    return None


def _photos_taken_at(
    message: Message, payload: InboundPayload, settings: Settings
) -> tuple[float, float] | None:
    """The message's photos fetched (bot.media.pipeline); where the first one that says so
    was taken. A photo that fails is the pipeline's to retry: the turn goes on without it."""
    if not payload.media:
        return None
    try:
        return pipeline.prepare_message(
            message.contact_id, message.channel, message.id, payload.media, settings
        )
    except (OperationalError, InterfaceError):
        raise  # the database is down: the message waits for the next job
    except Exception as exc:  # noqa: BLE001
        log.warning("message %s: its photos were not fetched: %s", message.id, type(exc).__name__)
        return None


def _message_event(message: Message, settings: Settings) -> MessageEvent:
    """The stored message as the engine's event, a shared pin named by reverse geocoding; its
    photos fetched first, and where the first of them was taken (its EXIF's GPS, within the
    city's bounds) named the same way."""
    payload = InboundPayload.from_dict(message.payload)
    place, outside = None, False
    if payload.location and geocoding.point(*payload.location):  # a pin on the globe
        lat, lon = payload.location
        outside = not geocoding.in_city(lat, lon, settings)
        name = "" if outside else payload.place_name or geocoding.reverse(lat, lon, settings)
        place = Place(address=name, lat=lat, lon=lon)
    taken = _photos_taken_at(message, payload, settings)
    photo_place = None
    if taken is not None and place is None and geocoding.in_city(*taken, settings):
        photo_place = Place(address=geocoding.reverse(*taken, settings), lat=taken[0], lon=taken[1])
    return MessageEvent(
        text=message.text,
        at=message.created_at,
        location=place,
        location_outside=outside,
        media=payload.media,
        photo_location=photo_place,
    )
