"""ENV=production fails closed: every unsafe setting is named and nothing starts (issue 15)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import production
from bot.personal_data import (
    DEVELOPMENT_ENCRYPTION_KEY,
    DEVELOPMENT_LOOKUP_KEY,
    new_encryption_key,
)
from bot.production import RefusedToStart, cautions, check_startup, problems
from bot.settings import Settings
from webhooks import create_app

ROOT = Path(__file__).resolve().parent.parent
LONG = "0123456789abcdefghijklmnopqrstuv"  # 32 characters, none repeated
SAFE = {
    "env": "production",
    "database_url": "postgresql+psycopg://intake@db/intake311",
    "public_base_url": "https://311.example.gov",
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "f" * 32,
    "twilio_from_number": "+13125550100",
    "telegram_bot_token": "6000000001:AAF-test_token_0123456789abcdefghijk",
    "telegram_secret_token": LONG,
    "webchat_secret": LONG,
    "admin_token": LONG,
    "console_secret_key": LONG,
    "encryption_keys": new_encryption_key(),
    "lookup_key": LONG,
}


def settings(**changes) -> Settings:
    return Settings(_env_file=None, **{**SAFE, **changes})  # type: ignore[call-arg]


def test_safe_settings_have_no_problem():
    assert problems(settings()) == []
    assert problems(settings(admin_token="", webchat_secret="", telegram_bot_token="")) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"twilio_auth_token": ""}, "Twilio is on (TWILIO_ACCOUNT_SID is set) but TWILIO_AUTH"),
        (
            {
                "twilio_auth_token": "",
                "twilio_account_sid": "",
                "twilio_from_number": "",
                "twilio_messaging_service_sid": "MG" + "0" * 32,
            },
            "Twilio is on (TWILIO_MESSAGING_SERVICE_SID is set) but TWILIO_AUTH_TOKEN is not",
        ),
        ({"telegram_secret_token": ""}, "Telegram is on (TELEGRAM_BOT_TOKEN is set) but"),
        ({"telegram_secret_token": "short"}, "TELEGRAM_SECRET_TOKEN is shorter than 32"),
        ({"webchat_secret": "x" * 31}, "WEBCHAT_SECRET is shorter than 32 characters"),
        ({"admin_token": "letmein"}, "ADMIN_TOKEN is shorter than 32 characters"),
        ({"public_base_url": "http://311.example.gov"}, "PUBLIC_BASE_URL is not HTTPS"),
        ({"public_base_url": ""}, "PUBLIC_BASE_URL is not set"),
        ({"encryption_keys": ""}, "ENCRYPTION_KEYS is not set"),
        ({"encryption_keys": f"{new_encryption_key()},nope"}, "ENCRYPTION_KEYS: key 2 is not"),
        ({"lookup_key": ""}, "LOOKUP_KEY is not set"),
        ({"lookup_key": "short"}, "LOOKUP_KEY is shorter than 32 characters"),
        ({"lookup_key": DEVELOPMENT_LOOKUP_KEY}, "LOOKUP_KEY is the development key"),
        ({"admin_token": " " * 32}, "ADMIN_TOKEN is not random enough"),
        ({"admin_token": "a" * 40}, "ADMIN_TOKEN is not random enough"),
        ({"webchat_secret": "abcabcabcabcabcabcabcabcabcabcabc"}, "WEBCHAT_SECRET is not random"),
        ({"lookup_key": " " + LONG}, "LOOKUP_KEY is not random enough"),
        ({"telegram_secret_token": LONG + "!"}, "TELEGRAM_SECRET_TOKEN may hold only"),
        ({"public_base_url": "https://"}, "PUBLIC_BASE_URL has no host"),
        (
            {"encryption_keys": f"{new_encryption_key()},{DEVELOPMENT_ENCRYPTION_KEY}"},
            "ENCRYPTION_KEYS: key 2 is the development key",
        ),
    ],
)
def test_each_unsafe_setting_is_one_problem(changes, problem):
    [found] = problems(settings(**changes))
    assert found.startswith(problem)


def test_every_problem_is_listed_at_once():
    found = problems(settings(twilio_auth_token="", public_base_url="http://x", lookup_key=""))
    assert len(found) == 3


def test_a_dotenv_file_is_a_problem_naming_its_variables_not_their_values():
    [found] = problems(settings(), dotenv={"ADMIN_TOKEN": "hunter2", "DATABASE_URL": "x"})
    assert "ADMIN_TOKEN, DATABASE_URL" in found and "hunter2" not in found
    assert problems(settings(), dotenv=None) == []


def test_sqlite_is_a_caution_not_a_refusal():
    sqlite = settings(database_url="sqlite:///var/intake311.sqlite3")
    assert problems(sqlite) == []
    assert ["SQLite" in c for c in cautions(sqlite)] == [True]
    assert cautions(settings()) == []


def test_production_refuses_to_start_and_names_every_problem(monkeypatch):
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)
    unsafe = settings(admin_token="short", public_base_url="http://311.example.gov")
    with pytest.raises(RefusedToStart) as refused:
        check_startup(unsafe, "worker")
    assert len(refused.value.problems) == 2
    assert "ADMIN_TOKEN" in str(refused.value) and "PUBLIC_BASE_URL" in str(refused.value)
    with pytest.raises(RefusedToStart):
        create_app({"TESTING": True, "SETTINGS": unsafe})
    check_startup(settings(), "worker")  # safe: starts
    assert create_app({"TESTING": True, "SETTINGS": settings()}) is not None


def test_development_says_once_what_is_off(monkeypatch, caplog):
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)
    monkeypatch.setattr(production, "_warned", False)
    caplog.set_level(logging.WARNING, logger="bot.production")
    loose = settings(env="development", admin_token="short")
    check_startup(loose, "web")
    check_startup(loose, "web")
    [record] = [r for r in caplog.records if r.name == "bot.production"]
    assert record.levelno == logging.WARNING
    assert "production checks are off" in record.getMessage()
    assert "\n  - ADMIN_TOKEN is shorter than 32 characters" in record.getMessage()


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SAFE_ENV and k != "ENV"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


SAFE_ENV = {key.upper(): value for key, value in SAFE.items()}


@pytest.mark.parametrize("command", ["worker", "cron", "web", "migrate", "keys rotate"])
def test_the_processes_refuse_to_start_with_a_clear_error(tmp_path, command):
    done = _run(command.split(), tmp_path, **{**SAFE_ENV, "ADMIN_TOKEN": "short", "LOOKUP_KEY": ""})
    assert done.returncode == 2
    assert f"intake311 {command} refuses to start with ENV=production" in done.stderr
    assert (
        "ADMIN_TOKEN is shorter than 32" in done.stderr and "LOOKUP_KEY is not set" in done.stderr
    )
    assert "short" not in done.stderr.replace("shorter", "")  # the value itself is never shown


def test_a_dotenv_file_stops_production(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///elsewhere.sqlite3\n")
    done = _run(["worker"], tmp_path, **SAFE_ENV)
    assert done.returncode == 2
    assert "a .env file in" in done.stderr and "would set DATABASE_URL" in done.stderr


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"env": "prod"}, "ENV must be 'production' or 'development'"),
        ({"env": "staging"}, "ENV must be 'production' or 'development'"),
        (
            {"webchat_frame_ancestors": "https://www.city.gov; script-src * 'unsafe-inline'"},
            "WEBCHAT_FRAME_ANCESTORS takes origins",
        ),
        ({"webchat_frame_ancestors": "'none' https://x.org"}, "WEBCHAT_FRAME_ANCESTORS takes"),
    ],
)
def test_settings_that_would_quietly_weaken_security_are_refused_anywhere(changes, refused):
    with pytest.raises(ValueError, match=refused):
        Settings(_env_file=None, **changes)
