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
_GROUPS = {
    "help": HELP,
    "restart": RESTART,
    "back": BACK,
    "my reports": MY_REPORTS,
    "language": LANGUAGE,
}
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
    if not bare or len(bare) > MAX_COMMAND:
        return None
    words, prefixed, names = _grammar(say)
    word = words.get(bare)
    if word:
        return Command(word)
    found = prefixed.fullmatch(" ".join(text.strip(_EDGES).split()))
    if found:
        return _with_argument(names[found["word"].casefold()], found["rest"])
    return None


MAX_COMMAND = 60  # longer messages are never commands ("status" inside a sentence is not one)
_NAMES = {"status": STATUS, "language": LANGUAGE}
_GRAMMARS: dict[int, tuple[Language, dict, re.Pattern, dict]] = {}


def _prefix_names(say: Language) -> dict[str, str]:
    names = dict(_NAMES)
    names.update((w, STATUS) for w in say.words.get("status", ()))
    names.update((w, LANGUAGE) for w in say.words.get("language", ()))
    return names


def _grammar(say: Language) -> tuple[dict[str, str], re.Pattern, dict[str, str]]:
    """The language's command words, its "word argument" pattern and what each word names,
    built once per language."""
    kept = _GRAMMARS.get(id(say))
    if kept is not None and kept[0] is say:
        return kept[1], kept[2], kept[3]
    words = dict(_WORDS)
    for group, name in _GROUPS.items():
        words.update((w, name) for w in say.words.get(group, ()))
    names = _prefix_names(say)
    prefixes = sorted(names, key=len, reverse=True)
    pattern = re.compile(
        rf"(?P<word>{'|'.join(re.escape(p) for p in prefixes)})(?:\s+|\b|(?=\d))(?P<rest>.*)",
        re.IGNORECASE,
    )
    if len(_GRAMMARS) > 32:
        _GRAMMARS.clear()
    _GRAMMARS[id(say)] = (say, words, pattern, names)  # kept: the id stays unique
    return words, pattern, names


def _with_argument(name: str, rest: str) -> Command:
    if name == LANGUAGE:
        return Command(LANGUAGE, rest.strip(_EDGES) or None)
    for token in rest.split():
        token = token.strip(_NUMBER_EDGES)
        if any(c.isdigit() for c in token):
            return Command(STATUS, token)
    return Command(STATUS)
