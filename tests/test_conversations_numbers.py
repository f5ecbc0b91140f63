"""Reading a number answer: digits, decimals, units after the number, a few words."""

from __future__ import annotations

import pytest

from conversations.numbers import parse_number, word_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", "2"),
        (" 2 ", "2"),
        ("2.5", "2.5"),
        ("2.50", "2.5"),
        ("3.0", "3"),
        (".5", "0.5"),
        ("-3", "-3"),
        ("12 inches", "12"),
        ("about 3 feet", "3"),
        ("1,200", "1200"),
        ("1,200.50 sq ft", "1200.5"),
        ("two", "2"),
        ("Three", "3"),
        ("twenty one", "21"),
        ("twenty-one", "21"),
        ("a dozen", "12"),
        ("none", "0"),
        ("one hundred", "100"),
        ("about two feet", "2"),
        # not one clear number
        ("", None),
        ("wide", None),
        ("2 or 3", None),
        ("3-4", None),
        ("two or three", None),
        ("2,5", None),  # a decimal comma or two numbers: ask again
        ("12 inches, maybe 14", None),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("one", 1),
        ("Twelve", 12),
        ("twenty  one", 21),
        ("ninety-nine", 99),
        ("a couple", 2),
        ("2", None),
        ("one two", None),
        ("won", None),
    ],
)
def test_word_number(text, value):
    assert word_number(text) == value
