"""Commands a resident may send at any point, in English or in their language's words.

HELP (INFO), RESTART (start over), BACK, STATUS <number>, MY REPORTS, LANGUAGE [name], START.
CANCEL is not one of them: it is an opt-out keyword (carriers treat it as STOP on SMS, and the
worker does the same on every channel), so dropping a report is RESTART.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .language import ENGLISH, Language

HELP, RESTART, STATUS, START = "help", "restart", "status", "start"
BACK, MY_REPORTS, LANGUAGE = "back", "my reports", "language"

_WORDS = {
    "help": HELP,
    "info": HELP,
    "restart": RESTART,
    "start over": RESTART,
    "new report": RESTART,
    "cancel report": RESTART,
    "cancel this report": RESTART,
    "start": START,  # Telegram's /start, or START: a fresh conversation from the greeting
    "back": BACK,
    "go back": BACK,
    "undo": BACK,
    "my reports": MY_REPORTS,
    "myreports": MY_REPORTS,  # Telegram's /myreports
    "my requests": MY_REPORTS,
    "reports": MY_REPORTS,
    "language": LANGUAGE,
    "languages": LANGUAGE,
    "lang": LANGUAGE,
}
# The language's word groups that name the same commands.
_GROUPS = {"help": HELP, "restart": RESTART, "back": BACK, "my reports": MY_REPORTS,
           "language": LANGUAGE}
_EDGES = string.whitespace + string.punctuation + "\u3002\uff01\uff1f"
_NUMBER_EDGES = "#:.,;!?()[]\"'"


@dataclass(frozen=True)
class Command:
    """A parsed command; `argument` is STATUS's request number or LANGUAGE's choice, if given."""

    name: str
    argument: str | None = None


def normal(text: str) -> str:
    """Casefolded, punctuation trimmed from both ends, spaces collapsed."""
    return " ".join(text.strip(_EDGES).casefold().split())


def parse_command(text: str, say: Language = ENGLISH) -> Command | None:
    """The command the message is, or None when it is an ordinary message."""
    bare = normal(text)
    word = _WORDS.get(bare) or next(
        (name for group, name in _GROUPS.items() if say.has(group, bare)), None
    )
    if word:
        return Command(word)
    stripped = " ".join(text.strip(_EDGES).split())
    for prefix, name in _prefixed(say):
        found = re.fullmatch(
            rf"{re.escape(prefix)}(?:\s+|\b|(?=\d))(?P<rest>.*)", stripped, re.IGNORECASE
        )
        if found:
            return _with_argument(name, found["rest"])
    return None


def _prefixed(say: Language) -> list[tuple[str, str]]:
    """Words that take an argument (STATUS 123, LANGUAGE es), English and the language's."""
    words = [("status", STATUS), ("language", LANGUAGE)]
    words += [(w, STATUS) for w in say.words.get("status", ())]
    words += [(w, LANGUAGE) for w in say.words.get("language", ())]
    return words


def _with_argument(name: str, rest: str) -> Command:
    if name == LANGUAGE:
        return Command(LANGUAGE, rest.strip(_EDGES) or None)
    for token in rest.split():
        token = token.strip(_NUMBER_EDGES)
        if any(c.isdigit() for c in token):
            return Command(STATUS, token)
    return Command(STATUS)
