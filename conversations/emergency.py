"""Spotting an emergency (fire, gas, someone hurt, a crime happening) to send to 911 at once.

English patterns live here; other languages list phrases in their "emergency" words. Things a
311 line does take (a fire hydrant, a fire hazard, someone who *could* get hurt) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from .language import Language

_NOT_FIRE = (
    r"hydrants?|lanes?|escapes?|stations?|dept|department|works|pit|place|places|hazards?|"
    r"codes?|trucks?|marshal|inspections?|alarms?|ants?|wood|fighters?|house|exits?|doors?"
)
# Each pattern starts at a word boundary: they are searched as one `\b(?:...|...)`, so a
# position inside a word is passed over at once (about 20 times faster than one branch each).
_PATTERNS = [
    rf"fire\b(?!\s*(?:{_NOT_FIRE})\b)",
    r"(?:on fire|in flames|burning down|catching fire|caught fire|wildfire)\b",
    r"smoke (?:coming|pouring|everywhere|from|in)\b",
    r"full of smoke\b",
    r"smell(?:s|ing|ed)? (?:of |like )?(?:gas|smoke)\b",
    r"gas (?:leak|leaking|smell|odou?r)\b",
    r"leaking gas\b",
    r"carbon monoxide\b",
    r"(?:heart attack|not breathing|unconscious|overdos\w*|seizure|drowning|bleeding)\b",
    r"(?:shots? fired|shooting|gunshots?|stabbing|stabbed|robbery|being robbed|"
    r"robbing|break(?:ing)?[- ]in|breaking into|kidnapp\w*|assault\w*|being attacked)\b",
    r"(?:someone|somebody) with an? (?:gun|knife|weapon)\b",
    r"(?:live|sparking|downed) (?:power )?(?:wires?|lines?)\b",
    r"power lines? (?:down|sparking)\b",
    r"sparking\b",
    r"sparks (?:coming|flying)\b",
    r"(?:down|took down|knocked down) (?:the |a )?power lines?\b",
    r"(?<!non )(?<!non-)(?<!not an )(?<!isn't an )(?<!no )emergency\b",
]
_HURT = re.compile(
    r"\b(?P<who>someone|somebody|a person|person|people|a man|man|a woman|woman|a child|child|"
    r"kid|a kid|boy|girl|guy|lady|he|she|they|my \w+)\b(?P<between>[^.!?]{0,24}?)"
    r"\b(?:hurt|injured|bleeding|hit by a car|trapped|collapsed|passed out)\b"
)
_MAYBE = re.compile(r"\b(?:could|might|may|will|would|gonna|going to|can)\b")
_ENGLISH = re.compile(r"\b(?:" + "|".join(_PATTERNS) + ")")


def is_emergency(text: str, languages: Mapping[str, Language]) -> bool:
    """Whether the message reads like an emergency, in English or any language the bot speaks."""
    said = " ".join(text.casefold().split())
    if _ENGLISH.search(said):
        return True
    for found in _HURT.finditer(said):
        if not _MAYBE.search(found["between"]):
            return True
    pattern = _phrases(languages)
    return pattern is not None and pattern.search(said) is not None


_BY_LANGUAGES: dict[int, tuple[Mapping, re.Pattern | None]] = {}


def _phrases(languages: Mapping[str, Language]) -> re.Pattern | None:
    """One pattern for every language's emergency phrases, found again by the languages'
    identity (a turn's cost) or else by the phrases themselves (a set's, then the compile's)."""
    kept = _BY_LANGUAGES.get(id(languages))
    if kept is not None and kept[0] is languages:
        return kept[1]
    phrases = frozenset(
        p for language in languages.values() for p in language.words.get("emergency", ())
    )
    pattern = phrases_pattern(phrases)
    if len(_BY_LANGUAGES) > 16:
        _BY_LANGUAGES.clear()
    _BY_LANGUAGES[id(languages)] = (languages, pattern)  # keeps the object: its id stays unique
    return pattern


@lru_cache(maxsize=16)
def phrases_pattern(phrases: frozenset[str]) -> re.Pattern | None:
    """A pattern finding any of the phrases: as whole words, or anywhere when written in
    Chinese characters (without spaces); None for no phrases.

    The phrases are merged into a trie (shared beginnings written once), so a position is
    tried against the few letters that can start a phrase rather than against every phrase:
    linear in the text, and cheap whatever the number of phrases.
    """
    chinese = {p for p in phrases if any("\u3400" <= c <= "\u9fff" for c in p)}
    alternatives = []
    if phrases - chinese:
        alternatives.append(
            rf"{_starts(phrases - chinese)}(?<!\w)(?:{_trie(phrases - chinese)})(?!\w)"
        )
    if chinese:
        alternatives.append(_starts(chinese) + _trie(chinese))
    return re.compile("|".join(alternatives)) if alternatives else None


def _starts(phrases: set[str] | frozenset[str]) -> str:
    """A lookahead for the characters the phrases start with: one test of a set rejects a
    position that the trie would try letter by letter (about twice as fast); "" when one of
    the phrases is empty (it starts anywhere)."""
    if "" in phrases:
        return ""
    return f"(?=[{''.join(sorted({re.escape(p[0]) for p in phrases}))}])"


def _trie(phrases: Iterable[str]) -> str:
    """A regular expression matching exactly the (non-empty) phrases, as a trie."""
    root: dict[str, dict] = {}
    for phrase in phrases:
        node = root
        for c in phrase:
            node = node.setdefault(c, {})
        node[""] = {}  # a phrase ends here
    return _branches(root)


def _branches(node: dict[str, dict]) -> str:
    alternatives = [re.escape(c) + _branches(child) for c, child in sorted(node.items()) if c]
    if not alternatives:
        return ""
    joined = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    return f"(?:{joined})?" if "" in node else joined
