"""Fuzzing every channel's parser (issue #15): `verify`, `parse`, `answer` and `serve` over
hostile WebRequests, with no web server or database.

Properties: nothing but MalformedInbound is ever raised; whatever is parsed passes
`fields.bounded` (or is refused by it as malformed) and is then within every column's bounds,
free of NUL and lone surrogates; a resident's message is addressed to the very sender the call
names; each input is handled within tests.fuzzing.SLOWEST_ALLOWED.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.channels import fields, messenger, sms, telegram, webchat
from bot.channels.base import (
    DeliveryStatus,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Membership,
    WebReply,
    WebRequest,
)
from bot.channels.registry import with_webhooks
from bot.settings import Settings
from tests.conftest import TELEGRAM_SECRET, TWILIO_TOKEN
from tests.fuzzing import figures, fuzz_settings, hostile_text, json_values, mutated, said
from tests.test_channel_parsers import recorded

WEBCHAT_SECRET = "fuzz-webchat-secret"
SETTINGS = Settings(
    twilio_auth_token=TWILIO_TOKEN,
    telegram_secret_token=TELEGRAM_SECRET,
    webchat_secret=WEBCHAT_SECRET,
    redis_url="redis://127.0.0.1:1/0",  # nothing listens: the mailbox is "unavailable"
)
TWILIO_FORMS = ["inbound_sms", "inbound_mms", "status_delivered", "status_undelivered"]
TWILIO_FORMS += ["whatsapp_text", "whatsapp_location", "whatsapp_media"]
TELEGRAM_UPDATES = [
    "text",
    "start_deep_link",
    "photo",
    "location",
    "venue",
    "callback_query",
    "edited_message",
    "my_chat_member_kicked",
    "my_chat_member_member",
]


def request(
    *,
    subpath: str = "",
    form: dict | None = None,
    body: bytes = b"",
    headers: dict | None = None,
    method: str = "POST",
    query: dict | None = None,
) -> WebRequest:
    return WebRequest(
        method=method,
        url="https://intake.example.org/webhooks/x" + subpath,
        path="/webhooks/x" + subpath,
        query_string="",
        subpath=subpath,
        query=query or {},
        headers={k.lower(): v for k, v in (headers or {}).items()},
        form=form or {},
        body=body,
    )


def strings_in(value: Any) -> list[str]:
    """Every string in a value (dict keys included), walked without recursion."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__)
    return found


def check_bounded(event: Event) -> Event | None:
    """The event as stored, checked within bounds; None when `bounded` refuses it."""
    assert isinstance(event, (Inbound, DeliveryStatus, Membership, Ignored))
    try:
        kept = fields.bounded(event)
    except MalformedInbound:
        return None
    for text in strings_in(kept):
        assert "\x00" not in text
        assert not any("\ud800" <= c <= "\udfff" for c in text), "a lone surrogate is kept"
        text.encode("utf-8")
    if isinstance(kept, Inbound):
        assert len(kept.address) <= fields.MAX_ADDRESS
        assert kept.external_id is None or len(kept.external_id) <= fields.MAX_ID
        assert len(kept.text) <= fields.MAX_TEXT
        assert len(kept.payload.media) <= fields.MAX_MEDIA
        if kept.payload.location is not None:
            lat, lon = kept.payload.location
            assert -90 <= lat <= 90 and -180 <= lon <= 180
        json.dumps(kept.payload.to_dict(), allow_nan=False)
    if isinstance(kept, DeliveryStatus):
        assert len(kept.external_id) <= fields.MAX_ID
        assert kept.error_code is None or len(kept.error_code) <= fields.MAX_ERROR_CODE
    if isinstance(kept, Membership):
        assert len(kept.address) <= fields.MAX_ADDRESS
    return kept


def exercise(channel, call: WebRequest) -> tuple[bool, list[Event]]:
    """Every entry of the channel's contract a webhook call reaches (parse even when `verify`
    refuses the call); whether it is genuine, and the events kept."""
    served = channel.serve(call, SETTINGS)
    assert served is None or isinstance(served, WebReply)
    reason = channel.verify(call, SETTINGS)
    assert reason is None or isinstance(reason, str)
    try:
        events = channel.parse(call)
    except MalformedInbound:
        return reason is None, []
    assert isinstance(events, list)
    assert isinstance(channel.answer(call, events), WebReply)
    kept = [kept for kept in (check_bounded(event) for event in events) if kept is not None]
    return reason is None, kept


# --- Twilio -----------------------------------------------------------------------------------

TWILIO_FIELDS = ["From", "To", "Body", "MessageSid", "SmsMessageSid", "SmsSid", "NumMedia"]
TWILIO_FIELDS += ["MediaUrl0", "MediaUrl1", "MediaUrl9", "MediaUrl10", "MessageStatus"]
TWILIO_FIELDS += ["SmsStatus", "ErrorCode"]
# WhatsApp's own (the same webhook): a shared location, the profile, a template button's tap.
TWILIO_FIELDS += ["Latitude", "Longitude", "Address", "Label", "ProfileName", "WaId"]
TWILIO_FIELDS += ["ButtonText", "ButtonPayload"]


SENDERS = ["+13125550142", "+13125550143", "+447700900123", "whatsapp:+13125550142"]
_sids = itertools.count(1)


@st.composite
def twilio_calls(draw, form_only: bool = False) -> tuple[str, dict[str, str]]:
    """A Twilio webhook's subpath and form: a recorded one with hostile fields, or any. Each
    message is new (its own MessageSid), from one of a few senders, saying something."""
    form = dict(recorded("twilio", draw(st.sampled_from(TWILIO_FORMS))))
    if "Body" in form:
        sid = f"SM{next(_sids):032x}"
        form.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
        form.update(From=draw(st.sampled_from(SENDERS)), Body=draw(said(form=form_only)))
    for name in ("From", "MessageSid", "NumMedia", "Body", "ErrorCode"):  # the fields that count
        if draw(st.integers(0, 5)) == 0:
            form[name] = draw(hostile_text(form=form_only))
    for name in draw(st.lists(st.sampled_from(TWILIO_FIELDS), max_size=3)):
        if draw(st.booleans()):
            form[name] = draw(hostile_text(form=form_only))
        else:
            form.pop(name, None)
    extra = st.dictionaries(hostile_text(form=form_only, max_size=12), hostile_text(form=form_only))
    form.update(draw(extra))
    subpath = draw(st.sampled_from(["", "", "/status", "/other", "/status/x"]))
    return subpath, form


def test_fuzz_twilio_parser():
    with figures("parser: Twilio (sms)") as kept:

        @fuzz_settings(600)
        @given(call=twilio_calls())
        def one(call):
            subpath, form = call
            with kept.trying():
                _, events = exercise(sms.CHANNEL, request(subpath=subpath, form=form))
                for event in events:
                    if isinstance(event, Inbound):
                        sender = form["From"].strip()
                        if sender.startswith("whatsapp:"):  # WhatsApp's: its own channel
                            assert event.channel == "whatsapp" and event.address == sender
                        else:
                            assert event.channel == "sms" and event.address == "tel:" + sender

        one()


# --- Telegram ---------------------------------------------------------------------------------


def telegram_senders(update: Any) -> set[str]:
    """The addresses an Update may name as its sender: its chats' and users' ids."""
    found: set[str] = set()
    if not isinstance(update, dict):
        return found
    for part in ("message", "callback_query", "my_chat_member", "edited_message"):
        item = update.get(part)
        if not isinstance(item, dict):
            continue
        for holder in (item, item.get("message")):
            if not isinstance(holder, dict):
                continue
            for key in ("chat", "from"):
                inner = holder.get(key)
                if isinstance(inner, dict) and type(inner.get("id")) is int:
                    found.add(telegram.address_for(inner["id"]))
    return found


CHATS = [512345678, 512345679, 7000000001]  # chats no other module sends to
_updates = itertools.count(900000001)


def _fresh(update: dict, draw) -> dict:
    """A recorded Update made new (its own ids), from one of a few chats, saying something."""
    update["update_id"] = next(_updates)
    chat = draw(st.sampled_from(CHATS))
    for part in ("message", "edited_message", "callback_query", "my_chat_member"):
        item = update.get(part)
        if not isinstance(item, dict):
            continue
        for holder in (item, item.get("message")):
            if isinstance(holder, dict):
                for key in ("chat", "from"):
                    if isinstance(holder.get(key), dict) and holder[key].get("is_bot") is not True:
                        holder[key]["id"] = chat
        if "message_id" in item:
            item["message_id"] = update["update_id"] % 1_000_000
        if part == "callback_query":
            item["id"] = str(update["update_id"])
            item["data"] = draw(said())
        elif "text" in item:
            item["text"] = draw(said())
    return update


@st.composite
def telegram_bodies(draw) -> tuple[Any, bytes]:
    """A Telegram webhook body: a recorded Update with hostile parts, any JSON, or any bytes."""
    kind = draw(st.sampled_from(["mutated"] * 6 + ["json", "bytes", "deep"]))
    if kind == "mutated":
        update = _fresh(recorded("telegram", draw(st.sampled_from(TELEGRAM_UPDATES))), draw)
        update = mutated(update, draw)
        return update, json.dumps(update).encode()
    if kind == "json":
        value = draw(json_values())
        return value, json.dumps(value).encode()
    if kind == "deep":
        depth = draw(st.integers(20, 3000))
        inner = b"[" * depth + b"]" * depth
        return None, b'{"update_id": 1, "message": ' + inner + b"}"
    return None, draw(st.binary(max_size=200))


def test_fuzz_telegram_parser():
    with figures("parser: Telegram") as kept:

        @fuzz_settings(600)
        @given(body=telegram_bodies(), subpath=st.sampled_from(["", "", "/x"]))
        def one(body, subpath):
            update, raw = body
            headers = {telegram.SECRET_HEADER: TELEGRAM_SECRET}
            with kept.trying():
                call = request(subpath=subpath, body=raw, headers=headers)
                _, events = exercise(telegram.CHANNEL, call)
                for event in events:
                    if isinstance(event, (Inbound, Membership)):
                        assert event.address in telegram_senders(update)

        one()


# --- web chat ---------------------------------------------------------------------------------


@st.composite
def webchat_calls(draw) -> tuple[str, WebRequest]:
    """A web chat call: a session's message (hostile fields), a poll, a session, any body."""
    session = draw(st.sampled_from(["sessionA", "sessionB", "s" * 22]))
    token = f"{session}.{webchat._signature(session, WEBCHAT_SECRET)}"
    if draw(st.integers(0, 9)) == 0:
        token = draw(hostile_text(max_size=30))
    headers = {"Authorization": f"Bearer {token}"}
    message = {"id": "m1", "text": "pothole on Elm", "reply_to": f"{session}:9"}
    body = mutated(message, draw, changes=3)
    raw = json.dumps(body).encode() if draw(st.integers(0, 5)) else draw(st.binary(max_size=100))
    method = draw(st.sampled_from(["POST", "POST", "GET"]))
    subpath = draw(st.sampled_from(["", "/", "/session", "/messages", "/other"]))
    query = {"after": draw(hostile_text(form=True))} if subpath == "/messages" else {}
    return session, request(method=method, subpath=subpath, body=raw, headers=headers, query=query)


def test_fuzz_webchat_parser():
    with figures("parser: web chat") as kept:

        @fuzz_settings(500)
        @given(call=webchat_calls())
        def one(call):
            session, web_request = call
            with kept.trying():
                genuine, events = exercise(webchat.CHANNEL, web_request)
                for event in events:
                    if genuine and isinstance(event, Inbound):
                        assert event.address == webchat.CHANNEL.address_for(session)

        one()


def test_every_channel_with_a_webhook_is_fuzzed():
    assert {channel.name for channel in with_webhooks()} == {
        "sms",
        "telegram",
        "webchat",
        "messenger",
        "x",  # tests/test_x_fuzz.py
    }


# --- Messenger --------------------------------------------------------------------------------

MESSENGER_SECRET = "fuzz-meta-app-secret"
MESSENGER_SETTINGS = Settings(meta_app_secret=MESSENGER_SECRET, meta_verify_token="fuzz-verify")
MESSENGER_EVENTS = ["text", "quick_reply", "postback", "location", "image", "echo", "delivery"]
MESSENGER_EVENTS += ["read"]
PSIDS = ["6782041937154823", "6782041937154824", "1"]
_mids = itertools.count(1)


def messenger_senders(body: Any) -> set[str]:
    """The addresses a webhook body may name as a sender: its events' sender ids."""
    found: set[str] = set()
    entries = body.get("entry") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        events = entry.get("messaging") if isinstance(entry, dict) else None
        for item in events if isinstance(events, list) else []:
            sender = item.get("sender") if isinstance(item, dict) else None
            psid = sender.get("id") if isinstance(sender, dict) else None
            if isinstance(psid, (str, int)) and not isinstance(psid, bool):
                found.add(messenger.address_for(str(psid).strip()))
    return found


@st.composite
def messenger_bodies(draw) -> tuple[Any, bytes]:
    """A Messenger webhook body: recorded events batched with hostile parts, any JSON, or any
    bytes."""
    kind = draw(st.sampled_from(["mutated"] * 6 + ["json", "bytes"]))
    if kind == "mutated":
        events = []
        for name in draw(st.lists(st.sampled_from(MESSENGER_EVENTS), min_size=1, max_size=3)):
            [item] = recorded("messenger", name)["entry"][0]["messaging"]
            item["sender"]["id"] = draw(st.sampled_from(PSIDS))
            for part in ("message", "postback"):  # each message new (its own mid)
                if isinstance(item.get(part), dict) and "mid" in item[part]:
                    item[part]["mid"] = f"m_fuzz{next(_mids)}"
            if isinstance(item.get("message"), dict) and "text" in item["message"]:
                item["message"]["text"] = draw(said())
            events.append(item)
        body = {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": events}]}
        body = mutated(body, draw)
        return body, json.dumps(body).encode()
    if kind == "json":
        value = draw(json_values())
        return value, json.dumps(value).encode()
    return None, draw(st.binary(max_size=200))


def test_fuzz_messenger_parser():
    from tests.fakes.graph_api import sign

    with figures("parser: Messenger") as kept:

        @fuzz_settings(600)
        @given(
            body=messenger_bodies(),
            method=st.sampled_from(["POST", "POST", "GET"]),
            query=st.dictionaries(
                st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"]),
                hostile_text(max_size=40),
            ),
        )
        def one(body, method, query):
            data, raw = body
            headers = {messenger.SIGNATURE_HEADER: sign(raw, MESSENGER_SECRET)}
            with kept.trying():
                call = request(method=method, body=raw, headers=headers, query=query)
                served = messenger.CHANNEL.serve(call, MESSENGER_SETTINGS)
                if served is not None:
                    assert served.status in (200, 403)
                    if served.status == 200:  # the challenge, only for the right token
                        assert query.get("hub.verify_token") == "fuzz-verify"
                        assert served.body == query.get("hub.challenge")
                assert messenger.CHANNEL.verify(call, MESSENGER_SETTINGS) is None
                try:
                    events = messenger.CHANNEL.parse(call)
                except MalformedInbound:
                    return
                for event in events:
                    kept_event = check_bounded(event)
                    if isinstance(kept_event, Inbound):
                        assert kept_event.address in messenger_senders(data)

        one()


# --- Mastodon: notifications read by polling (no webhook) --------------------------------------

MASTODON_SETTINGS = Settings(_env_file=None, mastodon_base_url="https://mastodon.example")
MASTODON_NOTIFICATIONS = ["notification_mention", "notification_favourite"]
HTML_PIECES = [
    "<p>",
    "</p>",
    "<br>",
    "<br />",
    '<a href="https://x.example/@city" class="u-url mention">@<span>city</span></a>',
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<![CDATA[",
    "<a href='",
    "&lt;",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "<",
    ">",
    "<div",
    "@city ",
]


@st.composite
def mastodon_notifications(draw) -> Any:
    """A recorded notification with hostile parts and HTML, or any JSON."""
    if draw(st.integers(0, 7)) == 0:
        return draw(json_values())
    note = recorded("mastodon", draw(st.sampled_from(MASTODON_NOTIFICATIONS)))
    pieces = draw(st.lists(st.one_of(st.sampled_from(HTML_PIECES), said()), max_size=12))
    note["status"]["content"] = "".join(pieces)
    return mutated(note, draw)


def test_fuzz_mastodon_parser():
    from bot.channels import mastodon

    with figures("parser: Mastodon") as kept:

        @fuzz_settings(500)
        @given(note=mastodon_notifications())
        def one(note):
            with kept.trying():
                try:
                    event = mastodon.parse_notification(note, MASTODON_SETTINGS, "1")
                except MalformedInbound:
                    return
                stored = check_bounded(event)
                if isinstance(stored, Inbound):
                    assert not re.search(r"<[/!?]?[A-Za-z]", stored.text), "a tag is kept"
                    acct = note["status"]["account"]["acct"]
                    assert (
                        stored.address.removeprefix("mastodon:").split("@")[0]
                        == acct.lstrip("@").split("@")[0]
                    )

        one()
