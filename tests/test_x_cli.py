"""`intake311 x set-webhook` and `info` against the X stand-in, whose CRC reaches our app."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import PUBLIC_BASE_URL, X_CONSUMER, X_TOKEN
from tests.fakes.x_api import BEARER
from webhooks import create_app

URL = f"{PUBLIC_BASE_URL}/webhooks/x"


@pytest.fixture
def run(sqlite_env, x_api):
    app = create_app({"TESTING": True}).test_client()

    def crc(url: str, token: str):
        """X's GET of the webhook URL with a crc_token, reaching our app."""
        response = app.get(f"{urlsplit(url).path}?crc_token={quote(token)}")
        return response.get_json(silent=True) if response.status_code == 200 else None

    x_api.config["CRC_CHECK"] = crc

    def run(*args: str):
        result = CliRunner().invoke(main, ["x", *args])
        for secret in (X_CONSUMER[1], *X_TOKEN, BEARER):
            assert secret not in result.output
        return result

    return run


def test_set_webhook_registers_our_url_after_xs_crc_and_subscribes_the_account(run, x_api):
    result = run("set-webhook")
    assert result.exit_code == 0, result.output
    [hook] = x_api.config["WEBHOOKS"].values()
    assert hook["url"] == URL and hook["valid"]
    assert f"webhook: {URL} (id {hook['id']})" in result.output
    assert "valid: yes" in result.output and "account subscribed: yes" in result.output
    assert x_api.config["SUBSCRIPTIONS"] == {hook["id"]}
    calls = [(c["method"], c["path"], c["auth"]) for c in x_api.config["CALLS"]]
    assert calls == [
        ("POST", "/oauth2/token", "basic"),
        ("GET", "/2/webhooks", "bearer"),
        ("POST", "/2/webhooks", "bearer"),
        ("POST", f"/2/account_activity/webhooks/{hook['id']}/subscriptions/all", "oauth1"),
    ]
    assert all(c["ok"] for c in x_api.config["CALLS"])
    assert x_api.config["CALLS"][2]["json"] == {"url": URL}


def test_set_webhook_again_checks_the_same_webhook_instead_of_a_second(run, x_api):
    run("set-webhook")
    result = run("set-webhook")
    assert result.exit_code == 0, result.output
    assert len(x_api.config["WEBHOOKS"]) == 1
    assert ("PUT", "bearer") in {(c["method"], c["auth"]) for c in x_api.config["CALLS"]}


def test_a_failed_crc_is_xs_refusal_said_plainly(run, x_api, monkeypatch):
    x_api.config["CRC_CHECK"] = lambda url, token: {"response_token": "sha256=wrong"}
    result = run("set-webhook")
    assert result.exit_code != 0
    assert "X refused (400)" in result.output and "CRC" in result.output
    assert x_api.config["WEBHOOKS"] == {}


def test_info_lists_the_webhooks_and_the_subscription(run, x_api):
    assert "no webhook is registered" in run("info").output
    run("set-webhook")
    result = run("info")
    assert result.exit_code == 0, result.output
    [hook] = x_api.config["WEBHOOKS"].values()
    assert f"id: {hook['id']}, url: {URL}, valid: True" in result.output
    assert f"webhook {hook['id']}: account subscribed: yes" in result.output


def test_without_credentials_nothing_is_asked(run, x_api, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("X_CONSUMER_SECRET", "")
    get_settings.cache_clear()
    result = run("set-webhook")
    assert result.exit_code != 0 and "X_CONSUMER_SECRET" in result.output
    assert x_api.config["CALLS"] == []
