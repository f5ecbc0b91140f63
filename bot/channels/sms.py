"""SMS through Twilio: the webhook's form in (messages and delivery statuses, signed with the
account's auth token), the Messages API out."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels import fields
from bot.channels.base import (
    Abilities,
    Channel,
    DeliveryStatus,
    Event,
    Inbound,
    MalformedInbound,
    Outgoing,
    SendError,
    SendRate,
    WebReply,
    WebRequest,
)
from bot.channels.twilio_http import make_client
from bot.channels.twilio_media import twilio_media_request
from bot.media.types import MediaRequest
from bot.payloads import InboundPayload
from bot.settings import Settings

NAME = "sms"
WHATSAPP = "whatsapp"  # the channel of Twilio's WhatsApp messages, on this same webhook
WHATSAPP_PREFIX = "whatsapp:"
WEBHOOK_PATH = "/webhooks/twilio"
STATUS_PATH = WEBHOOK_PATH + "/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SIGNATURE_HEADER = "X-Twilio-Signature"
LOOKUP_SLACK = timedelta(seconds=2)
MAX_BODY = 1600  # characters: Twilio's limit for one message's body (longer ones are cut)
MAX_MEDIA = 10  # Twilio attaches at most 10 media to one message
MAX_SENDER = fields.MAX_ADDRESS - len("tel:")
# Twilio's forms are a few kB (a 1600-character body, ten media links): a body larger than this
# is refused (413) before it is read.
MAX_REQUEST_BYTES = 64 * 1024

log = logging.getLogger(__name__)

# Twilio's default Advanced Opt-Out keywords: Twilio answers them itself, and stops our sends.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})

# Twilio's message statuses in our words; None: not news to us (we store "sent" on accept).
STATUSES = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "partially_delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

# Twilio's refusals of a message's photo, not its words (https://www.twilio.com/docs/api/errors/
# 12300, 12301: the photo's type; 21620: its URL; 30019 and 63034: its size; 63019: Twilio could
# not download it; 63021: WhatsApp refused the content): the words go again with the link.
MEDIA_REFUSED = frozenset({"12300", "12301", "21620", "30019", "63019", "63021", "63034"})

# Twilio error codes that no retry will fix (https://www.twilio.com/docs/api/errors).
OPTED_OUT = {"21610"}
# 21655: a template's Content SID Twilio does not know; 63016: a WhatsApp message in free words
# outside the 24-hour window (a template is needed).
PERMANENT = {
    "21211",
    "21408",
    "21612",
    "21614",
    "21606",
    "21603",
    "21604",
    "21617",
    "30006",
    "21655",
    "21656",
    "63016",
}


def parse_inbound(form: Mapping[str, str]) -> Inbound:
    """Normalise an incoming-message webhook's form; MalformedInbound if the sender or the
    message id is missing or not well formed (no cutting: a cut number is someone else's).

    The words are cleaned and cut to MAX_BODY; the photos are the MediaUrl<n> fields present,
    at most MAX_MEDIA of them whatever NumMedia says (a count that is not a small number is
    read as "what is there"), each a web link or left out.
    """
    sid = fields.identifier(
        form.get("MessageSid") or form.get("SmsMessageSid") or "",
        fields.MAX_ID,
        "MessageSid",
        ascii_only=True,
    )
    # A phone number, or a channel's address ("whatsapp:+1..."): ASCII, as Twilio writes them.
    sender = fields.identifier(form.get("From") or "", MAX_SENDER, "From", ascii_only=True)
    count = fields.count(form.get("NumMedia"), MAX_MEDIA)
    found = (fields.url(form.get(f"MediaUrl{i}")) for i in range(count))
    body = fields.text(form.get("Body") or "", MAX_BODY)
    return Inbound(
        channel=NAME,
        address=f"tel:{sender}",
        external_id=sid,
        text=body,
        payload=InboundPayload(media=tuple(url for url in found if url), raw=kept_raw(form)),
    )


# What of Twilio's form is kept with the message (`InboundPayload.raw`): ids and counts for
# tracing a message with Twilio. Never From/To, the sender's city, state or zip, or the words.
RAW_KEPT = (
    "MessageSid",
    "SmsMessageSid",
    "AccountSid",
    "MessagingServiceSid",
    "NumMedia",
    "NumSegments",
    "SmsStatus",
    "ApiVersion",
)


def kept_raw(form: Mapping[str, str], kept: tuple[str, ...] = RAW_KEPT) -> dict[str, str]:
    """The part of an incoming message's form stored with it (`kept`: RAW_KEPT for SMS)."""
    return {key: str(form[key]) for key in kept if form.get(key) is not None}


def parse_status(form: Mapping[str, str]) -> DeliveryStatus:
    """Read a status callback's form; MalformedInbound if it lacks the sid or status, or the
    sid is not well formed. An error code or recipient that is not well formed is left out.

    A WhatsApp message's status (its To or From is "whatsapp:+1...") is the WhatsApp
    channel's, as the message it is about."""
    sid = fields.identifier(
        form.get("MessageSid") or form.get("SmsSid") or "", fields.MAX_ID, "MessageSid"
    )
    status = fields.line(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not status:
        raise MalformedInbound("missing MessageStatus")
    to = fields.optional_identifier(form.get("To") or "", MAX_SENDER)
    error_code = fields.optional_identifier(form.get("ErrorCode") or "", fields.MAX_ERROR_CODE)
    opted_out = error_code in OPTED_OUT
    whatsapp = any(str(form.get(name) or "").startswith(WHATSAPP_PREFIX) for name in ("To", "From"))
    word = STATUSES.get(status) or ("failed" if opted_out else None)
    return DeliveryStatus(
        WHATSAPP if whatsapp else NAME,
        sid,
        word,
        error_code,
        opted_out_address=_address(to) if to and opted_out else None,
        media_refused=word in ("failed", "undelivered") and error_code in MEDIA_REFUSED,
    )


def _address(number: str) -> str:
    """A contact's address for a number Twilio names: "tel:+1...", or "whatsapp:+1..." as
    Twilio writes a WhatsApp one."""
    return number if number.startswith(WHATSAPP_PREFIX) else f"tel:{number}"


# (pid, account, token, API base) -> this process's Twilio client.
_clients: dict[tuple[int, str, str, str], Client] = {}


def twilio_client(settings: Settings) -> Client:
    """This process's Twilio REST client, built at the first send and kept: its connections,
    and the parts of Twilio's library it loads at first use (most of a send's cost)."""
    key = (
        os.getpid(),
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base,
    )
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = make_client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            api_base=settings.twilio_api_base or None,
        )
    return client


def warm(settings: Settings) -> None:
    """Load the parts of Twilio's library a send uses, before a worker forks its processes."""
    if settings.twilio_account_sid and settings.twilio_auth_token:
        twilio_client(settings).messages  # noqa: B018 - the attribute loads the REST API


def _send(out: Outgoing, settings: Settings) -> str:
    """Send one text through Twilio and return its message SID.

    A photo the city published (a status update's) goes as MMS where TWILIO_MMS says the
    number sends it, and otherwise as its link at the end of the text.
    """
    text = out.text
    params: dict[str, Any] = {"to": number_of(out.address)}
    photo = out.payload.media_url
    if photo and settings.twilio_mms:
        params["media_url"] = [photo]
    elif photo:
        text = with_link(text, photo, MAX_BODY)
    params["body"] = text
    if settings.twilio_messaging_service_sid:
        params["messaging_service_sid"] = settings.twilio_messaging_service_sid
    else:
        params["from_"] = settings.twilio_from_number
    return create_message(params, out, settings)


def number_of(address: str) -> str:
    """The number Twilio sends to for a contact's address: "+1..." for "tel:+1...";
    another channel's address ("whatsapp:+1...") as it is written."""
    return address.removeprefix("tel:")


def with_link(text: str, url: str, limit: int) -> str:
    """`text` with `url` on a line of its own at the end, the words cut to keep within `limit`
    characters (the text alone, cut, when the link itself does not fit)."""
    if len(url) >= limit:
        return text[:limit]
    room = limit - len(url) - 1  # the newline before the link
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…" if room >= 1 else ""
    return f"{text}\n{url}" if text else url


def create_message(params: dict[str, Any], out: Outgoing, settings: Settings) -> str:
    """Create one message with Twilio's Messages API (`params` as the twilio client takes
    them, our status callback added); its SID. Raises SendError."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise SendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set", retryable=False)
    client = twilio_client(settings)
    if settings.public_base_url:
        # Our id rides along, so a status (or a doubled send) is traced to one message of ours.
        params["status_callback"] = (
            f"{settings.public_base_url.rstrip('/')}{STATUS_PATH}?m={out.message_id}"
        )
    try:
        message = client.messages.create(**params)
    except TwilioRestException as exc:
        raise _send_error(exc) from exc
    except TwilioException as exc:  # no answer: connection refused, timeout
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    except OSError as exc:
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    return message.sid


def find_sent_to(
    to: str, body: str | None, since: datetime, settings: Settings, taken: set[str]
) -> str | None:
    """The SID of a message of ours that Twilio accepted for `to` at or after `since` (a send
    whose answer was lost).

    Twilio's Messages list, newest first, filtered by recipient ("+1..." on SMS,
    "whatsapp:+1..." on WhatsApp): sent through the API since the message was created, with
    the words `body` (None: any words, for a template whose words Twilio wrote), and not
    already the SID of another message of ours (`taken`). Raises SendError when Twilio cannot
    be asked.
    """
    client = twilio_client(settings)
    since = since - LOOKUP_SLACK  # Twilio's dates have whole seconds
    try:
        for message in client.messages.list(to=to, limit=50):
            created = message.date_created
            if created is not None and created < since:
                break
            if (
                (body is None or message.body == body)
                and message.direction == "outbound-api"
                and message.sid not in taken
            ):
                return message.sid
    except TwilioRestException as exc:
        raise _send_error(exc) from exc
    except (TwilioException, OSError) as exc:
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    return None


def _sent_text(out: Outgoing, settings: Settings) -> str:
    """The words `_send` posts for `out` (its text, with a photo's link where no MMS)."""
    photo = out.payload.media_url
    return with_link(out.text, photo, MAX_BODY) if photo and not settings.twilio_mms else out.text


def _send_error(exc: TwilioRestException) -> SendError:
    code = str(exc.code) if exc.code is not None else None
    text = f"Twilio {exc.status} error {code}: {exc.msg}"
    if code in OPTED_OUT:
        return SendError(text, retryable=False, code=code, opted_out=True)
    if code in PERMANENT:
        return SendError(text, retryable=False, code=code)
    retryable = exc.status is None or exc.status >= 500 or exc.status == 429
    return SendError(text, retryable=retryable, code=code)


def signed_url(request: WebRequest, settings: Settings) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path when set, else the URL we were called at."""
    base = settings.public_base_url
    if not base:
        return request.url
    query = request.query_string
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


class Sms(Channel):
    """SMS through Twilio."""

    name = NAME
    scheme = "tel"
    webhook_path = WEBHOOK_PATH
    provider = "Twilio"
    max_request_bytes = MAX_REQUEST_BYTES
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        carrier_keywords=True,
        media=True,
        text_budget=3,
        budget_unit="segments",
        finds_sent=True,
        phone_numbers=True,
    )

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The Twilio sender's rate (SMS_SENDS_PER_SECOND): its number or Messaging Service."""
        sender = settings.twilio_messaging_service_sid or settings.twilio_from_number
        return (SendRate(f"sms:{sender}", settings.sms_sends_per_second),)

    def with_link(self, text: str, url: str) -> str:
        """The words cut to leave room for the link within Twilio's 1600 characters."""
        return with_link(text, url, MAX_BODY)

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Refuse a call not signed with our account's auth token (checked in constant time
        by Twilio's validator)."""
        token = settings.twilio_auth_token
        signature = request.header(SIGNATURE_HEADER)
        if not token:
            return "TWILIO_AUTH_TOKEN is not set"
        if not signature:
            return f"no {SIGNATURE_HEADER} header"
        url = signed_url(request, settings)
        if not RequestValidator(token).validate(url, request.form, signature):
            return f"signature does not match {url} (is PUBLIC_BASE_URL right?)"
        return None

    def parse(self, request: WebRequest) -> list[Event]:
        """An incoming message, or (at /status) a delivery status. Twilio calls this one
        webhook for WhatsApp too: a message from "whatsapp:+1..." is the WhatsApp channel's."""
        if request.subpath == "":
            if str(request.form.get("From") or "").strip().startswith(WHATSAPP_PREFIX):
                # (imported here: the WhatsApp channel builds on this module's Twilio calls)
                from bot.channels import whatsapp

                return [whatsapp.parse_inbound(request.form)]
            return [parse_inbound(request.form)]
        if request.subpath == "/status":
            update = parse_status(request.form)
            return [update] if update.status is not None else []  # queued, sending: not news
        raise MalformedInbound(f"no Twilio webhook at {request.subpath!r}")

    def answer(self, request: WebRequest, events: list[Event]) -> WebReply:
        """Empty TwiML for a message (the replies go out through the API); 204 for a status."""
        if request.subpath == "/status":
            return WebReply(status=204)
        return WebReply(body=EMPTY_TWIML, content_type="text/xml")

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Send one text through Twilio and return its message SID."""
        return _send(out, settings)

    def find_sent(
        self, out: Outgoing, since: datetime, settings: Settings, taken: set[str]
    ) -> str | None:
        """Look the message up in Twilio's Messages list (a send whose answer was lost)."""
        return find_sent_to(
            number_of(out.address), _sent_text(out, settings), since, settings, taken
        )

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """A MediaUrl of our Twilio account, fetched with its credentials at Twilio's API host
        only (bot/channels/twilio_media.py); MediaRefused for any other link."""
        return twilio_media_request(reference, settings)


CHANNEL = Sms()
