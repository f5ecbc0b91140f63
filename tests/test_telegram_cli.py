"""`intake311 telegram set-webhook` and `info` against the Bot API stand-in."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.languages import load_languages
from bot.settings import get_settings
from conversations import texts
from tests.conftest import PUBLIC_BASE_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN


@pytest.fixture
def run(sqlite_env, telegram_api):
    def run(*args: str):
        result = CliRunner().invoke(main, ["telegram", *args])
        assert TELEGRAM_TOKEN not in result.output
        return result

    return run


def test_set_webhook_registers_our_url_secret_and_update_types(run, telegram_api):
    result = run("set-webhook")

    assert result.exit_code == 0, result.output
    assert f"webhook set: {PUBLIC_BASE_URL}/webhooks/telegram" in result.output
    call, *menus = telegram_api.config["CALLS"]
    assert call["method"] == "setWebhook"
    assert {menu["method"] for menu in menus} == {"setMyCommands"}
    assert call["params"] == {
        "url": f"{PUBLIC_BASE_URL}/webhooks/telegram",
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
    }
    assert TELEGRAM_SECRET not in result.output


def test_info_shows_the_webhook_status(run, telegram_api):
    run("set-webhook")
    result = run("info")

    assert result.exit_code == 0, result.output
    assert telegram_api.config["CALLS"][-1]["method"] == "getWebhookInfo"
    assert f"url: {PUBLIC_BASE_URL}/webhooks/telegram" in result.output
    assert "pending_update_count: 0" in result.output
    assert "allowed_updates: message, edited_message, callback_query, my_chat_member" in (
        result.output
    )


def test_info_without_a_webhook_says_so(run):
    result = run("info")
    assert result.exit_code == 0
    assert "no webhook is set" in result.output


def test_set_webhook_needs_the_secret(monkeypatch, run, telegram_api):
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "")
    get_settings.cache_clear()
    result = run("set-webhook")
    assert result.exit_code != 0
    assert "TELEGRAM_SECRET_TOKEN" in result.output
    assert telegram_api.config["CALLS"] == []


def test_set_webhook_refused_by_telegram_is_reported(monkeypatch, run):
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://intake.example.org")
    get_settings.cache_clear()
    result = run("set-webhook")
    assert result.exit_code != 0
    assert "https url must be provided" in result.output.lower()


def test_wrong_token_is_reported_without_the_token(monkeypatch, run):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "6000000001:AAF-some-other-token")
    get_settings.cache_clear()
    result = run("info")
    assert result.exit_code != 0
    assert "Unauthorized" in result.output
    assert "some-other-token" not in result.output


def test_set_webhook_sets_the_command_menu_in_every_language(run, telegram_api):
    assert run("set-webhook").exit_code == 0
    menus = telegram_api.config["COMMANDS"]
    assert set(menus) == {"", "es", "zh", "vi", "tl"}
    assert [c["command"] for c in menus[""]] == [
        "help",
        "restart",
        "back",
        "status",
        "myreports",
        "language",
    ]
    english = {c["command"]: c["description"] for c in menus[""]}
    spanish = {c["command"]: c["description"] for c in menus["es"]}
    assert english["myreports"] == texts.COMMAND_MY_REPORTS
    assert spanish["myreports"] == load_languages()["es"](texts.COMMAND_MY_REPORTS)
    assert spanish["myreports"] != english["myreports"]
