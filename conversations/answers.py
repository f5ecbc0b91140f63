"""Reading short answers: yes or no, a number from a list, SKIP."""

from __future__ import annotations

import re
import string
import unicodedata

from .language import ENGLISH, Language

_YES = frozenset(
    {
        "yes",
        "y",
        "yeah",
        "yep",
        "yup",
        "ya",
        "correct",
        "right",
        "ok",
        "okay",
        "k",
        "sure",
        "yes please",
        "yes it is",
        "thats right",
        "that's right",
        "send it",
        "yes send it",
        "send",
        "yes send",
        "go ahead",
        "submit",
        "yes submit",
        "looks good",
        "all good",
        "correct yes",
        "\U0001f44d",
        "\u2714",
        "\u2705",
    }
)
_NO = frozenset({"no", "n", "nope", "nah", "wrong", "incorrect", "no thanks", "not right"})
# ASCII and Chinese punctuation, and Spanish opening marks: "¡Sí!", "是的。"
_EDGES = string.whitespace + string.punctuation + "\u3002\uff01\uff1f\uff0c\u3001\u00a1\u00bf"
# Skin tones and the emoji variation selector, so "thumbs up" in any tone is a yes.
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_SKIP = frozenset({"skip", "skip it", "skip this", "skip this one", "skip question"})
_NUMBER = re.compile(r"#?\s*(\d{1,3})\s*[.)]?")


def _normal(text: str) -> str:
    """Lowercased, modifiers removed (and emoji beside words: "yes 👍"), punctuation trimmed
    from both ends, spaces collapsed."""
    text = _MODIFIERS.sub("", text)
    if any(c.isalnum() for c in text):
        text = "".join(c for c in text if unicodedata.category(c) != "So")
    text = text.casefold().strip(_EDGES)
    return " ".join(text.split())


def yes_or_no(text: str, say: Language = ENGLISH) -> bool | None:
    """True for a yes-ish answer, False for a no-ish one (English or the language's words)."""
    answer = _normal(text)
    if say.has("yes", answer):  # the language's own words first: "k" is "khong" in Vietnamese
        return True
    if say.has("no", answer):
        return False
    if answer in _YES:
        return True
    if answer in _NO:
        return False
    return None


def number(text: str) -> int | None:
    """The number the message is ("2", "#2", "2."), or None when it is not just a number."""
    found = _NUMBER.fullmatch(text.strip())
    return int(found[1]) if found else None


def is_skip(text: str, say: Language = ENGLISH) -> bool:
    """Whether the message asks to skip an optional question."""
    answer = _normal(text)
    return answer in _SKIP or say.has("skip", answer)
