"""Finding a street address (house number, name, street suffix) inside a sentence."""

from __future__ import annotations

import re

_SUFFIXES = (
    "st|street|ave|av|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|way|ct|court|pl|place"
    "|ter|terrace|pkwy|parkway|hwy|highway|cir|circle|sq|square|pike|row|alley|aly"
)
_DIRECTIONS = "n|s|e|w|ne|nw|se|sw|north|south|east|west"
# Words that end a street name: "2 potholes on Main St" holds no address.
_BREAKS = r"(?!(?:on|in|at|near|by|outside|the|of|and|from|to|is|are|was|there)\b)"
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[a-z]?(?:-\d{{1,6}})?\s+"
    rf"(?:{_BREAKS}[\w'.]+\s+){{0,4}}?"
    rf"(?:{_SUFFIXES})\b\.?"
    rf"(?:\s+(?:{_DIRECTIONS})\b\.?)?",
    re.IGNORECASE,
)


def find_address(text: str) -> tuple[str | None, str]:
    """The first street address in the text, and the rest of the text."""
    found = _ADDRESS.search(text)
    if not found:
        return None, text
    rest = (text[: found.start()] + " " + text[found.end() :]).strip()
    return found[0].strip(), " ".join(rest.split())
