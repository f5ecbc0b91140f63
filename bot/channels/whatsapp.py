"""WhatsApp through Twilio: the same webhook as SMS in, Twilio's Messages API out.

A resident on WhatsApp is `whatsapp:+15551234567`: the same number texting by SMS is another
contact (`tel:+15551234567`), and each hears back on the channel it wrote on. Twilio calls one
webhook for both (`POST /webhooks/twilio`, signed with the account's auth token): the SMS
channel checks the signature, answers with empty TwiML and hands a message whose `From` is
"whatsapp:..." to `parse_inbound` here, and a status callback about a WhatsApp message becomes
the WhatsApp channel's (`sms.parse_status`).

What is read of Twilio's form: `Body`; the photos as media references, exactly as on SMS
(`MediaUrl<n>`, at most `NumMedia`); a shared location (`Latitude`, `Longitude`, and its
`Label` or `Address` as the place's name) as the message's pin; a tap on a template's
quick-reply button (`ButtonText`, else `ButtonPayload`) as the message's words, and the message
it was on (`OriginalRepliedMessageSid`). Not kept, anywhere (neither the message nor its `raw`):
`ProfileName`, `WaId` and `ChannelMetadata`, which carry the name the resident gave WhatsApp
and their WhatsApp id: personal data they did not give for a report.

Out, within WhatsApp's 24-hour window (the resident wrote less than `REPLY_WINDOW` minus
`WINDOW_MARGIN` ago: `Outgoing.last_inbound_at`), free words with WhatsApp's formatting:
numbered options with the number in bold (`*1.* Pothole`), the YES/NO words of a yes/no
question in bold, a location question ending with how to share a pin, and a status photo
attached. Outside it, only an approved template may go (Twilio's `content_sid` and
`content_variables`): a notice about a report goes as its kind's template
(`WHATSAPP_TEMPLATE_<KIND>`) with the variables TEMPLATE_VARIABLES numbers; a reply, or a
notice whose kind has no template, is not sent: SendError (permanent, code 63016, Twilio's for
a free-form message outside the window), so the message is stored failed and listed for staff
(`intake311 failures`), never dropped silently. Twilio's own 63016, when its clock and ours
disagree, arrives as a failed status and ends the same way.

Opt-out words are SMS's; Twilio's Advanced Opt-Out does not answer them on WhatsApp, so the
bot confirms an opt-out itself (`carrier_keywords=False`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels import fields, sms
from bot.channels.base import (
    Abilities,
    Channel,
    Inbound,
    MalformedInbound,
    Outgoing,
    SendError,
    SendRate,
)
from bot.channels.twilio_media import twilio_media_request
from bot.languages import load_languages
from bot.media.types import MediaRequest
from bot.payloads import InboundPayload, ReplyIntent
from bot.settings import Settings
from conversations.language import ENGLISH, Language

NAME = "whatsapp"
PREFIX = "whatsapp:"
MAX_BODY = 1600  # characters: Twilio's limit for one message's body
MAX_CAPTION = 1024  # WhatsApp's longest caption under a photo: a longer text gets the link
MAX_MEDIA = 10
REPLY_WINDOW = timedelta(hours=24)
# A reply is sent as free words only this long before the window closes: it may wait for its
# sender's pace, or in Twilio's queue, before WhatsApp sees it.
WINDOW_MARGIN = timedelta(minutes=5)
# Twilio's error for a free-form WhatsApp message outside the window; ours for the same case.
OUTSIDE_WINDOW = "63016"

# A template's variables, numbered as Twilio's Content API takes them ({"1": ..., "2": ...}),
# per kind of notice (`OutboundPayload.notice`), from the notice's values by name: the city's
# request number, the service's name, the city's status word and notes, the city's reason for
# refusing a report, and the whole notice as the resident would have read it ("text").
TEMPLATE_VARIABLES: dict[str, tuple[str, ...]] = {
    "filed": ("number", "service", "text"),
    "status": ("number", "service", "status", "notes", "text"),
    "delayed": ("service", "text"),
    "saved": ("service", "text"),
    "rejected": ("service", "reason", "text"),
}
# WhatsApp refuses a template variable that is empty, holds a newline or a tab, or more than
# four spaces in a row; and a template whose text with its variables passes 1024 characters
# (Twilio's error 63021). The variables together keep to MAX_VARIABLES, leaving the rest to the
# template's own words; the longest (the whole notice, the city's notes) is cut first.
MAX_VARIABLES = 640
EMPTY_VARIABLE = "-"
ELLIPSIS = "…"

# How to share a pin in WhatsApp (📎 on Android, + on iPhone), in the languages shipped.
PIN_HINT = {
    "en": "To send a pin: tap 📎 (or +), then Location.",
    "es": "Para enviar un punto en el mapa: toque 📎 (o +) y luego Ubicación.",
    "tl": "Para magpadala ng pin: i-tap ang 📎 (o +), pagkatapos ay Location.",
    "vi": "Để gửi vị trí: chạm vào 📎 (hoặc +), rồi chọn Vị trí.",
    "zh": "发送位置：点按 📎（或 +），然后选择“位置”。",
}
YES_NO_KINDS = frozenset({"yes_no", "yes_no_private"})
ANSWER_GROUPS = ("yes", "no", "private")

# What of Twilio's form is kept with the message (`InboundPayload.raw`): SMS's ids and counts,
# and the kind of message. Never From/To, ProfileName, WaId, ChannelMetadata or the words.
RAW_KEPT = (*sms.RAW_KEPT, "MessageType")

_COORDINATE = re.compile(r"[-+]?[0-9]{1,3}(\.[0-9]{1,20})?")
_WORD = re.compile(r"\w+")


# --- inbound ----------------------------------------------------------------------------------


def parse_inbound(form: Mapping[str, str]) -> Inbound:
    """Normalise Twilio's incoming-message form for a WhatsApp message; MalformedInbound if
    the sender is not a WhatsApp address or the message id is missing or not well formed."""
    sid = fields.identifier(
        form.get("MessageSid") or form.get("SmsMessageSid") or "",
        fields.MAX_ID,
        "MessageSid",
        ascii_only=True,
    )
    sender = fields.identifier(form.get("From") or "", fields.MAX_ADDRESS, "From", ascii_only=True)
    if not sender.startswith(PREFIX) or len(sender) == len(PREFIX):
        raise MalformedInbound("From is not a WhatsApp address")
    count = fields.count(form.get("NumMedia"), MAX_MEDIA)
    found = (fields.url(form.get(f"MediaUrl{i}")) for i in range(count))
    # A tap on a template's quick-reply button: its id (the city gives each button the words it
    # stands for: STOP, STATUS) before its label.
    button = fields.text(form.get("ButtonPayload") or form.get("ButtonText") or "", MAX_BODY)
    location = pin(form.get("Latitude"), form.get("Longitude"))
    place_name = fields.line(form.get("Label")) or fields.line(form.get("Address"))
    return Inbound(
        channel=NAME,
        address=sender,
        external_id=sid,
        text=button or fields.text(form.get("Body") or "", MAX_BODY),
        payload=InboundPayload(
            media=tuple(url for url in found if url),
            location=location,
            place_name=place_name if location else "",
            # No reply_to: the bot's own WhatsApp messages carry no buttons (a template's tap is
            # words, never an answer to an earlier question of ours).
            raw=sms.kept_raw(form, RAW_KEPT),
        ),
    )


def pin(latitude: object, longitude: object) -> tuple[float, float] | None:
    """A shared location's coordinates, sent as decimal degrees in text; None when either is
    missing, not a plain decimal number, or off the globe."""
    found = [_coordinate(value) for value in (latitude, longitude)]
    if found[0] is None or found[1] is None:
        return None
    return fields.point(found[0], found[1])


def _coordinate(value: object) -> float | None:
    if not isinstance(value, str) or not _COORDINATE.fullmatch(value.strip()):
        return None
    return float(value)


# --- outbound ---------------------------------------------------------------------------------


def window_open(out: Outgoing, now: datetime | None = None) -> bool:
    """Whether free words may still go to the resident: they wrote within the 24-hour window,
    WINDOW_MARGIN before it closes.

    The confirmation of STOP or DELETE MY DATA (`opt_out_notice`) answers the message just
    received, which the erasure took with the rest of the resident's messages: it goes.
    """
    if out.payload.opt_out_notice:
        return True
    if out.last_inbound_at is None:
        return False
    now = now or datetime.now(UTC)
    return now - out.last_inbound_at < REPLY_WINDOW - WINDOW_MARGIN


def formatted(out: Outgoing, settings: Settings) -> str:
    """The message's words with WhatsApp's formatting: options numbered in bold, the answer
    words of a yes/no question in bold, a location question ending with how to share a pin."""
    reply = out.reply
    if reply is None:
        return out.text
    language = _language(reply, settings)
    text = reply.text
    if reply.expects in YES_NO_KINDS:
        text = _bold_answers(text, language)
    lines = [text]
    lines += [f"*{number}.* {label}" for number, label in enumerate(reply.options, start=1)]
    if reply.expects == "location":
        lines.append(PIN_HINT.get(language.code) or PIN_HINT["en"])
    return "\n".join(lines)


def _language(reply: ReplyIntent, settings: Settings) -> Language:
    languages = load_languages(settings.locale_dir or None)
    return languages.get(reply.language or "en") or ENGLISH


def _bold_answers(text: str, language: Language) -> str:
    """`text` with the answers a yes/no question asks for (YES, NO, PRIVATE, in capitals, in
    English or the resident's language) in bold, in its last line (the question) alone: the
    resident's own words quoted above it ("NO PARKING") stay as they wrote them."""
    head, newline, question = text.rpartition("\n")
    return head + newline + _bold_words(question, language)


def _bold_words(text: str, language: Language) -> str:
    answers = set(ANSWER_GROUPS)
    for group in ANSWER_GROUPS:
        answers.update(word.lower() for word in language.words.get(group, ()))

    def bold(match: re.Match[str]) -> str:
        word = match.group(0)
        answer = len(word) > 1 and word.isupper() and word.lower() in answers
        return f"*{word}*" if answer else word

    return _WORD.sub(bold, text)


def free_form(out: Outgoing, settings: Settings) -> tuple[str, str | None]:
    """The words and the photo to attach (None: none) of a message sent within the window: a
    status photo attached under words that fit a caption, or else its link after them."""
    body = formatted(out, settings)[:MAX_BODY]
    photo = out.payload.media_url
    if photo and len(body) > MAX_CAPTION:
        return sms.with_link(body, photo, MAX_BODY), None
    return body, photo


def template_variables(kind: str, values: Mapping[str, str]) -> dict[str, str]:
    """The template variables of a notice of `kind` (TEMPLATE_VARIABLES), as WhatsApp takes
    them: on one line, never empty, together at most MAX_VARIABLES characters."""
    names = TEMPLATE_VARIABLES.get(kind, ())
    found = [_variable(values.get(name)) for name in names]
    while sum(map(len, found)) > MAX_VARIABLES:
        longest = max(range(len(found)), key=lambda i: len(found[i]))
        over = sum(map(len, found)) - MAX_VARIABLES
        keep = max(1, len(found[longest]) - over - len(ELLIPSIS))
        found[longest] = found[longest][:keep].rstrip() + ELLIPSIS
    return {str(n): value for n, value in enumerate(found, start=1)}


def _variable(value: object) -> str:
    """One template variable: its words on one line; "-" when empty."""
    words = " ".join(str(value or "").split())
    return words or EMPTY_VARIABLE


def _sender(settings: Settings) -> dict[str, str]:
    """Whom a WhatsApp message comes from: TWILIO_WHATSAPP_FROM, or else the Messaging
    Service (which picks its WhatsApp sender)."""
    if settings.twilio_whatsapp_from:
        return {"from_": settings.twilio_whatsapp_from}
    if settings.twilio_messaging_service_sid:
        return {"messaging_service_sid": settings.twilio_messaging_service_sid}
    raise SendError(
        "TWILIO_WHATSAPP_FROM (or TWILIO_MESSAGING_SERVICE_SID) is not set", retryable=False
    )


def _send(out: Outgoing, settings: Settings) -> str:
    """Send one message to a WhatsApp contact through Twilio; its message SID."""
    params: dict[str, Any] = {"to": out.address, **_sender(settings)}
    if window_open(out):
        body, photo = free_form(out, settings)
        params["body"] = body
        if photo:
            params["media_url"] = [photo]
        return sms.create_message(params, out, settings)
    kind = out.payload.notice
    template = settings.whatsapp_template(kind)
    if not template:
        what = f"{kind} notices" if kind else "replies"
        raise SendError(
            f"outside WhatsApp's 24-hour window and no template for {what}",
            retryable=False,
            code=OUTSIDE_WINDOW,
        )
    params["content_sid"] = template
    params["content_variables"] = json.dumps(
        template_variables(kind, out.payload.values), ensure_ascii=False
    )
    return sms.create_message(params, out, settings)


class WhatsApp(Channel):
    """WhatsApp through Twilio (its webhook is the SMS channel's)."""

    name = NAME
    scheme = "whatsapp"
    webhook_path = None  # Twilio calls /webhooks/twilio for both: bot.channels.sms
    provider = "Twilio"
    abilities = Abilities(
        opt_out_words=sms.OPT_OUT_WORDS,
        opt_in_words=sms.OPT_IN_WORDS,
        carrier_keywords=False,  # Twilio's Advanced Opt-Out does not cover WhatsApp
        media=True,
        text_budget=MAX_BODY,
        budget_unit="characters",
        reply_window=REPLY_WINDOW,
        finds_sent=True,
        phone_numbers=True,
    )

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The WhatsApp sender's rate (WHATSAPP_SENDS_PER_SECOND; Twilio's default 80)."""
        sender = settings.twilio_whatsapp_from or settings.twilio_messaging_service_sid
        return (SendRate(f"whatsapp:{sender}", settings.whatsapp_sends_per_second),)

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        """Outside the 24-hour window (63016): which template setting would carry it."""
        if error_code != OUTSIDE_WINDOW:
            return ""
        window = "the resident last wrote over 24 hours ago, and WhatsApp then takes only an "
        if not notice:
            return window + "approved template, which a reply cannot be: it is not sent"
        setting = f"WHATSAPP_TEMPLATE_{notice.upper()}"
        if settings.whatsapp_template(notice):
            return (
                f"{window}approved template: {setting} is set, so check at Twilio that it is "
                "approved for WhatsApp, then retry"
            )
        return f"{window}approved template: set {setting} (README), then retry"

    def with_link(self, text: str, url: str) -> str:
        """The words cut to leave room for the link within Twilio's 1600 characters."""
        return sms.with_link(text, url, MAX_BODY)

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Send one message through Twilio: free words within the window, a notice's
        template outside it (SendError when there is none)."""
        return _send(out, settings)

    def find_sent(
        self, out: Outgoing, since: datetime, settings: Settings, taken: set[str]
    ) -> str | None:
        """Look the message up in Twilio's Messages list (a send whose answer was lost): by
        its words, or by recipient alone where it may have gone as a template."""
        may_be_template = bool(settings.whatsapp_template(out.payload.notice))
        body = None if may_be_template else free_form(out, settings)[0]
        return sms.find_sent_to(out.address, body, since, settings, taken)

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """A photo is fetched from Twilio as an MMS photo is (bot/channels/twilio_media.py):
        a MediaUrl of our account, with its credentials at Twilio's API host only."""
        return twilio_media_request(reference, settings)


CHANNEL = WhatsApp()
