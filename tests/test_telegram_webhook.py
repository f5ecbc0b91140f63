"""POST /webhooks/telegram: the secret token, parsing each recorded Update, dedupe, blocks."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.intake import conversation_for
from bot.models import Contact, Message
from bot.personal_data import address_key
from bot.queue import get_queue
from tests.conftest import TELEGRAM_SECRET, run_jobs
from tests.fakes.telegram_api import fixture, message_update, post_update
from webhooks import create_app

CHAT_ID = 412345678
ADDRESS = f"telegram:{CHAT_ID}"


@pytest.fixture
def client(env):
    return create_app({"TESTING": True}).test_client()


def _inbound() -> list[Message]:
    with session_scope() as session:
        return session.exec(select(Message).where(Message.direction == "in")).all()


def _contact() -> Contact | None:
    with session_scope() as session:
        return session.exec(
            select(Contact).where(Contact.address_key == address_key(ADDRESS))
        ).first()


def _make_contact() -> None:
    with session_scope() as session:
        conversation_for(session, "telegram", ADDRESS)


def test_text_update_is_stored_queued_and_answered_200(client):
    update = fixture("text")
    response = post_update(client, update, TELEGRAM_SECRET)

    assert response.status_code == 200
    [message] = _inbound()
    chat_message = update["message"]
    assert (message.channel, message.external_id) == (
        "telegram",
        f"msg:{chat_message['chat']['id']}:{chat_message['message_id']}",
    )
    assert message.text == update["message"]["text"]
    # Only ids are kept of the Update: not the chat id, the sender's name or username.
    assert message.payload["raw"] == {
        "update_id": update["update_id"],
        "kind": "message",
        "message_id": chat_message["message_id"],
    }
    stored = json.dumps(message.payload)
    for private in (str(chat_message["chat"]["id"]), chat_message["from"]["first_name"]):
        assert private not in stored
    assert _contact().channel == "telegram"
    assert [job.func_name for job in get_queue().jobs] == ["bot.jobs.run_turn"]


@pytest.mark.parametrize(
    "name, text, media, location, place_name",
    [
        ("start_deep_link", "/start pothole", [], None, ""),
        ("location", "", [], [39.781721, -89.650148], ""),
        ("venue", "", [], [39.798352, -89.654432], "Springfield Public Library"),
        (
            "photo",
            "Deep hole in the right lane, cars swerving",
            ["telegram-file:AgACAgEAAxkBAAIBaWd4Tm9wSG9sZUxhcmdlAlKsMRsm1OBHxQABBAADAgADeQADNgQ"],
            None,
            "",
        ),
        ("callback_query", "yes", [], None, ""),
    ],
)
def test_each_recorded_update_becomes_the_right_message(
    client, name, text, media, location, place_name
):
    update = fixture(name)
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 200
    [message] = _inbound()
    if "callback_query" in update:
        assert message.external_id == f"cbq:{update['callback_query']['id']}"
        tapped = update["callback_query"]["message"]
        assert message.payload["reply_to"] == f"{tapped['chat']['id']}:{tapped['message_id']}"
    else:
        assert message.external_id == (
            f"msg:{update['message']['chat']['id']}:{update['message']['message_id']}"
        )
    assert message.text == text
    assert message.payload["media"] == media
    assert message.payload["location"] == location
    assert message.payload["place_name"] == place_name
    assert _contact() is not None


def test_photo_keeps_the_largest_size_and_never_a_file_url(client):
    update = fixture("photo")
    update["message"]["photo"].reverse()  # the order must not matter
    post_update(client, update, TELEGRAM_SECRET)
    [message] = _inbound()
    largest = max(update["message"]["photo"], key=lambda size: size["width"])
    assert message.payload["media"] == ["telegram-file:" + largest["file_id"]]
    assert "api.telegram.org" not in str(message.payload)


def test_button_tap_is_answered_in_the_webhook_response(client):
    update = fixture("callback_query")
    response = post_update(client, update, TELEGRAM_SECRET)
    assert response.get_json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": update["callback_query"]["id"],
    }


def test_redelivered_update_is_answered_but_stored_once(client):
    update = fixture("callback_query")
    first = post_update(client, update, TELEGRAM_SECRET)
    second = post_update(client, update, TELEGRAM_SECRET)
    assert first.status_code == second.status_code == 200
    assert second.get_json()["method"] == "answerCallbackQuery"  # the spinner still stops
    assert len(_inbound()) == 1
    assert get_queue().count == 1


def test_edited_message_is_acknowledged_and_ignored(client, caplog):
    caplog.set_level(logging.INFO)
    response = post_update(client, fixture("edited_message"), TELEGRAM_SECRET)
    assert response.status_code == 200
    assert _inbound() == []
    assert get_queue().count == 0
    assert "edited message" in caplog.text


def test_message_in_a_group_is_ignored(client):
    update = message_update(CHAT_ID, "pothole")
    update["message"]["chat"] = {"id": -1001234567890, "title": "Neighbours", "type": "supergroup"}
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 200
    assert _inbound() == []


def test_blocking_the_bot_opts_the_contact_out_and_restarting_opts_in(client):
    assert post_update(client, fixture("text"), TELEGRAM_SECRET).status_code == 200
    run_jobs()  # read and answered
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        contact.language = "es"
    assert post_update(client, fixture("my_chat_member_kicked"), TELEGRAM_SECRET).status_code == 200
    # Blocked: only the keyed hash and the opt-out are kept (no chat id, no words, no language).
    blocked = _contact()
    assert blocked.opted_out and blocked.address is None and blocked.language is None
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []

    assert post_update(client, fixture("my_chat_member_member"), TELEGRAM_SECRET).status_code == 200
    assert not _contact().opted_out and _contact().address == ADDRESS


def test_block_from_an_unknown_chat_is_acknowledged(client):
    response = post_update(client, fixture("my_chat_member_kicked"), TELEGRAM_SECRET)
    assert response.status_code == 200
    assert _contact() is None


@pytest.mark.parametrize(
    "secret, reason",
    [
        (None, "no X-Telegram-Bot-Api-Secret-Token header"),
        ("", "no X-Telegram-Bot-Api-Secret-Token header"),
        ("wrong-secret", "does not match TELEGRAM_SECRET_TOKEN"),
        (TELEGRAM_SECRET + "x", "does not match TELEGRAM_SECRET_TOKEN"),
    ],
)
def test_missing_or_wrong_secret_is_refused_and_logged(client, caplog, secret, reason):
    caplog.set_level(logging.WARNING)
    response = post_update(client, fixture("text"), secret)
    assert response.status_code == 403
    assert _inbound() == []
    assert reason in caplog.text
    assert TELEGRAM_SECRET not in caplog.text


def test_without_a_configured_secret_every_update_is_refused(monkeypatch, env, caplog):
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "")
    from bot.settings import get_settings

    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    caplog.set_level(logging.WARNING)
    assert post_update(client, fixture("text"), "").status_code == 403
    assert post_update(client, fixture("text"), TELEGRAM_SECRET).status_code == 403
    assert "TELEGRAM_SECRET_TOKEN is not set" in caplog.text
    assert _inbound() == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": 5, "message": {"text": "no chat"}}',
        b'{"update_id": "5"}',
    ],
)
def test_malformed_update_gets_a_400_not_a_500(client, body):
    response = client.post(
        "/webhooks/telegram",
        data=body,
        headers={
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert _inbound() == []


def test_update_type_we_do_not_handle_is_acknowledged(client):
    channel = {"id": -1001234567890, "title": "Springfield News", "type": "channel"}
    update = {
        "update_id": 861239999,
        "channel_post": {
            "message_id": 7,
            "sender_chat": channel,
            "chat": channel,
            "date": 1767614400,
            "text": "Road closed on Main St",
        },
    }
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 200
    assert _inbound() == []


def test_bot_name_suffix_of_a_command_is_dropped(client):
    post_update(client, message_update(CHAT_ID, "/help@springfield311_bot"), TELEGRAM_SECRET)
    [message] = _inbound()
    assert message.text == "/help"


def test_nul_characters_are_dropped_not_a_500(client):
    update = message_update(CHAT_ID, "pot\x00hole")
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 200
    [message] = _inbound()
    assert message.text == "pothole"


def test_update_ids_reused_after_a_quiet_week_do_not_hide_new_messages(client):
    first = message_update(CHAT_ID, "/start")
    second = message_update(CHAT_ID, "/help")
    second["update_id"] = first["update_id"]  # Telegram restarts its sequence after a week
    post_update(client, first, TELEGRAM_SECRET)
    post_update(client, second, TELEGRAM_SECRET)
    assert [m.text for m in _inbound()] == ["/start", "/help"]


@pytest.mark.parametrize(
    "broken",
    [
        lambda u: u["message"].pop("chat"),
        lambda u: u["message"].update(venue={"title": "Park", "address": "x"}),
    ],
    ids=["no chat", "venue without location"],
)
def test_updates_missing_what_every_real_one_has_get_a_400(client, broken):
    update = message_update(CHAT_ID, "hi")
    broken(update)
    assert post_update(client, update, TELEGRAM_SECRET).status_code == 400
