"""Commands a resident may send at any point, in English or in their language's words.

HELP (INFO), RESTART (start over), BACK, STATUS <number>, MY REPORTS, LANGUAGE [name], START,
AGENT (a person: "human", "talk to someone", "operator", and the language's "agent" words).
CANCEL is not one of them: it is an opt-out keyword (carriers treat it as STOP on SMS, and the
worker does the same on every channel), so dropping a report is RESTART.

DELETE MY DATA is not one either: like STOP it is the worker's (it erases stored data), which
asks with `forget_language` before the engine sees the message.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from .language import ENGLISH, Language

HELP, RESTART, STATUS, START = "help", "restart", "status", "start"
AGENT = "agent"  # a person, please (human handoff)
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
    "agent": AGENT,
    "an agent": AGENT,
    "live agent": AGENT,
    "human": AGENT,
    "a human": AGENT,
    "person": AGENT,
    "a person": AGENT,
    "real person": AGENT,
    "a real person": AGENT,
    "operator": AGENT,
    "representative": AGENT,
    "talk to someone": AGENT,
    "talk to a person": AGENT,
    "talk to a human": AGENT,
    "talk to an agent": AGENT,
    "speak to someone": AGENT,
    "speak to a person": AGENT,
    "speak to a human": AGENT,
    "speak to an agent": AGENT,
}
# The language's word groups that name the same commands.
_GROUPS = {
    "help": HELP,
    "restart": RESTART,
    "back": BACK,
    "my reports": MY_REPORTS,
    "language": LANGUAGE,
    "agent": AGENT,
}
_EDGES = string.whitespace + string.punctuation + "\u3002\uff01\uff1f"
_NUMBER_EDGES = (
    "#:.,;!?()[]\"'\u3002\uff01\uff03\uff0c\uff1a\uff1f"
    "\u2014\u2013\u00ab\u00bb\u201c\u201d\u2018\u2019"  # dashes, guillemets, curly quotes
)
# A request number without digits: letters, maybe joined by - _ or . (as the city issued it).
_LETTERS_ID = re.compile(r"[A-Za-z][A-Za-z_.-]*[A-Za-z]")
SHORTEST_LETTERS_ID = 3
# Words said around a request number, never taken for one (besides the language's command
# words): by language code, English ones in every language. Only ASCII words matter (a number
# without digits is ASCII letters), so Vietnamese is listed without its diacritics.
_NOT_NUMBERS = {
    "en": "a about again all an and any check checking closed done english for hello hey hi id "
    "info is it last latest me menu mine my no nope num number of ok okay on open our please "
    "pls plz report reports request requests see show thank thanks the this thx ticket today "
    "update updates what whats with yeah yes you",
    "es": "caso cual de del el es estado favor folio gracias hola la las los mi mis numero para "
    "por porfa que queja reporte reportes revisar saber sobre solicitud solicitudes su un una "
    "ver y",
    "vi": "bao cam cao cho cua don hoi kiem la ma on phan anh so toi tra vui long xem xin yeu cau",
    "tl": "aking ang ano ba ko kahilingan mga na ng numero paki pakitingnan po reklamo sa "
    "salamat tingnan ulat yung",
}


@dataclass(frozen=True)
class Command:
    """A parsed command; `argument` is STATUS's request number or LANGUAGE's choice, if given."""

    name: str
    argument: str | None = None


# A resident asking us to erase what we keep about them (DELETE MY DATA), in English; other
# languages list theirs in the "forget" word group.
FORGET_WORDS = frozenset(
    {
        "delete my data",
        "delete all my data",
        "delete my info",
        "delete my information",
        "delete my details",
        "delete my number",
        "delete my personal data",
        "delete me",
        "deletemydata",
        "erase my data",
        "erase my info",
        "erase my information",
        "remove my data",
        "remove my info",
        "remove my information",
        "remove my number",
        "forget me",
        "forgetme",
        "forget my data",
        "forget my number",
        "please delete my data",
        "please forget me",
    }
)


def forget_language(text: str, languages: Mapping[str, Language]) -> str | None:
    """The code of the language in which `text` asks to DELETE MY DATA, or None."""
    bare = normal(text)
    if not bare or len(bare) > MAX_COMMAND:
        return None
    if bare in FORGET_WORDS:
        return "en"
    for code, language in languages.items():
        if language.has("forget", bare):
            return code
    return None


def normal(text: str) -> str:
    """Casefolded, punctuation trimmed from both ends, spaces collapsed."""
    return " ".join(text.strip(_EDGES).casefold().split())


def parse_command(
    text: str, say: Language = ENGLISH, forms: tuple[str, str] | None = None
) -> Command | None:
    """The command the message is, or None when it is an ordinary message.

    `forms` is what `command_forms(text)` gave, for a caller trying several languages.
    """
    forms = forms or command_forms(text)
    if forms is None:
        return None
    bare, spaced = forms
    words, prefixed, names = _grammar(say)
    word = words.get(bare)
    if word:
        return Command(word)
    found = prefixed.fullmatch(spaced)
    if found:
        return _with_argument(names[found["word"].casefold()], found["rest"], _not_numbers(say))
    return None


def command_forms(text: str) -> tuple[str, str] | None:
    """The forms of a message a command is read from (`normal`, and trimmed with its spaces
    collapsed); None when it cannot be a command (empty, or longer than MAX_COMMAND)."""
    bare = normal(text)
    if not bare or len(bare) > MAX_COMMAND:
        return None
    return bare, " ".join(text.strip(_EDGES).split())


MAX_COMMAND = 60  # longer messages are never commands ("status" inside a sentence is not one)
_NAMES = {"status": STATUS, "language": LANGUAGE}
_GRAMMARS: dict[int, tuple[Language, dict, re.Pattern, dict]] = {}
_STOPS: dict[int, tuple[Language, frozenset[str]]] = {}


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
        rf"(?P<word>{'|'.join(re.escape(p) for p in prefixes)})"
        r"(?:\s+|\b|(?=\d)|(?<=[^\x00-\x7f])(?=[A-Za-z#]))(?P<rest>.*)",
        re.IGNORECASE,
    )
    if len(_GRAMMARS) > 32:
        _GRAMMARS.clear()
    _GRAMMARS[id(say)] = (say, words, pattern, names)  # kept: the id stays unique
    return words, pattern, names


def _with_argument(name: str, rest: str, stops: frozenset[str]) -> Command:
    if name == LANGUAGE:
        return Command(LANGUAGE, rest.strip(_EDGES) or None)
    return Command(STATUS, request_number(rest, stops))


def request_number(rest: str, stops: frozenset[str] = frozenset()) -> str | None:
    """The request number in the words after STATUS, as typed (its case kept).

    The first word with a digit; else the one word left that is not a word of the language
    (`stops`) and looks like a number without digits ("nnxoxfvi", "ABC-DEF"); else None.
    """
    tokens = [t for t in (token.strip(_NUMBER_EDGES) for token in rest.split()) if t]
    digits = [t for t in tokens if any(c.isdigit() for c in t)]
    if digits:
        return digits[0]
    left = [t for t in tokens if t.casefold() not in stops]
    if len(left) == 1 and _looks_like_letters_id(left[0]):
        return left[0]
    return None


def _looks_like_letters_id(token: str) -> bool:
    """ASCII letters (maybe joined by - _ .), long enough not to be a stray letter or two."""
    return len(token) >= SHORTEST_LETTERS_ID and bool(_LETTERS_ID.fullmatch(token))


def _not_numbers(say: Language) -> frozenset[str]:
    """Words never taken for a request number in this language, built once per language."""
    kept = _STOPS.get(id(say))
    if kept is not None and kept[0] is say:
        return kept[1]
    phrases = [*_WORDS, *_NAMES, _NOT_NUMBERS["en"], _NOT_NUMBERS.get(say.code, "")]
    phrases += [word for group in say.words.values() for word in group]
    stops = frozenset(w.strip(_NUMBER_EDGES) for p in phrases for w in p.casefold().split())
    if len(_STOPS) > 32:
        _STOPS.clear()
    _STOPS[id(say)] = (say, stops)  # kept: the id stays unique
    return stops
