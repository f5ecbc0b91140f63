"""Facebook Messenger through Meta's Messenger Platform: page webhooks in, the Send API out.

A resident on Messenger is `messenger:<PSID>` (their page-scoped id: the same person writing to
another page has another id). Meta calls `/webhooks/messenger`:

- GET, once, when the webhook is set up: the `hub.mode`/`hub.verify_token`/`hub.challenge`
  handshake, answered with the challenge only when the mode is "subscribe" and the token is
  META_VERIFY_TOKEN (compared in constant time); 403 otherwise.
- POST, for every batch of events: signed with the app secret (`X-Hub-Signature-256`:
  "sha256=" and the hex HMAC-SHA256 of the raw body), checked before anything is parsed.
  The body is `{"object": "page", "entry": [{"id", "time", "messaging": [event, ...]}]}`
  ("Webhooks for Messenger", "messages", "messaging_postbacks", "message_deliveries" in the
  Webhook Events Reference; see tests/fixtures/messenger/SOURCES.md). Each event is:
  - a message: its words, or the payload of the quick reply tapped (`message.quick_reply.
    payload`: the option's number, or yes/no/private); a location attachment's coordinates as
    the pin; an image attachment's URL as a media reference (fetched later from Meta's CDN,
    `media_request`). The message's `mid` is its id (a redelivery is stored once). An echo of
    our own message (`is_echo`) is ignored.
  - a postback (a button of the page's own, "Get Started"): its payload (or its title) as
    words, under its `mid` (or, where an older payload has none, "pb:<the address's keyed
    hash>:<timestamp>": never the PSID itself).
  - a delivery: each of `delivery.mids` delivered. A read, a reaction, anything else: ignored.
  Every accepted call is answered 200: Meta retries any other answer and, failing long enough,
  disables the webhook, so a call we can read but not store is answered 200 too
  (`Messenger.unstorable`).

Out, with the Send API (`POST /me/messages`, bot/channels/graph_api.py): the words (numbered
options kept as lines, for quick replies' titles are cut at 20 characters), the engine's
options and yes/no as quick replies (payload: the option's number, or yes/no/private, which the
engine reads as typed), and a status photo as an image attachment after them (`_send`).
Within Messenger's 24-hour window a reply goes as `RESPONSE` and a notice as `UPDATE`; after
it, only a notice about a report may go, tagged (`MESSAGE_TAG` with META_MESSAGE_TAG,
`ACCOUNT_UPDATE`: "Message Tags", https://developers.facebook.com/docs/messenger-platform/
send-messages/message-tags/); anything else is refused here (SendError, permanent, code
OUTSIDE_WINDOW, Meta's own code and subcode for that refusal) and listed for staff. Meta counts
the window from when the resident wrote, we from when we stored it: a notice Meta refuses as
outside it goes again at once, tagged (nothing went the first time); a reply stays refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.channels import fields, graph_api
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    DeliveryStatus,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Outgoing,
    SendError,
    SendRate,
    WebReply,
    WebRequest,
)
from bot.channels.graph_api import GraphError
from bot.channels.whatsapp import REPLY_WINDOW, window_open
from bot.languages import load_languages
from bot.media.download import host_matches, parse_url
from bot.media.types import MediaRefused, MediaRequest
from bot.payloads import InboundPayload, ReplyIntent
from bot.settings import Settings
from bot.timeutil import utcnow
from conversations import texts
from conversations.language import ENGLISH, Language

NAME = "messenger"
WEBHOOK_PATH = "/webhooks/messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEXT = 2000  # characters of one message's text, the Send API's limit
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20  # characters of a quick reply's title
ELLIPSIS = "…"
# Meta's CDN hosts for the files residents send (attachment URLs): scontent*.xx.fbcdn.net,
# cdn.fbsbx.com and lookaside.fbsbx.com.
CDN_HOSTS = frozenset({"*.fbcdn.net", "*.fbsbx.com"})
# The webhook fields the page is subscribed to (`intake311 messenger set-webhook`).
SUBSCRIBED_FIELDS = ("messages", "messaging_postbacks", "message_deliveries")
# Meta's error code and subcode for a message sent outside the allowed window; ours for a
# message we do not send for that reason.
OUTSIDE_WINDOW = "10/2018278"
# How long after the resident's last message Meta takes a person's reply with HUMAN_AGENT.
HUMAN_AGENT_WINDOW = timedelta(days=7)
TOKEN_REFUSED = "190"
UNAVAILABLE = "551"  # "This person isn't available right now."
UNAVAILABLE_SUBCODE = "1545041"  # the same, with code 551 or 200: no permission is missing
NO_PERMISSION = ("10", "200", "230")
# Meta's rate limits (app, user, page, API: "Rate Limit error"): no wait is named, so this one.
RATE_LIMITS = frozenset({4, 17, 32, 613})
RATE_LIMIT_WAIT = 60.0
# The app's (4) and the page's (32) limits hold every resident's sends, not one's.
SENDER_WIDE_LIMITS = frozenset({4, 32})
# 613 with these subcodes is no rate limit but Meta's warning about the page's tagged messages
# to this person (2018338: "bothersome or abusive"; 1893016: a repeated opt-in request):
# sending it again is what Meta warns against, so it fails for good, for staff.
TAG_WARNINGS = frozenset({(613, 2018338), (613, 1893016)})
TEMPORARY = frozenset({1, 2, 1200})  # unknown error, "retry later", temporary send failure
YES_NO = ((texts.YES_BUTTON, "yes"), (texts.NO_BUTTON, "no"))
YES_PRIVATE_NO = ((texts.YES_BUTTON, "yes"), (texts.PRIVATE_BUTTON, "private"), YES_NO[1])
_PSID = re.compile(r"[0-9]{1,32}")
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")

log = logging.getLogger(__name__)


def address_for(psid: str) -> str:
    """The contact address of a Messenger user (their page-scoped id)."""
    return f"{NAME}:{psid}"


def psid_of(address: str) -> str:
    """The PSID in a 'messenger:<PSID>' address; SendError (permanent) if it is not one."""
    psid = address.removeprefix(f"{NAME}:")
    if psid == address or not _PSID.fullmatch(psid):
        raise SendError("not a Messenger address", retryable=False)
    return psid


# --- the webhook ------------------------------------------------------------------------------


def signature_problem(body: bytes, header: str, secret: str) -> str | None:
    """Why `header` is not Meta's signature of `body` with the app secret; None when it is."""
    if not secret:
        return "META_APP_SECRET is not set"
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return f"{SIGNATURE_HEADER} is not sha256=<hex>"
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(match.group(1).lower().encode(), expected.encode()):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None


def handshake(query: Mapping[str, str], settings: Settings) -> WebReply:
    """The answer to the verification GET: the challenge as text when the mode is "subscribe"
    and the token is META_VERIFY_TOKEN, else 403."""
    expected = settings.meta_verify_token
    given = query.get("hub.verify_token") or ""
    challenge = query.get("hub.challenge") or ""
    genuine = (
        bool(expected)
        and query.get("hub.mode") == "subscribe"
        and hmac.compare_digest(given.encode(), expected.encode())
    )
    if not genuine or not challenge or len(challenge) > 256 or not challenge.isascii():
        return WebReply(status=403, body="forbidden")
    if not challenge.isprintable():
        return WebReply(status=403, body="forbidden")
    return WebReply(body=challenge)


def parse_body(data: object) -> list[Event]:
    """The events of one webhook call; MalformedInbound when it is not one Meta sends."""
    if not isinstance(data, Mapping) or not isinstance(data.get("entry"), list):
        raise MalformedInbound("not a Messenger webhook (no entry list)")
    if data.get("object") != "page":
        return [Ignored("not a page's webhook")]
    events: list[Event] = []
    for entry in data["entry"]:
        if not isinstance(entry, Mapping):
            raise MalformedInbound("an entry is not an object")
        messaging = entry.get("messaging")
        if messaging is None:
            events.append(Ignored("entry without messaging events (standby, changes)"))
            continue
        if not isinstance(messaging, list):
            raise MalformedInbound("messaging is not a list")
        for item in messaging:
            events.extend(parse_event(item))
    return events or [Ignored("no events")]


def parse_event(item: object) -> list[Event]:
    """One `messaging` event (a delivery names one or more of our messages)."""
    if not isinstance(item, Mapping):
        raise MalformedInbound("a messaging event is not an object")
    message = item.get("message")
    if isinstance(message, Mapping) and message.get("is_echo") is True:
        return [Ignored("echo of the page's own message")]
    psid = _sender(item)
    if psid is None:
        return [Ignored("a sender known only by user_ref")]
    if isinstance(message, Mapping):
        return [_from_message(psid, message, item.get("timestamp"))]
    postback = item.get("postback")
    if isinstance(postback, Mapping):
        return [_from_postback(psid, postback, item.get("timestamp"))]
    delivery = item.get("delivery")
    if isinstance(delivery, Mapping):
        return _from_delivery(delivery)
    if "read" in item:
        return [Ignored("read receipt")]
    return [Ignored("event type not handled")]


def _sender(item: Mapping) -> str | None:
    """The sender's PSID; None for a sender known only by a `user_ref` (a chat plugin's
    visitor, who has no conversation with the page yet)."""
    sender = item.get("sender")
    psid = sender.get("id") if isinstance(sender, Mapping) else None
    if psid is None and isinstance(sender, Mapping) and sender.get("user_ref") is not None:
        return None
    if isinstance(psid, int) and not isinstance(psid, bool):
        psid = str(psid)
    psid = fields.identifier(psid, 32, "sender id", ascii_only=True)
    if not _PSID.fullmatch(psid):
        raise MalformedInbound("sender id is not a page-scoped id")
    return psid


def _mid(value: object) -> str:
    return fields.identifier(value, fields.MAX_ID, "mid", ascii_only=True)


def _timestamp(value: object) -> int:
    """Milliseconds since the epoch: a JSON integer, or digits in a string (the
    messaging_postbacks reference says every property is a string, and shows one so)."""
    if isinstance(value, str) and _digits(value) and len(value) <= fields.MAX_DIGITS:
        return int(value)
    return fields.integer(value, "timestamp")


def _digits(value: str) -> bool:
    """Whether `value` is ASCII digits alone ("²³" and "٣" are digits to str.isdigit)."""
    return value.isascii() and value.isdigit()


def kept_raw(kind: str, mid: str, timestamp: object, attachments: list[str]) -> dict[str, Any]:
    """What of an event is stored with its message (`InboundPayload.raw`): its kind, mid, time
    and attachment types. Never the sender's or page's ids, the words or attachment URLs."""
    raw: dict[str, Any] = {"kind": kind, "mid": mid}
    if type(timestamp) is int or (isinstance(timestamp, str) and _digits(timestamp)):
        raw["timestamp"] = timestamp
    if attachments:
        raw["attachments"] = attachments
    return raw


def _from_message(psid: str, message: Mapping, timestamp: object) -> Event:
    mid = _mid(message.get("mid"))
    quick_reply = message.get("quick_reply")
    tapped = quick_reply.get("payload") if isinstance(quick_reply, Mapping) else None
    words = fields.text(tapped, fields.MAX_TEXT) if isinstance(tapped, str) else ""
    words = words or fields.text(message.get("text"), fields.MAX_TEXT)
    attachments = message.get("attachments") or []
    if not isinstance(attachments, list):
        raise MalformedInbound("attachments is not a list")
    location, media, kinds = None, [], []
    for attachment in attachments[: fields.MAX_MEDIA]:
        if not isinstance(attachment, Mapping):
            continue
        kind = attachment.get("type")
        payload = attachment.get("payload")
        payload = payload if isinstance(payload, Mapping) else {}
        kinds.append(fields.line(kind, 32) or "?")
        if kind == "location" and location is None:
            coordinates = payload.get("coordinates")
            if isinstance(coordinates, Mapping):
                location = fields.point(coordinates.get("lat"), coordinates.get("long"))
        elif kind == "image" and "sticker_id" not in payload:  # a sticker is no photo
            url = fields.url(payload.get("url"))
            if url:
                media.append(url)
    return Inbound(
        channel=NAME,
        address=address_for(psid),
        external_id=mid,
        text=words,
        payload=InboundPayload(
            media=tuple(media),
            location=location,
            # A shared location's title is Meta's ("Pinned Location", "<name>'s Location"):
            # never the place's name, and may name the resident. Not kept.
            raw=kept_raw("message", mid, timestamp, kinds),
        ),
    )


def _from_postback(psid: str, postback: Mapping, timestamp: object) -> Event:
    if postback.get("mid") is not None:
        mid = _mid(postback.get("mid"))
    else:  # older payloads: the sender (by its keyed hash, as stored) and the time name it
        from bot.personal_data import address_key

        mid = f"pb:{address_key(address_for(psid))[:32]}:{_timestamp(timestamp)}"
    words = fields.text(postback.get("payload"), fields.MAX_TEXT) or fields.text(
        postback.get("title"), fields.MAX_TEXT
    )
    return Inbound(
        channel=NAME,
        address=address_for(psid),
        external_id=mid,
        text=words,
        payload=InboundPayload(raw=kept_raw("postback", mid, timestamp, [])),
    )


def _from_delivery(delivery: Mapping) -> list[Event]:
    """Each message a delivery names, delivered (a mid not well formed is passed over)."""
    mids = delivery.get("mids")
    found = (
        [fields.optional_identifier(m, fields.MAX_ID) for m in mids or ()]
        if isinstance(mids, list)
        else []
    )
    statuses: list[Event] = [DeliveryStatus(NAME, mid, "delivered") for mid in found if mid]
    return statuses or [Ignored("delivery without message ids")]


# --- sending ----------------------------------------------------------------------------------


def title(words: str) -> str:
    """A quick reply's title: at most MAX_TITLE characters, cut with "…"."""
    words = " ".join(words.split())
    return words if len(words) <= MAX_TITLE else words[: MAX_TITLE - 1].rstrip() + ELLIPSIS


def quick_replies(reply: ReplyIntent | None, say: Language = ENGLISH) -> list[dict[str, str]]:
    """The quick replies that answer the engine's reply: a choice's options (payload: the
    option's number) up to Messenger's 13, yes/no (payload: the answer word); none else."""
    if reply is None:
        return []
    if reply.expects in ("choice", "choices") and 0 < len(reply.options) <= MAX_QUICK_REPLIES:
        return [
            {"content_type": "text", "title": title(f"{n}. {label}"), "payload": str(n)}
            for n, label in enumerate(reply.options, start=1)
        ]
    if reply.expects in ("yes_no", "yes_no_private"):
        labels = YES_NO if reply.expects == "yes_no" else YES_PRIVATE_NO
        return [
            {"content_type": "text", "title": title(say(label)), "payload": data}
            for label, data in labels
        ]
    return []


def envelope(out: Outgoing, settings: Settings) -> dict[str, str]:
    """`messaging_type` (and `tag`) of a message: RESPONSE (a reply) or UPDATE (a notice)
    within the 24-hour window, MESSAGE_TAG with META_MESSAGE_TAG for a notice after it;
    SendError (permanent, OUTSIDE_WINDOW) for what may not go."""
    if window_open(out):
        return {"messaging_type": "UPDATE" if out.payload.notice else "RESPONSE"}
    if out.payload.agent:  # a person's reply: Meta's HUMAN_AGENT tag (7 days after they wrote)
        if out.last_inbound_at is None or utcnow() - out.last_inbound_at > HUMAN_AGENT_WINDOW:
            raise SendError(
                "outside Messenger's 7-day HUMAN_AGENT window: the resident has not written "
                "for over 7 days, an agent's reply is not sent",
                retryable=False,
                code=OUTSIDE_WINDOW,
            )
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    tag = settings.meta_message_tag
    if out.payload.notice and tag:
        return {"messaging_type": "MESSAGE_TAG", "tag": tag}
    notice = out.payload.notice
    what = f"a {notice} notice without META_MESSAGE_TAG" if notice else "a reply"
    raise SendError(
        f"outside Messenger's 24-hour window: {what} is not sent",
        retryable=False,
        code=OUTSIDE_WINDOW,
    )


def send_error(exc: GraphError) -> SendError:
    """Our words for a Send API failure: worth retrying (with Meta's wait), or not."""
    code = (
        None if exc.code is None else f"{exc.code}/{exc.subcode}" if exc.subcode else str(exc.code)
    )
    text = str(exc)
    if (exc.code, exc.subcode) in TAG_WARNINGS:
        return SendError(text, retryable=False, code=code)
    if exc.code in RATE_LIMITS or exc.status == 429:
        return SendError(
            text,
            retryable=True,
            code=code,
            retry_after=RATE_LIMIT_WAIT,
            sender_wide=exc.code in SENDER_WIDE_LIMITS,
        )
    if exc.status == 0 or exc.status >= 500 or exc.code in TEMPORARY:
        return SendError(text, retryable=True, code=code)  # no answer, Meta's own failure
    return SendError(text, retryable=False, code=code)


def _post(settings: Settings, psid: str, kind: dict[str, str], message: dict) -> str:
    body = {"recipient": {"id": psid}, **kind, "message": message}
    try:
        answer = graph_api.call(settings, "POST", "me/messages", body=body)
    except GraphError as exc:
        raise send_error(exc) from None
    return fields.optional_identifier(answer.get("message_id"), fields.MAX_ID) or ""


def _send(out: Outgoing, settings: Settings) -> str:
    """Send one message with the Send API; the mid of its words.

    The words go first, a status photo after them: a failure of the words (retried whole by
    the delivery job) has sent nothing, and once they went the message is sent, whatever
    becomes of its photo, so no call of one message is ever made twice. A photo Meta will not
    take goes as its link; a photo that failed otherwise is left out (logged)."""
    if not settings.meta_page_token:
        raise SendError("META_PAGE_TOKEN is not set", retryable=False)
    psid = psid_of(out.address)
    kind = envelope(out, settings)
    reply = out.reply
    say = ENGLISH
    if reply is not None:
        say = load_languages(settings.locale_dir or None).get(reply.language or "en", ENGLISH)
    message: dict[str, Any] = {"text": out.text[:MAX_TEXT]}
    buttons = quick_replies(reply, say)
    if buttons:
        message["quick_replies"] = buttons
    try:
        mid = _post(settings, psid, kind, message)
    except SendError as refused:
        kind = _tagged_instead(out, kind, refused, settings)
        mid = _post(settings, psid, kind, message)
    photo = out.payload.media_url
    if photo:
        _send_photo(settings, psid, kind, photo, out.message_id)
    return mid or f"out:{out.message_id}"


def _tagged_instead(
    out: Outgoing, kind: dict[str, str], refused: SendError, settings: Settings
) -> dict[str, str]:
    """The envelope to send a notice again with, at once, when Meta refused it untagged as
    outside the 24-hour window (its clock counts from when the resident wrote, ours from when
    we stored it): tagged with META_MESSAGE_TAG. Nothing went, so nothing goes twice. `refused`
    raised again for anything else (a reply, no tag set, a tagged send refused)."""
    tag = settings.meta_message_tag
    untagged = kind.get("messaging_type") != "MESSAGE_TAG"
    if refused.code != OUTSIDE_WINDOW or not (untagged and out.payload.notice and tag):
        raise refused
    log.info("message %s: Meta says the window closed; sent again tagged", out.message_id)
    return {"messaging_type": "MESSAGE_TAG", "tag": tag}


def _send_photo(
    settings: Settings, psid: str, kind: dict[str, str], photo: str, message_id: int
) -> None:
    """A status photo after its words, once: its link when Meta refuses the image for good;
    nothing raised (the words went, so the message is sent)."""
    image = {"attachment": {"type": "image", "payload": {"url": photo}}}
    try:
        _post(settings, psid, kind, image)
        return
    except SendError as refused:
        log.info("photo of message %s not sent to messenger (%s)", message_id, refused.code)
        if refused.retryable:
            return  # sending it again could make it twice, and the words went
    try:
        _post(settings, psid, kind, {"text": CHANNEL.with_link("", photo)})
    except SendError as lost:
        log.warning("link to the photo of message %s not sent (%s)", message_id, lost.code)


# --- the page's subscription (intake311 messenger) ---------------------------------------------


def webhook_url(settings: Settings) -> str:
    """Where Meta should call: PUBLIC_BASE_URL + /webhooks/messenger."""
    if not settings.public_base_url:
        raise ValueError("PUBLIC_BASE_URL is not set")
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH


def page(settings: Settings) -> dict[str, Any]:
    """The page META_PAGE_TOKEN is for (`GET /me?fields=id,name`)."""
    return graph_api.call(settings, "GET", "me", params={"fields": "id,name"})


def subscribe(settings: Settings) -> dict[str, Any]:
    """Subscribe the page to our app's webhook fields (`POST /{page-id}/subscribed_apps`);
    the page."""
    if not settings.meta_page_token or not settings.meta_app_secret:
        raise ValueError("META_PAGE_TOKEN and META_APP_SECRET must be set")
    found = page(settings)
    page_id = found.get("id")
    if not isinstance(page_id, str) or not _PSID.fullmatch(page_id):
        raise GraphError("Meta named no page for META_PAGE_TOKEN")
    graph_api.call(
        settings,
        "POST",
        f"{page_id}/subscribed_apps",
        params={"subscribed_fields": ",".join(SUBSCRIBED_FIELDS)},
    )
    return found


def subscriptions(settings: Settings) -> list[dict[str, Any]]:
    """The apps the page is subscribed to, with their fields (`GET /me/subscribed_apps`)."""
    data = graph_api.call(settings, "GET", "me/subscribed_apps").get("data")
    return [app for app in data if isinstance(app, dict)] if isinstance(data, list) else []


class Messenger(Channel):
    """Facebook Messenger through the Messenger Platform (a page's conversations)."""

    name = NAME
    scheme = NAME
    webhook_path = WEBHOOK_PATH
    provider = "Messenger"
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        buttons=True,
        # Meta retired the location quick reply (2019): a pin is shared from the app's menu.
        location_requests=False,
        media=True,
        text_budget=MAX_TEXT,
        budget_unit="characters",
        reply_window=REPLY_WINDOW,
    )

    def serve(self, request: WebRequest, settings: Settings) -> WebReply | None:
        """The verification GET (see `handshake`); nothing else is served."""
        if request.method != "GET":
            return None
        if request.subpath:
            return WebReply(status=404, body="not found")
        return handshake(request.query, settings)

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Refuse a call not signed with META_APP_SECRET (X-Hub-Signature-256)."""
        return signature_problem(
            request.body, request.header(SIGNATURE_HEADER), settings.meta_app_secret
        )

    def parse(self, request: WebRequest) -> list[Event]:
        """A batch of events per call."""
        if request.subpath:
            raise MalformedInbound(f"no Messenger webhook at {request.subpath!r}")
        return parse_body(request.json)

    def answer(self, request: WebRequest, events: list[Event]) -> WebReply:
        """200, as Meta asks of every event received."""
        return WebReply(body="EVENT_RECEIVED")

    def unstorable(self, request: WebRequest, problem: str) -> WebReply:
        """200, and the call set aside: Meta redelivers a call it did not get a 200 for and,
        after enough failures, disables the webhook for every resident."""
        return WebReply(body="EVENT_RECEIVED")

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Send one message (words, quick replies, a photo) with the Send API."""
        return _send(out, settings)

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The page's rate in all (MESSENGER_SENDS_PER_SECOND), then one person's
        (MESSENGER_USER_SENDS_PER_SECOND); a PSID is an address, so its keyed hash names its
        bucket. Meta's limit for one person holds that person's (the last); the app's or the
        page's (`SendError.sender_wide`) holds the page's (the first)."""
        from bot.personal_data import address_key

        return (
            SendRate("messenger:page", settings.messenger_sends_per_second),
            SendRate(
                f"messenger:user:{address_key(address)[:32]}",
                settings.messenger_user_sends_per_second,
            ),
        )

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        """What staff can do about a send Meta refused, or we did not make, for good."""
        if error_code == OUTSIDE_WINDOW:
            # Ours or Meta's refusal: Meta counts the window from when the resident wrote.
            window = (
                "the resident's 24-hour Messenger window had closed (they last wrote over 24 "
                "hours before, by our clock or Meta's), and Messenger then takes only "
            )
            if not notice:
                return window + "a tagged notice, which a reply cannot be: it is not sent"
            if settings.meta_message_tag:
                return (
                    f"{window}a tagged notice: retry (it goes tagged "
                    f"{settings.meta_message_tag}); if Meta refuses it again, check that the "
                    "page may use META_MESSAGE_TAG's tag"
                )
            return f"{window}a tagged notice: set META_MESSAGE_TAG (README), then retry"
        head = (error_code or "").split("/")[0]  # Meta's code, without its subcode
        if error_code in {f"{code}/{subcode}" for code, subcode in TAG_WARNINGS}:
            return (
                "Meta is warning the page about its tagged messages to this person (too many, "
                "or taken as bothersome): send fewer tagged messages (notices after the 24-hour "
                "window); retrying this one is what Meta warns against"
            )
        if head == TOKEN_REFUSED:
            return (
                "Meta refused META_PAGE_TOKEN (expired or revoked): make a new page access "
                "token, set META_PAGE_TOKEN, restart, then retry"
            )
        if head == UNAVAILABLE or (error_code or "").endswith(f"/{UNAVAILABLE_SUBCODE}"):
            return "the person cannot be reached on Messenger now (they blocked the page or left)"
        if head in NO_PERMISSION:
            return "the app lacks pages_messaging for this page: check the app's permissions"
        return ""

    def with_link(self, text: str, url: str) -> str:
        """The words cut to leave room for the link within Messenger's 2000 characters."""
        room = MAX_TEXT - len(url) - 1
        if room <= 0:
            return url[:MAX_TEXT]
        return f"{text[:room]}\n{url}" if text else url

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """An image attachment's URL: https on Meta's CDN (CDN_HOSTS) or on a host of
        META_MEDIA_HOSTS (the tests' stand-in, http allowed); no credentials. MediaRefused for
        anything else, with no request made."""
        target = parse_url(reference)
        extra = frozenset(
            h.strip().lower() for h in settings.meta_media_hosts.split(",") if h.strip()
        )
        if extra and host_matches(target, extra):
            schemes = frozenset({"https", target.scheme})
        elif target.scheme == "https" and host_matches(target, CDN_HOSTS):
            schemes = frozenset({"https"})
        else:
            raise MediaRefused(f"{target.origin} is not Meta's CDN")
        return MediaRequest(url=reference, hosts=CDN_HOSTS | extra, schemes=schemes)


CHANNEL = Messenger()
