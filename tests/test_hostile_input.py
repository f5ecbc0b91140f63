"""Hostile input at the edge (issue #15): every defect found by probing the running stack, each
with its regression test, on SQLite and PostgreSQL.

The answers: a malformed field is a 400, or, where the provider would redeliver it and hold up
what follows, a 200 with the call set aside; never a 500; whatever valid part a call has is
kept (a text too long is cut, a bad photo link dropped, the words kept).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from urllib.parse import urlencode

import pytest
from sqlmodel import select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bot.channels import sms
from bot.channels.base import MalformedInbound, WebRequest
from bot.db import session_scope
from bot.models import Contact, Message, MessageStatus
from tests.conftest import PUBLIC_BASE_URL, TELEGRAM_SECRET, TWILIO_TOKEN, run_jobs
from tests.fakes.telegram_api import callback_update, message_update, post_update, sent
from tests.fuzzing import watchdog
from tests.twilio_signing import sign
from tests.twilio_webhooks import fixture, post_signed, sms_form
from webhooks import create_app

CHAT_ID = 512345601  # a chat no other module sends to (the fake numbers messages per chat)


@pytest.fixture
def client(env):
    return create_app({"TESTING": True}).test_client()


def _inbound() -> list[Message]:
    with session_scope() as session:
        return session.exec(select(Message).where(Message.direction == "in")).all()


def _contacts() -> list[str]:
    with session_scope() as session:
        return [c.address for c in session.exec(select(Contact)).all()]


# --- Twilio: counts, lengths, control characters ----------------------------------------------


class CountingForm(Mapping):
    """A form that counts how often it is read: work done, measured without a clock."""

    def __init__(self, data: dict[str, str]):
        self.data, self.reads = data, 0

    def __getitem__(self, key):
        self.reads += 1
        return self.data[key]

    def get(self, key, default=None):
        self.reads += 1
        if self.reads > 1000:
            raise AssertionError("the parser reads the form without bound")
        return self.data.get(key, default)

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


@pytest.mark.parametrize("count", ["10000000", str(10**400)])
def test_a_huge_media_count_is_read_as_the_media_present_not_iterated(count):
    form = CountingForm({**fixture("inbound_mms"), "NumMedia": count})
    request = WebRequest("POST", "u", "/p", "", "", {}, {}, form, b"")
    [event] = sms.CHANNEL.parse(request)
    assert event.payload.media == (fixture("inbound_mms")["MediaUrl0"],)
    assert form.reads < 100


@pytest.mark.parametrize("count", ["10000000", str(10**400), "lots", "-3", "\u0663", ""])
def test_signed_webhooks_with_any_media_count_are_answered_at_once(client, count):
    form = {**fixture("inbound_mms"), "NumMedia": count}
    with watchdog(5):
        response = post_signed(client, "/webhooks/twilio", form)
    assert response.status_code == 200
    [message] = _inbound()
    assert message.payload["media"] == [form["MediaUrl0"]]


@pytest.mark.parametrize(
    "field, value",
    [
        ("From", "+1312555\x000142"),
        ("MessageSid", "SM\x00" + "0" * 32),
        ("MessageSid", "SM" + "a" * 200),  # over the 128 characters of a provider id
        ("From", "+1" + "3" * 300),  # over the 255 characters of an address
        ("From", "+1312\ufffd5550142"),  # what a form's invalid UTF-8 may decode to
        ("From", "+1312\x1b[2J5550142"),  # a terminal escape: no one's number
    ],
    ids=["NUL in From", "NUL in sid", "long sid", "long From", "not ASCII", "escape"],
)
def test_a_malformed_sender_or_message_id_is_a_clear_400(client, field, value):
    form = sms_form("pothole")
    form[field] = value
    if field == "MessageSid":
        form["SmsMessageSid"] = form["SmsSid"] = value
    response = post_signed(client, "/webhooks/twilio", form)
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)
    assert _inbound() == [] and _contacts() == []


@pytest.mark.parametrize(
    "body, kept",
    [
        ("pot\x00hole", "pothole"),
        ("pot\x1b[31mhole\x07", "pot[31mhole"),
        ("line one\r\nline\ttwo", "line one\nline\ttwo"),
        ("pot\u202eeloh\u200b\ufeff", "poteloh"),
        ("\U0001f468\u200d\U0001f469 \u05e9\u200f1", "\U0001f468\u200d\U0001f469 \u05e9\u200f1"),
    ],
    ids=[
        "NUL",
        "control characters",
        "newline and tab kept",
        "invisible overrides",
        "joiners kept",
    ],
)
def test_the_words_are_kept_without_what_no_resident_types(client, body, kept):
    assert post_signed(client, "/webhooks/twilio", sms_form(body)).status_code == 200
    [message] = _inbound()
    assert message.text == kept
    assert "\x00" not in json.dumps(message.payload)


def test_a_form_that_is_not_utf8_is_kept_as_read_not_a_500(client):
    """A form cannot carry a lone surrogate: its bytes are not UTF-8, and are read as sent."""
    form = sms_form("x")
    body = urlencode({k: v for k, v in form.items() if k != "Body"}) + "&Body=pot%ED%A0%80hole"
    read = Request(
        EnvironBuilder(
            method="POST", data=body, content_type="application/x-www-form-urlencoded"
        ).get_environ()
    ).form
    signature = sign(PUBLIC_BASE_URL + "/webhooks/twilio", read.to_dict(flat=False), TWILIO_TOKEN)
    response = client.post(
        "/webhooks/twilio",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 200
    [message] = _inbound()
    assert message.text == read["Body"]


def test_a_lone_surrogate_in_a_twilio_form_is_replaced_by_the_parser():
    form = {**sms_form("pot\ud800hole"), "SmsSid": "x"}
    [event] = sms.CHANNEL.parse(WebRequest("POST", "u", "/p", "", "", {}, {}, form, b""))
    assert event.text == "pot\ufffdhole"
    form["From"] = "+1312\ud8005550142"
    with pytest.raises(MalformedInbound, match="From"):
        sms.CHANNEL.parse(WebRequest("POST", "u", "/p", "", "", {}, {}, form, b""))


def test_a_body_longer_than_twilio_sends_is_cut_not_dropped(client):
    body = "pothole " * 1000
    assert post_signed(client, "/webhooks/twilio", sms_form(body)).status_code == 200
    [message] = _inbound()
    assert message.text == body[: sms.MAX_BODY]
    assert "Body" not in message.payload["raw"]  # the words are kept once, as the text


def test_a_status_with_a_malformed_sid_or_error_code_is_not_a_500(client):
    status = fixture("status_undelivered")
    for broken in (
        {"MessageSid": "SM\x00x", "SmsSid": "SM\x00x"},
        {"ErrorCode": "3" * 500},
        {"To": "\x00" * 3, "ErrorCode": "21610"},
    ):
        response = post_signed(client, "/webhooks/twilio/status", {**status, **broken})
        assert response.status_code in (204, 400)


def test_a_form_larger_than_twilio_sends_is_refused_with_413(client):
    form = sms_form("x" * (128 * 1024))
    assert post_signed(client, "/webhooks/twilio", form).status_code == 413
    assert _inbound() == []


# --- Telegram: types, numeric ranges, Unicode, depth ------------------------------------------


def _post_raw(client, body: bytes):
    return client.post(
        "/webhooks/telegram",
        data=body,
        headers={
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            "Content-Type": "application/json",
        },
    )


@pytest.mark.parametrize("data", [5, ["yes"], {"a": 1}, True, 1.5])
def test_a_button_whose_data_is_not_text_is_refused_not_a_500(client, data):
    update = callback_update(CHAT_ID, "yes")
    update["callback_query"]["data"] = data
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 400
    assert _inbound() == []


@pytest.mark.parametrize("date", [10**20, -(10**20), 10**400, 1e308])
def test_a_message_date_out_of_any_range_is_refused_not_a_500(client, date):
    body = json.dumps(message_update(CHAT_ID, "hi", date=date)).encode()
    assert _post_raw(client, body).status_code == 400
    assert _inbound() == []


def test_a_lone_surrogate_in_the_text_is_stored_as_a_replacement_character(client):
    assert (
        post_update(client, message_update(CHAT_ID, "\ud800x"), TELEGRAM_SECRET).status_code == 200
    )
    [message] = _inbound()
    assert message.text == "\ufffdx"


def test_nul_and_surrogates_deep_in_the_update_are_not_a_500(client):
    update = message_update(CHAT_ID, "hi")
    update["message"]["from"]["first_name"] = "An\x00a\udfff"
    update["message"]["entities"] = [{"type": "bold", "offset": 0, "length": 2, "x\x00": "\ud800"}]
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 200
    [message] = _inbound()
    assert message.text == "hi"


def test_a_raw_payload_is_kept_without_nul_surrogates_or_infinities():
    from bot.channels.fields import raw

    kept = raw({"a\x00": ["x\ud800", {"b": float("nan")}, 10**400], "c": "\x00" * 3})
    assert kept == {"a": ["x\ufffd", {"b": None}, str(10**400)[:72]], "c": ""}
    deep: dict = {}
    inner = deep
    for _ in range(100):
        inner["x"] = inner = {}
    assert json.dumps(raw(deep)).count("{") <= 33


@pytest.mark.parametrize("depth", [100_000, 200])
def test_json_nested_deeper_than_any_update_is_refused(client, depth):
    body = b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"
    assert _post_raw(client, body).status_code == 400
    assert _inbound() == []


def test_a_telegram_body_larger_than_any_update_is_refused_with_413(client):
    update = message_update(CHAT_ID, "hi", entities=[{"type": "bold"}] * 40_000)
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 413
    assert _inbound() == []


@pytest.mark.parametrize(
    "body, readable",
    [
        (b"[" * 100_000 + b"]" * 100_000, False),  # beyond the parser's stack: RecursionError
        (b"[" * 33 + b"]" * 33, False),  # deeper than any provider's call
        (b"[" * 32 + b"]" * 32, True),
        (b'{"a": NaN}', False),
        (b'{"a": -Infinity}', False),
        (b'{"a": 1e999}', False),  # a float beyond a float is an infinity too
        (b'{"a": 10000000000000000000000000}', True),  # an integer is read whole
    ],
    ids=["100,000 deep", "33 deep", "32 deep", "NaN", "Infinity", "1e999", "big integer"],
)
def test_json_is_read_only_within_depth_and_without_constants(body, readable):
    call = WebRequest("POST", "u", "/p", "", "", {}, {}, {}, body)
    assert (call.json is not None) is readable


@pytest.mark.parametrize("chat_id", ["abc", "412345678", 1.5, True, None, 10**400, -(2**70)])
def test_a_chat_id_that_is_not_a_telegram_integer_is_refused_at_parse(client, chat_id):
    update = message_update(CHAT_ID, "hi")
    update["message"]["chat"]["id"] = chat_id
    assert _post_raw(client, json.dumps(update).encode()).status_code == 400
    assert _inbound() == [] and _contacts() == []


def test_a_button_tap_from_a_user_id_that_is_not_an_integer_is_refused(client):
    update = callback_update(CHAT_ID, "yes")
    del update["callback_query"]["message"]
    update["callback_query"]["from"]["id"] = "abc"
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 400
    assert _contacts() == []


@pytest.mark.parametrize(
    "location",
    [
        {"latitude": 999, "longitude": -999},
        {"latitude": "north", "longitude": "west"},
        {"latitude": 91.0, "longitude": 0},
        {"latitude": 10**400, "longitude": 0},
    ],
    ids=["999,-999", "strings", "latitude 91", "beyond a float"],
)
def test_a_pin_off_the_globe_gets_a_helpful_reply_not_a_crashed_turn(
    client, telegram_api, location
):
    update = message_update(CHAT_ID, location=location)
    assert _post_raw(client, json.dumps(update).encode()).status_code == 200
    [message] = _inbound()
    assert message.payload["location"] is None
    run_jobs()
    [message] = _inbound()
    assert message.status == MessageStatus.PROCESSED
    assert sent(telegram_api, CHAT_ID)  # the resident is answered (the menu)


def test_nan_in_the_json_is_refused(client):
    body = json.dumps(message_update(CHAT_ID, location={"latitude": 1, "longitude": 2}))
    body = body.replace('"latitude": 1', '"latitude": NaN')
    assert _post_raw(client, body.encode()).status_code == 400


def test_a_telegram_text_longer_than_telegram_allows_is_cut(client):
    assert (
        post_update(client, message_update(CHAT_ID, "a" * 50_000), TELEGRAM_SECRET).status_code
        == 200
    )
    [message] = _inbound()
    assert len(message.text) == 4096


# --- web chat ---------------------------------------------------------------------------------


@pytest.fixture
def chat(env, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("WEBCHAT_SECRET", "webchat-test-secret")
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    token = client.post("/webhooks/webchat/session").get_json()["token"]
    return client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "body, status",
    [
        ({"id": "m\x00", "text": "hi"}, 400),
        ({"id": "\ud800", "text": "hi"}, 400),
        ({"id": "m1", "text": "pot\x00hole\ud800"}, 200),
        ({"id": "m1", "text": "hi", "reply_to": "x\x00y"}, 200),
    ],
    ids=["NUL in id", "surrogate in id", "NUL and surrogate in text", "NUL in reply_to"],
)
def test_web_chat_fields_are_bounded(chat, body, status):
    client, headers = chat
    response = client.post(
        "/webhooks/webchat",
        data=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == status
    if status == 200:
        [message] = _inbound()
        assert message.text in ("hi", "pothole\ufffd")
        assert message.payload["reply_to"] is None


def test_web_chat_refuses_a_body_larger_than_the_page_sends(chat):
    client, headers = chat
    response = client.post("/webhooks/webchat", json={"text": "x" * 100_000}, headers=headers)
    assert response.status_code == 413


def test_a_chunked_body_larger_than_the_limit_is_refused_not_cut(chat):
    """Without a Content-Length the body is read up to the limit: what reaches it was cut."""
    client, headers = chat
    body = b'{"id": "m1", "text": "hi there"}' + b" " * (2 * 1024 * 1024)
    response = client.post(
        "/webhooks/webchat",
        input_stream=io.BytesIO(body),
        headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


# --- whatever the database still refuses is an answer, never a 500 ------------------------------


def _refusals():
    from sqlalchemy.exc import DataError, StatementError

    encode = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    return [
        DataError("INSERT ...", {}, Exception("value too long for type character varying(128)")),
        StatementError("INSERT ...", "INSERT ...", {}, encode),
        encode,
        OverflowError("Python int too large to convert to SQLite INTEGER"),
    ]


@pytest.mark.parametrize("error", _refusals(), ids=["DataError", "wrapped", "encode", "overflow"])
def test_a_value_the_database_refuses_is_answered_per_channel_not_a_500(client, monkeypatch, error):
    def refuse(event):
        raise error

    monkeypatch.setattr("webhooks.channels.accept", refuse)
    # Twilio does not redeliver a message webhook answered 4xx: a clear 400.
    assert post_signed(client, "/webhooks/twilio", sms_form("hi")).status_code == 400
    # Telegram redelivers until it gets a 2xx, holding the bot's later updates: set aside.
    assert post_update(client, message_update(CHAT_ID, "hi"), TELEGRAM_SECRET).status_code == 200


def test_a_database_that_is_down_is_still_a_503_for_the_provider_to_retry(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(event):
        raise OperationalError("INSERT ...", {}, Exception("connection refused"))

    monkeypatch.setattr("webhooks.channels.accept", down)
    assert post_signed(client, "/webhooks/twilio", sms_form("hi")).status_code == 503
    assert post_update(client, message_update(CHAT_ID, "hi"), TELEGRAM_SECRET).status_code == 503


# --- geocoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lat, lon", [(999, -999), (math.nan, 0.0), ("north", "west"), (math.inf, 1.0), (None, 2)]
)
def test_reverse_geocoding_a_point_off_the_globe_is_no_address_not_an_error(env, lat, lon):
    from bot.geocoding import reverse

    assert reverse(lat, lon, env) == ""


def test_a_stored_pin_off_the_globe_is_answered_not_a_crashed_turn(env, telegram_api):
    """A pin stored before the edge checked pins (the edge now drops it): the turn is answered."""
    from bot import queue
    from bot.intake import conversation_for

    with session_scope() as session:
        conversation = conversation_for(session, "telegram", f"telegram:{CHAT_ID}")
        session.add(
            Message(
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                channel="telegram",
                direction="in",
                external_id="msg:1:1",
                text="",
                payload={"media": [], "location": [999.0, -999.0], "raw": {}},
            )
        )
        conversation_id = conversation.id
    queue.enqueue("bot.jobs.run_turn", conversation_id)
    run_jobs()
    [message] = _inbound()
    assert message.status == MessageStatus.PROCESSED
    assert sent(telegram_api, CHAT_ID)


# --- admin retry --------------------------------------------------------------------------------


@pytest.fixture
def admin(env, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("ADMIN_TOKEN", "admin-test-token-0123456789abcdef")
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    return client, {"Authorization": "Bearer admin-test-token-0123456789abcdef"}


@pytest.mark.parametrize(
    "body",
    [
        b'["report:1"]',
        b'"report:1"',
        b"5",
        b"null",
        json.dumps({"names": ["report:" + "9" * 400]}).encode(),
        json.dumps({"names": ["report:\u0663"]}).encode(),
        json.dumps({"names": ["send:-1"]}).encode(),
        json.dumps({"names": ["turn:" + "9" * 12]}).encode(),
        json.dumps({"names": ["report:1\x00"]}).encode(),
        json.dumps({"names": ["report:1"] * 201}).encode(),
        json.dumps({"all": "yes"}).encode(),
    ],
    ids=[
        "list",
        "string",
        "number",
        "null",
        "400 nines",
        "arabic-indic digit",
        "negative",
        "beyond an id",
        "NUL",
        "too many",
        "all not true",
    ],
)
def test_a_malformed_retry_request_is_a_clear_400(admin, body):
    client, headers = admin
    response = client.post(
        "/admin/failures/retry",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_a_retry_request_larger_than_any_list_of_names_is_refused_with_413(admin):
    client, headers = admin
    body = {"names": ["report:1"] * 10_000}
    assert client.post("/admin/failures/retry", json=body, headers=headers).status_code == 413


def test_failure_names_take_ascii_digits_only():
    from bot.failures import parse_name

    assert parse_name("report:12") == ("report", 12)
    for name in ("report:\u0663", "report:" + "9" * 400, "report:", "x:1", "report:1 ", "send:+1"):
        with pytest.raises(ValueError):
            parse_name(name)
