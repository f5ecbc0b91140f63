"""The console channel: a person at a terminal (`intake311 chat`), whose replies are read from
the database; no webhook, nothing transmitted."""

from __future__ import annotations

from bot.channels.base import Channel, Outgoing
from bot.settings import Settings

NAME = "console"


class Console(Channel):
    """`intake311 chat`: messages are stored by the chat itself; sends are only marked."""

    name = NAME
    scheme = NAME

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Nothing to transmit: `intake311 chat` prints sent messages; return a provider id."""
        return f"console-{out.message_id}"


CHANNEL = Console()


def address_for(name: str) -> str:
    """The contact address of a console user."""
    return CHANNEL.address_for(name)
