"""/webhooks/x through the Flask app: the CRC, the signature on every POST (checked before the
body is read), recorded events stored once, forged and malformed calls refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.models import Contact, Message
from bot.personal_data import address_key
from bot.queue import get_queue
from tests.conftest import X_CONSUMER
from tests.fakes.x_api import dm_event, fixture, mention, signed_post
from webhooks import create_app

RESIDENT = "1204567890123456789"
ADDRESS = f"x:{RESIDENT}"
SECRET = X_CONSUMER[1]


@pytest.fixture
def client(env, x_api):
    return create_app({"TESTING": True}).test_client()


def _inbound() -> list[Message]:
    with session_scope() as session:
        return session.exec(select(Message).where(Message.direction == "in")).all()


def _contact() -> Contact | None:
    with session_scope() as session:
        return session.exec(
            select(Contact).where(Contact.address_key == address_key(ADDRESS))
        ).first()


def test_the_crc_is_answered_as_x_computes_it(client):
    token = "zXbQ1pK3Yc9LmT0wVn2sEr5uHa8GdJf4"
    response = client.get(f"/webhooks/x?crc_token={token}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    # X's own computation: base64 of HMAC-SHA256 keyed with the consumer secret.
    digest = hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()
    assert response.get_json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def test_a_crc_without_a_token_or_secret_is_refused(client, monkeypatch):
    assert client.get("/webhooks/x").status_code == 400
    assert client.get("/webhooks/x?crc_token=" + "a" * 600).status_code == 400
    from bot.settings import get_settings

    monkeypatch.setenv("X_CONSUMER_SECRET", "")
    get_settings.cache_clear()
    bare = create_app({"TESTING": True}).test_client()
    assert bare.get("/webhooks/x?crc_token=abc").status_code == 403


def test_a_direct_message_is_stored_once_and_its_turn_queued(client):
    body = fixture("dm_text")
    assert signed_post(client, body, SECRET).status_code == 200
    assert signed_post(client, body, SECRET).status_code == 200  # X's retry, or a replay
    [message] = _inbound()
    assert (message.channel, message.external_id) == ("x", "in:dm:1867432109876543210")
    assert message.text == "There's a big pothole outside 120 Main St & it's getting worse"
    assert message.payload["raw"] == {
        "kind": "direct_message",
        "id": "1867432109876543210",
        "media": 0,
    }
    assert "public_post" not in message.payload
    assert _contact().channel == "x"
    assert [job.func_name for job in get_queue().jobs] == ["bot.jobs.run_turn"]


def test_a_mention_is_a_private_conversation_naming_the_public_post(client):
    body = fixture("mention")
    assert signed_post(client, body, SECRET).status_code == 200
    assert signed_post(client, body, SECRET).status_code == 200
    [message] = _inbound()
    assert message.external_id == "in:tweet:1864872345678901234"
    assert message.payload["public_post"] == "1864872345678901234"
    assert message.text == "There's a big pothole on Elm St near the school, cars swerving"
    assert "ana_lima_spfd" not in json.dumps(message.payload)


def test_forged_or_unsigned_calls_are_refused_and_nothing_stored(client):
    body = dm_event(RESIDENT, "pothole")
    assert signed_post(client, body, None).status_code == 403
    assert signed_post(client, body, "not-the-consumer-secret").status_code == 403
    raw = json.dumps(body).encode()
    tampered = raw.replace(b"pothole", b"sinkhole")
    from tests.fakes.x_api import sign

    response = client.post(
        "/webhooks/x",
        data=tampered,
        headers={"x-twitter-webhooks-signature": sign(raw, SECRET)},
    )
    assert response.status_code == 403
    assert _inbound() == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"for_user_id": "3001234567", "direct_message_events": [{"type": "message_create"}]}',
        b'{"for_user_id": "3001234567", "tweet_create_events": [{"id_str": "99", "user": 5}]}',
        json.dumps(mention("12", "x")).replace('"12"', '"-12"').encode(),
    ],
)
def test_malformed_signed_calls_are_400_never_500(client, body):
    assert signed_post(client, body, SECRET).status_code == 400
    assert _inbound() == []


def test_our_own_events_and_other_kinds_are_acknowledged_and_ignored(client):
    for name in ("dm_own", "own_reply", "retweet", "favorite", "follow", "typing"):
        assert signed_post(client, fixture(name), SECRET).status_code == 200
    assert _inbound() == []
    assert get_queue().jobs == []


def test_a_block_opts_the_resident_out_and_an_unblock_back_in(client):
    signed_post(client, fixture("dm_text"), SECRET)
    assert signed_post(client, fixture("block"), SECRET).status_code == 200
    assert _contact().opted_out
    assert signed_post(client, fixture("unblock"), SECRET).status_code == 200
    assert not _contact().opted_out


def test_a_call_larger_than_any_x_makes_is_refused_unread(client):
    response = client.post(
        "/webhooks/x",
        data=b"{" + b" " * (600 * 1024) + b"}",
        headers={"x-twitter-webhooks-signature": "sha256=x"},
    )
    assert response.status_code == 413
