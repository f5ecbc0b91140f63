"""Commands a resident may text at any point: HELP (INFO), RESTART (CANCEL), STATUS <number>.

RESTART is the word we teach for dropping a report: CANCEL is also a carrier opt-out keyword
on SMS (Twilio's default list), so an SMS resident's CANCEL stops all texts before it gets here.
On channels without carrier keywords CANCEL still drops the report.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

HELP, CANCEL, STATUS, START = "help", "cancel", "status", "start"

_WORDS = {
    "help": HELP,
    "info": HELP,
    "cancel": CANCEL,
    "restart": CANCEL,
    "start over": CANCEL,
    "new report": CANCEL,
    "start": START,  # Telegram's /start, or START: a fresh conversation from the greeting
}
_EDGES = string.whitespace + string.punctuation
_STATUS = re.compile(r"status\b(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_NUMBER_EDGES = "#:.,;!?()[]\"'"


@dataclass(frozen=True)
class Command:
    """A parsed command; `number` is the request number of STATUS, None when missing."""

    name: str
    number: str | None = None


def parse_command(text: str) -> Command | None:
    """The command the message is, or None when it is an ordinary message."""
    bare = text.strip(_EDGES)
    word = _WORDS.get(bare.casefold())
    if word:
        return Command(word)
    found = _STATUS.fullmatch(bare)
    if not found:
        return None
    for token in found["rest"].split():
        token = token.strip(_NUMBER_EDGES)
        if any(c.isdigit() for c in token):
            return Command(STATUS, token)
    return Command(STATUS)
