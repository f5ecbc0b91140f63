"""Fixtures for the Mastodon tests: the loopback stand-in for an instance (tests/fakes/
mastodon_api.py) and a process configured to use it. Imported by the test modules that need
them (they are not in conftest.py: only the Mastodon tests start this server)."""

from __future__ import annotations

import re

import pytest

from bot.channels import mastodon
from bot.settings import get_settings
from sandbox.server import serve
from tests.fakes.mastodon_api import create_mastodon_api_app, reset_mastodon_api

MASTODON_TOKEN = "test-mastodon-token_0123456789abcdefghij"
ACCOUNT_ID = "109000000000000001"  # the city's account (fixtures/mastodon/account_credentials)


@pytest.fixture(scope="session")
def mastodon_server():
    """The Mastodon instance stand-in on loopback."""
    server = serve(create_mastodon_api_app(MASTODON_TOKEN))
    yield server
    server.stop()


@pytest.fixture
def mastodon_api(mastodon_server):
    """The stand-in's Flask app, emptied for this test (and our account's id forgotten)."""
    reset_mastodon_api(mastodon_server._server.app)
    mastodon._OWN_ACCOUNTS.clear()
    return mastodon_server._server.app


def configure_mastodon(monkeypatch, server, **extra: str) -> None:
    """Point this process's settings at the stand-in (unpaced)."""
    env = {
        "MASTODON_BASE_URL": server.url,
        "MASTODON_ACCESS_TOKEN": MASTODON_TOKEN,
        "MASTODON_SENDS_PER_SECOND": "0",
        "MASTODON_MEDIA_HOSTS": "",
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture
def mastodon_settings(sqlite_env, monkeypatch, mastodon_server, mastodon_api):
    """A process on SQLite configured for the stand-in instance."""
    configure_mastodon(monkeypatch, mastodon_server)
    return get_settings()


# Mastodon's own mention pattern (app/models/account.rb, Account::MENTION_RE): every match in a
# status's text is resolved to an account, and a `direct` status reaches each one of them.
_USERNAME_RE = r"[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?"
MENTION_RE = re.compile(rf"(?<![=/\w])@({_USERNAME_RE})(?:@[\w.-]+\w)?", re.IGNORECASE)


def recipients(status: str) -> set[str]:
    """The accounts Mastodon would read as mentioned in a status's text."""
    return {found.group(0).lower() for found in MENTION_RE.finditer(status)}


def cursor_at(settings, note_id: str) -> str:
    """The poll cursor of the city's account on the stand-in, at notification `note_id`."""
    return f"{mastodon.account_key(ACCOUNT_ID, settings)}:{note_id}"


def note_id_of(cursor: str | bytes | None) -> str | None:
    """The notification id a poll cursor holds."""
    if isinstance(cursor, bytes):
        cursor = cursor.decode()
    return cursor.rpartition(":")[2] if cursor else None
