"""Spotting an emergency (fire, gas, someone hurt, a crime happening) to send to 911 at once.

English patterns live here; other languages list phrases in their "emergency" words. Things a
311 line does take (a fire hydrant, a fire hazard, someone who *could* get hurt) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .language import Language

_NOT_FIRE = (
    r"hydrants?|lanes?|escapes?|stations?|dept|department|works|pit|place|places|hazards?|"
    r"codes?|trucks?|marshal|inspections?|alarms?|ants?|wood|fighters?|house|exits?|doors?"
)
_PATTERNS = [
    rf"\bfire\b(?!\s*(?:{_NOT_FIRE})\b)",
    r"\b(?:on fire|in flames|burning down|catching fire|caught fire|wildfire)\b",
    r"\bsmoke (?:coming|pouring|everywhere|from|in)\b|\bfull of smoke\b",
    r"\bsmell(?:s|ing|ed)? (?:of |like )?(?:gas|smoke)\b",
    r"\bgas (?:leak|leaking|smell|odou?r)\b|\bleaking gas\b|\bcarbon monoxide\b",
    r"\b(?:heart attack|not breathing|unconscious|overdos\w*|seizure|drowning|bleeding)\b",
    r"\b(?:shots? fired|shooting|gunshots?|stabbing|stabbed|robbery|being robbed|"
    r"robbing|break(?:ing)?[- ]in|breaking into|kidnapp\w*|assault\w*|being attacked)\b",
    r"\b(?:someone|somebody) with an? (?:gun|knife|weapon)\b",
    r"\b(?:live|sparking|downed) (?:power )?(?:wires?|lines?)\b|\bpower lines? (?:down|sparking)\b",
    r"\bsparking\b|\bsparks (?:coming|flying)\b|\b(?:down|took down|knocked down) (?:the |a )?"
    r"power lines?\b",
    r"(?<!non )(?<!non-)(?<!not an )(?<!isn't an )(?<!no )\bemergency\b",
]
_HURT = re.compile(
    r"\b(?P<who>someone|somebody|a person|person|people|a man|man|a woman|woman|a child|child|"
    r"kid|a kid|boy|girl|guy|lady|he|she|they|my \w+)\b(?P<between>[^.!?]{0,24}?)"
    r"\b(?:hurt|injured|bleeding|hit by a car|trapped|collapsed|passed out)\b"
)
_MAYBE = re.compile(r"\b(?:could|might|may|will|would|gonna|going to|can)\b")
_ENGLISH = re.compile("|".join(_PATTERNS))


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


_COMPILED: dict[int, tuple[Mapping, re.Pattern | None]] = {}


def _phrases(languages: Mapping[str, Language]) -> re.Pattern | None:
    """One pattern for every language's emergency phrases, compiled once per set of languages."""
    kept = _COMPILED.get(id(languages))
    if kept is not None and kept[0] is languages:
        return kept[1]
    phrases = sorted(
        {p for language in languages.values() for p in language.words.get("emergency", ())},
        key=len,
        reverse=True,
    )
    pattern = re.compile("|".join(_alternative(p) for p in phrases)) if phrases else None
    if len(_COMPILED) > 16:
        _COMPILED.clear()
    _COMPILED[id(languages)] = (languages, pattern)  # keeps the object: its id stays unique
    return pattern


def _alternative(phrase: str) -> str:
    """A phrase as whole words, or anywhere for Chinese characters (written without spaces)."""
    if any("\u3400" <= c <= "\u9fff" for c in phrase):
        return re.escape(phrase)
    return rf"(?<!\w){re.escape(phrase)}(?!\w)"
