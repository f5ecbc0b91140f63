"""The console channel: a person at a terminal, whose replies are read from the database."""

from __future__ import annotations

from bot.channels.base import Outgoing
from bot.settings import Settings

NAME = "console"


def address_for(name: str) -> str:
    """The contact address of a console user."""
    return f"console:{name}"


def send(out: Outgoing, settings: Settings) -> str:
    """Nothing to transmit: `intake311 chat` prints sent messages; return a provider id."""
    return f"console-{out.message_id}"
