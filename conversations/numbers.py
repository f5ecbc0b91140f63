"""Reading a quantity from a short answer: "2", "2.5", "12 inches", "two", "twenty one"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = {
    "zero": 0,
    "none": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "a dozen": 12,
    "dozen": 12,
    "a couple": 2,
    "couple": 2,
}
_ONES = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a hundred": 100,
    "one hundred": 100,
    "hundred": 100,
}
_DIGITS = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d*\.\d+|\d+)")
_WORDS = "|".join(sorted(map(re.escape, [*_UNITS, *_TENS]), key=len, reverse=True))
_WORD_NUMBER = re.compile(
    rf"\b(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{'|'.join(_ONES)}))?\b"
    rf"|\b(?P<word>{_WORDS})\b"
)


def word_number(text: str) -> int | None:
    """The value of a number written in words ("two", "twenty-one"), None if it is not one."""
    found = _WORD_NUMBER.fullmatch(" ".join(text.casefold().split()))
    return _word_value(found) if found else None


def _word_value(found: re.Match) -> int:
    """The value of a _WORD_NUMBER match."""
    if found["tens"]:
        return _TENS[found["tens"]] + (_UNITS[found["unit"]] if found["unit"] else 0)
    word = found["word"]
    return _UNITS[word] if word in _UNITS else _TENS[word]


def parse_number(text: str) -> str | None:
    """The one number in the text, as text ("2", "2.5", "-3"); None when none or several."""
    text = text.casefold()
    digits = _DIGITS.findall(text)
    words = [_word_value(m) for m in _WORD_NUMBER.finditer(text)]
    if len(digits) + len(words) != 1:
        return None
    if words:
        return str(words[0])
    try:
        value = Decimal(digits[0].replace(",", ""))
    except InvalidOperation:
        return None
    return _plain(value)


def _plain(value: Decimal) -> str:
    """A decimal as plain text without trailing zeros: 2.50 -> "2.5", 3.0 -> "3"."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "+0") else text
