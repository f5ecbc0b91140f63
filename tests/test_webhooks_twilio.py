"""POST /webhooks/twilio and /webhooks/twilio/status: signatures, parsing, storage, dedupe."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.models import Contact, Message
from tests.conftest import run_jobs
from tests.twilio_webhooks import fixture, post_signed, sms_form
from webhooks import create_app


@pytest.fixture
def client(env):
    return create_app({"TESTING": True}).test_client()


def _inbound():
    with session_scope() as session:
        return session.exec(select(Message).where(Message.direction == "in")).all()


def test_signed_sms_is_stored_queued_and_answered_with_empty_twiml(client, redis_conn):
    form = fixture("inbound_sms")
    response = post_signed(client, "/webhooks/twilio", form)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Response></Response>" in response.data
    [message] = _inbound()
    assert message.external_id == form["MessageSid"]
    assert message.text == form["Body"]
    assert message.status == "pending"
    with session_scope() as session:
        contact = session.get(Contact, message.contact_id)
    assert contact.address == "tel:" + form["From"]
    from bot.queue import get_queue

    assert [job.func_name for job in get_queue().jobs] == ["bot.jobs.run_turn"]


def test_mms_media_urls_are_kept(client):
    form = fixture("inbound_mms")
    assert post_signed(client, "/webhooks/twilio", form).status_code == 200
    [message] = _inbound()
    assert message.payload["media"] == [form["MediaUrl0"]]


def test_redelivered_message_sid_is_acknowledged_but_processed_once(client):
    form = sms_form("pothole")
    first = post_signed(client, "/webhooks/twilio", form)
    second = post_signed(client, "/webhooks/twilio", form)

    assert first.status_code == second.status_code == 200
    assert len(_inbound()) == 1
    from bot.queue import get_queue

    assert get_queue().count == 1


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "no X-Twilio-Signature header"),
        ({"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, "signature does not match"),
    ],
)
def test_unsigned_or_forged_webhook_is_refused_and_logged(client, caplog, headers, reason):
    caplog.set_level(logging.WARNING)
    response = client.post("/webhooks/twilio", data=sms_form("pothole"), headers=headers)

    assert response.status_code == 403
    assert _inbound() == []
    assert reason in caplog.text


def test_signature_with_another_accounts_token_is_refused(client):
    response = post_signed(client, "/webhooks/twilio", sms_form("hi"), token="someone-elses")
    assert response.status_code == 403


def test_tampered_body_is_refused(client):
    from tests.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN
    from tests.twilio_signing import sign

    form = sms_form("pothole on Main")
    signature = sign(PUBLIC_BASE_URL + "/webhooks/twilio", form, TWILIO_TOKEN)
    form["Body"] = "something else"
    response = client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


@pytest.mark.parametrize("missing", ["From", "MessageSid"])
def test_webhook_missing_a_field_gets_a_clear_400(client, missing):
    form = sms_form("pothole")
    del form[missing]
    if missing == "MessageSid":
        del form["SmsMessageSid"]
    response = post_signed(client, "/webhooks/twilio", form)

    assert response.status_code == 400
    assert missing.encode() in response.data
    assert _inbound() == []


def test_status_callback_records_delivery(client):
    post_signed(client, "/webhooks/twilio", sms_form("hello"))
    run_jobs()
    with session_scope() as session:
        sent = session.exec(select(Message).where(Message.direction == "out")).first()
    assert sent.status == "sent"
    form = fixture("status_delivered") | {
        "MessageSid": sent.external_id,
        "SmsSid": sent.external_id,
    }

    response = post_signed(client, "/webhooks/twilio/status", form)

    assert response.status_code == 204
    with session_scope() as session:
        assert session.get(Message, sent.id).status == "delivered"


def test_undelivered_status_keeps_the_error_code(client):
    post_signed(client, "/webhooks/twilio", sms_form("hello"))
    run_jobs()
    with session_scope() as session:
        sent = session.exec(select(Message).where(Message.direction == "out")).first()
    form = fixture("status_undelivered") | {
        "MessageSid": sent.external_id,
        "SmsSid": sent.external_id,
    }
    assert post_signed(client, "/webhooks/twilio/status", form).status_code == 204
    with session_scope() as session:
        message = session.get(Message, sent.id)
    assert (message.status, message.error_code) == ("undelivered", form["ErrorCode"])


def test_status_callback_must_be_signed(client):
    response = client.post("/webhooks/twilio/status", data=fixture("status_delivered"))
    assert response.status_code == 403


def test_database_down_answers_503_so_twilio_retries(monkeypatch, sqlite_env, redis_conn):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    from bot.settings import get_settings

    get_settings.cache_clear()
    client = create_app({"TESTING": False}).test_client()
    response = post_signed(client, "/webhooks/twilio", sms_form("pothole"))
    assert response.status_code == 503


def _sent_message(client):
    post_signed(client, "/webhooks/twilio", sms_form("hello"))
    run_jobs()
    with session_scope() as session:
        return session.exec(select(Message).where(Message.direction == "out")).first()


def _status(client, sent, status: str, **extra):
    form = fixture("status_delivered") | {
        "MessageSid": sent.external_id,
        "SmsSid": sent.external_id,
        "MessageStatus": status,
        "SmsStatus": status,
        **extra,
    }
    assert post_signed(client, "/webhooks/twilio/status", form).status_code == 204
    with session_scope() as session:
        return session.get(Message, sent.id).status


def test_statuses_are_mapped_and_never_move_back(client):
    sent = _sent_message(client)
    assert _status(client, sent, "queued") == "sent"  # older news than what we know
    assert _status(client, sent, "partially_delivered") == "delivered"
    assert _status(client, sent, "sent") == "delivered"  # a late callback
    assert _status(client, sent, "some_new_status") == "delivered"


def test_opt_out_reported_by_a_callback_stops_further_texts(client):
    sent = _sent_message(client)
    assert _status(client, sent, "failed", ErrorCode="21610") == "failed"
    with session_scope() as session:
        assert session.get(Contact, sent.contact_id).opted_out


def test_opt_out_callback_for_a_message_not_yet_recorded_still_counts(client):
    sent = _sent_message(client)
    unknown_sid = "SM" + "f" * 32
    form = fixture("status_undelivered") | {
        "MessageSid": unknown_sid,
        "SmsSid": unknown_sid,
        "ErrorCode": "21610",
    }
    with session_scope() as session:
        form["To"] = session.get(Contact, sent.contact_id).address.removeprefix("tel:")
    assert post_signed(client, "/webhooks/twilio/status", form).status_code == 204
    with session_scope() as session:
        assert session.get(Contact, sent.contact_id).opted_out


def test_nul_characters_are_dropped_not_a_500(client):
    response = post_signed(client, "/webhooks/twilio", sms_form("pot\x00hole"))
    assert response.status_code == 200
    [message] = _inbound()
    assert message.text == "pothole"


def test_redis_down_still_stores_the_message_and_answers_200(monkeypatch, client):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    from bot.settings import get_settings

    get_settings.cache_clear()
    response = post_signed(client, "/webhooks/twilio", sms_form("pothole"))
    assert response.status_code == 200
    [message] = _inbound()
    assert message.status == "pending"  # reconcile queues its turn once Redis is back
