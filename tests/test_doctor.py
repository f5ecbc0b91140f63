"""`intake311 doctor` against the loopback city, Twilio and Telegram stand-ins."""

from __future__ import annotations

import re
import socket

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.settings import get_settings
from tests.conftest import (
    PUBLIC_BASE_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_FROM,
    TWILIO_TOKEN,
)

SECRETS = (TWILIO_TOKEN, TELEGRAM_TOKEN, TELEGRAM_SECRET)
LINE = re.compile(r"^(✓ OK  |✗ FAIL|! WARN) (?P<name>[a-z0-9 ]+)(: .*)?$")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def healthy(env, twilio_api, telegram_api):
    """Every service as it should be: our number, our webhook."""
    twilio_api.config["NUMBERS"].add(TWILIO_FROM)
    telegram_api.config["WEBHOOK"] = {"url": f"{PUBLIC_BASE_URL}/webhooks/telegram"}
    return env


def run(monkeypatch, **changed: str):
    """`intake311 doctor` with these settings changed: its exit code, output and lines."""
    for name, value in changed.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["doctor"])
    checks = {}
    for line in result.output.splitlines():
        found = LINE.match(line)
        if found:
            checks.setdefault(found["name"], []).append(line)
    for secret in SECRETS:
        assert secret not in result.output
    return result, checks


def failing(checks: dict) -> set[str]:
    return {name for name, lines in checks.items() if any("✗ FAIL" in line for line in lines)}


def test_all_good_exits_0_with_every_check_ok(healthy, monkeypatch):
    result, checks = run(monkeypatch)
    print(result.output)
    assert result.exit_code == 0, result.output
    assert failing(checks) == set()
    for name in (
        "settings",
        "database",
        "migrations",
        "redis",
        "open311 services",
        "open311 api key",
        "twilio",
        "twilio from number",
        "telegram",
        "telegram webhook",
        "geocoder",
    ):
        assert checks[name][0].startswith("✓ OK"), result.output
    assert "0 problem(s), 0 warning(s)" in result.output
