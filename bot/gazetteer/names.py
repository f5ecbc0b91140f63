"""Street names as residents and data files spell them: one normalised form for both."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Spellings of a street's type and direction, read as one word each ("W Main St" = "West Main
# Street").
SPELLED = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "blvd": "boulevard",
    "dr": "drive",
    "ln": "lane",
    "ct": "court",
    "pl": "place",
    "pkwy": "parkway",
    "hwy": "highway",
    "ter": "terrace",
    "cir": "circle",
    "sq": "square",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
}
STREET_TYPES = frozenset(
    {"street", "avenue", "road", "boulevard", "drive", "lane", "court", "place", "parkway"}
    | {"highway", "terrace", "circle", "square", "way"}
)
DIRECTIONS = frozenset({"north", "south", "east", "west"})
# Ordinal street names spelled in words ("Fifth Avenue" = "5th Avenue").
_ORDINAL_WORDS = {
    word: number
    for number, word in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ],
        start=1,
    )
}
_ORDINAL = re.compile(r"0*([0-9]+)(st|nd|rd|th)")


def words(text: str) -> list[str]:
    """The text's words, casefolded, street types and directions spelled out."""
    text = unicodedata.normalize("NFKC", text).casefold()  # "１２０ Ｍａｉｎ" is "120 main"
    return [SPELLED.get(word, word) for word in re.findall(r"[^\W_]+", text)]


def ordinal(number: int) -> str:
    """1 -> '1st', 12 -> '12th', 23 -> '23rd'."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def _name_word(word: str) -> str:
    """One word of a street's name: ordinals in one form ('05TH', 'fifth' -> '5th')."""
    if word in _ORDINAL_WORDS:
        return ordinal(_ORDINAL_WORDS[word])
    found = _ORDINAL.fullmatch(word)
    return ordinal(int(found.group(1))) if found else word


@dataclass(frozen=True)
class Street:
    """A street's name in parts, each normalised: ('west', 'main', 'street', '')."""

    predir: str
    name: str
    type: str
    postdir: str

    @property
    def key(self) -> str:
        """The whole name, normalised: 'west main street'."""
        return " ".join(p for p in (self.predir, self.name, self.type, self.postdir) if p)

    @property
    def display(self) -> str:
        """The name as shown to a resident: 'West Main Street', '5th Avenue'."""
        return " ".join(w if w[0].isdigit() else w.capitalize() for w in self.key.split())


def street(
    text: str, type_: str = "", predir: str = "", postdir: str = "", guess: bool = True
) -> Street | None:
    """A street's name from its text and the optional parts a data file gives apart; the type
    and directions are taken off the text's ends when `guess` and not given. None when no name
    is left."""
    found = words(text)
    pre, kind, post = words(predir), words(type_), words(postdir)
    pre_s, kind_s, post_s = " ".join(pre), " ".join(kind), " ".join(post)
    if post and found[-len(post) :] == post:  # "MISSION BAY BLVD NORTH" and "NORTH"
        del found[-len(post) :]
    if kind and found[-len(kind) :] == kind:  # "MISSION ST" and "ST"
        del found[-len(kind) :]
    if pre and found[: len(pre)] == pre:
        del found[: len(pre)]
    if guess:
        if not post_s and len(found) > 1 and found[-1] in DIRECTIONS:
            post_s = found.pop()
        if not kind_s and len(found) > 1 and found[-1] in STREET_TYPES:
            kind_s = found.pop()
        if not pre_s and len(found) > 1 and found[0] in DIRECTIONS:
            pre_s = found.pop(0)
    if len(found) > 1 and found[0] == "street":  # "St Francis Wood": a saint, not a street
        found[0] = "saint"
    if len(found) == 1 and found[0].isdigit():  # "5 & Mission": 5th
        found[0] = ordinal(int(found[0]))
    name = " ".join(_name_word(w) for w in found)
    return Street(pre_s, name, kind_s, post_s) if name else None
