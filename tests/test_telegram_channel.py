"""bot.channels.telegram's send: the exact Bot API calls, their errors, the token kept secret."""

from __future__ import annotations

import logging

import pytest

from bot.channels import telegram
from bot.channels.base import Outgoing, SendError
from bot.channels.registry import channel_for
from bot.payloads import OutboundPayload, ReplyIntent
from tests.conftest import TELEGRAM_TOKEN
from tests.fakes.telegram_api import sent

CHAT_ID = 412345678
ADDRESS = f"telegram:{CHAT_ID}"


def outgoing(text: str, options=(), expects: str = "text", **extra) -> Outgoing:
    """An outbound message as the worker stores it: the engine's reply under "reply"."""
    payload = OutboundPayload(ReplyIntent(text, tuple(options), expects), **extra)
    lines = "".join(f"\n{n} {label}" for n, label in enumerate(options, start=1))
    return Outgoing(7, ADDRESS, text + lines, payload)


@pytest.fixture
def settings(sqlite_env, telegram_api):
    return sqlite_env


def test_the_registry_knows_the_channel():
    assert channel_for("telegram") is telegram.CHANNEL


def test_choice_becomes_one_inline_button_per_option(settings, telegram_api):
    provider_id = telegram.CHANNEL.send(
        outgoing("What would you like to report?", ["Pothole in Street", "Graffiti"], "choice"),
        settings,
    )
    [call] = telegram_api.config["CALLS"]
    assert call["method"] == "sendMessage"
    assert call["params"] == {
        "chat_id": str(CHAT_ID),
        "text": "What would you like to report?",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Pothole in Street", "callback_data": "1"}],
                [{"text": "Graffiti", "callback_data": "2"}],
            ]
        },
    }
    assert provider_id == f"{CHAT_ID}:1001"


def test_multiple_choices_show_their_numbers_for_typing_several(settings, telegram_api):
    telegram.CHANNEL.send(outgoing("Which sides?", ["North", "South"], "choices"), settings)
    [params] = sent(telegram_api)
    assert [row[0]["text"] for row in params["reply_markup"]["inline_keyboard"]] == [
        "1. North",
        "2. South",
    ]


def test_yes_no_becomes_yes_and_no_buttons(settings, telegram_api):
    telegram.CHANNEL.send(outgoing("Is that right?", expects="yes_no"), settings)
    [params] = sent(telegram_api)
    assert params["text"] == "Is that right?"
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }


def test_the_first_summary_offers_yes_private_and_no(settings, telegram_api):
    telegram.CHANNEL.send(outgoing("Ready to send: ...", expects="yes_no_private"), settings)
    [params] = sent(telegram_api)
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Yes", "callback_data": "yes"},
                {"text": "Private", "callback_data": "private"},
                {"text": "No", "callback_data": "no"},
            ]
        ]
    }


def test_location_request_offers_a_share_location_keyboard(settings, telegram_api):
    telegram.CHANNEL.send(outgoing("Where is it?", expects="location"), settings)
    [params] = sent(telegram_api)
    assert params["reply_markup"] == {
        "keyboard": [[{"text": "Share location", "request_location": True}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }


def test_plain_text_removes_any_reply_keyboard(settings, telegram_api):
    telegram.CHANNEL.send(outgoing("Please describe the problem."), settings)
    [params] = sent(telegram_api)
    assert params["reply_markup"] == {"remove_keyboard": True}


def test_a_notice_without_a_reply_intent_still_goes_as_text(settings, telegram_api):
    telegram.CHANNEL.send(Outgoing(8, ADDRESS, "Update on request 2026-000001: closed."), settings)
    [params] = sent(telegram_api)
    assert params["text"] == "Update on request 2026-000001: closed."


def test_status_update_with_the_citys_photo_is_sent_as_a_photo(settings, telegram_api):
    url = "https://city.example.gov/media/after.jpg"
    telegram.CHANNEL.send(outgoing("Update: closed.", media_url=url), settings)
    [params] = sent(telegram_api)
    assert (params["method"], params["photo"], params["caption"]) == (
        "sendPhoto",
        url,
        "Update: closed.",
    )


def test_blocked_bot_is_an_opt_out(settings, telegram_api):
    telegram_api.config["BLOCKED"].add(CHAT_ID)
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    error = caught.value
    assert (error.opted_out, error.retryable, error.code) == (True, False, "403")
    assert "blocked by the user" in str(error)


def test_unknown_chat_is_permanent(settings, telegram_api):
    telegram_api.config["UNKNOWN_CHATS"].add(CHAT_ID)
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert (caught.value.retryable, caught.value.opted_out, caught.value.code) == (
        False,
        False,
        "400",
    )
    assert "chat not found" in str(caught.value).lower()


def test_flood_control_is_retryable(settings, telegram_api):
    telegram_api.config["RETRY_AFTER"][CHAT_ID] = 7
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert (caught.value.retryable, caught.value.code) == (True, "429")
    assert caught.value.retry_after == 7
    telegram.CHANNEL.send(outgoing("hi"), settings)  # once only, as Telegram's flood wait
    assert len(sent(telegram_api)) == 1


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_are_retryable(settings, telegram_api, status):
    telegram_api.config["FAIL_NEXT"] = [status]
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert caught.value.retryable and not caught.value.opted_out


def test_unreachable_api_is_retryable(monkeypatch, settings):
    monkeypatch.setattr(settings, "telegram_api_base", "http://127.0.0.1:9")
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert caught.value.retryable


def test_wrong_token_is_permanent_and_not_echoed(monkeypatch, settings):
    monkeypatch.setattr(settings, "telegram_bot_token", "6000000001:AAF-not-our-token")
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert (caught.value.retryable, caught.value.code) == (False, "401")
    assert "not-our-token" not in str(caught.value)


def test_missing_token_is_a_permanent_error(monkeypatch, settings, telegram_api):
    monkeypatch.setattr(settings, "telegram_bot_token", "")
    with pytest.raises(SendError) as caught:
        telegram.CHANNEL.send(outgoing("hi"), settings)
    assert not caught.value.retryable
    assert telegram_api.config["CALLS"] == []


def test_a_send_never_logs_the_token(settings, telegram_api, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.NOTSET)  # as a fresh process would have it
    logging.getLogger("telegram").setLevel(logging.NOTSET)
    telegram.CHANNEL.send(outgoing("Where is it?", expects="location"), settings)
    telegram_api.config["BLOCKED"].add(CHAT_ID)
    with pytest.raises(SendError):
        telegram.CHANNEL.send(outgoing("hi"), settings)

    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug: the fake's own log
    assert ours, "expected some log records (e.g. asyncio's)"
    assert all(TELEGRAM_TOKEN not in r.getMessage() for r in ours)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert len(sent(telegram_api)) == 1


def test_settings_repr_hides_the_tokens(settings):
    shown = repr(settings)
    assert TELEGRAM_TOKEN not in shown
    assert settings.telegram_secret_token not in shown


def test_more_options_than_telegram_allows_buttons_for_go_as_numbered_lines(settings, telegram_api):
    options = [f"Choice {n}" for n in range(1, 121)]
    telegram.CHANNEL.send(outgoing("Which one?", options, "choice"), settings)
    [params] = sent(telegram_api)
    assert "inline_keyboard" not in (params.get("reply_markup") or {})
    assert "\n120 Choice 120" in params["text"]
