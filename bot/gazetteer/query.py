"""What a resident typed, read as a house address, a corner, a block between two streets, or
a name (of a place or a street)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.gazetteer.names import words


@dataclass(frozen=True)
class House:
    """'120 W Main St': a house number (and suffix letter) on a street."""

    number: int
    suffix: str
    street: str


@dataclass(frozen=True)
class Corner:
    """'5th & Mission', 'corner of Elm and Oak', 'Elm St / Oak Ave'."""

    first: str
    second: str


@dataclass(frozen=True)
class Block:
    """'Main between 2nd and 3rd': the block of `street` from one cross street to the other."""

    street: str
    first: str
    second: str


@dataclass(frozen=True)
class Name:
    """Anything else: a place's name ('the library') or a street's ('Mission St')."""

    text: str


Query = House | Corner | Block | Name

_UNIT = re.compile(
    r"(?:[\s,]+(?:apt|apartment|unit|suite|ste|fl|floor|rm|room|bldg|building)\.?\s*#?|\s*#)"
    r"\s*[a-z0-9-]{1,8}\s*$",
    re.IGNORECASE,
)
_LEADING = re.compile(
    r"^(?:(?:right\s+)?(?:at|on|near|by|outside(?:\s+of)?|in\s+front\s+of|across\s+from|"
    r"opposite|behind|next\s+to)\s+)?(?:the\s+)?(?:(?:street\s+)?corner|intersection|junction)"
    r"\s+(?:of\s+)?|^(?:right\s+)?(?:at|on|near|by|outside(?:\s+of)?|in\s+front\s+of|"
    r"across\s+from|opposite|behind|next\s+to)\s+",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"\s+(?:corner|intersection)$", re.IGNORECASE)
_BETWEEN = re.compile(
    r"^(?P<street>.+?)\s+(?:between|betw|btwn|btw|b/w)\s+(?P<first>.+?)\s+(?:and|&|\+)\s+"
    r"(?P<second>.+)$",
    re.IGNORECASE,
)
_HOUSE = re.compile(
    r"^(?P<number>[0-9]{1,7})(?P<suffix>[a-z])?\s+"
    r"(?!(?:&|\+|/|@|and\b|at\b|x\b))"  # "5 & Mission": the corner of 5th, not house 5
    r"(?P<street>.*[a-z].*)$",
    re.IGNORECASE,
)
_CORNER = re.compile(r"\s*(?:&|\+|/|@|\band\b|\bat\b|\bx\b)\s*", re.IGNORECASE)
_ZIP = re.compile(r"\s+[0-9]{5}(?:-[0-9]{4})?$")


def clean(text: str, city: str = "") -> str:
    """The typed text without its unit, city, state or postcode."""
    text = " ".join(text.replace("\u2019", "'").split())
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > 1 and parts[0].isdigit():  # "120, Main St"
        parts = [f"{parts[0]} {parts[1]}", *parts[2:]]
    text = parts[0] if parts else ""
    text = _ZIP.sub("", text)
    city_words = words(city)
    if city_words:
        found = words(text)
        if len(found) > len(city_words) and found[-len(city_words) :] == city_words:
            text = re.sub(
                r"\s*" + r"\W+".join(map(re.escape, city.split())) + r"\s*$",
                "",
                text,
                flags=re.IGNORECASE,
            )
    for _ in range(2):  # "apt 3" after "#2" and so on
        text = _UNIT.sub("", text)
    return text.strip(" .")


def parse(text: str, city: str = "") -> list[Query]:
    """The readings of the typed text, the likeliest first."""
    text = clean(text, city)
    if not text:
        return []
    unprefixed = _TRAILING.sub("", _LEADING.sub("", text)).strip()
    readings: list[Query] = []
    between = _BETWEEN.match(unprefixed)
    if between:
        readings.append(Block(between["street"], between["first"], between["second"]))
    house = _HOUSE.match(text)
    if house:
        readings.append(
            House(int(house["number"]), (house["suffix"] or "").upper(), house["street"])
        )
    if not between:  # each separator in turn: "Lewis and Clark Blvd & 5th"
        for cut in _CORNER.finditer(unprefixed):
            first, second = unprefixed[: cut.start()].strip(), unprefixed[cut.end() :].strip()
            if first and second:
                readings.append(Corner(first, second))
    readings.append(Name(unprefixed or text))
    return readings
