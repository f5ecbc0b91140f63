"""Reading picks from a list: one by number or name, several by numbers or names."""

from __future__ import annotations

import pytest

from conversations import Choice
from conversations.choices import parse_choice, parse_choices

LANES = (
    Choice("TRAVEL", "Traffic lane"),
    Choice("BIKE", "Bike lane"),
    Choice("XWALK", "Crosswalk"),
    Choice("CURB", "Curb lane"),
)
KINDS = (
    Choice("GARB", "Garbage"),
    Choice("RECY", "Recycling"),
    Choice("YARD", "Yard waste"),
    Choice("BULK", "Bulk item"),
)
YES_NO = (Choice("true", "Yes"), Choice("false", "No"))
NUMBERED = (Choice("10", "Ten"), Choice("20", "Twenty"))


@pytest.mark.parametrize(
    ("text", "values", "key"),
    [
        ("1", LANES, "TRAVEL"),
        ("#2", LANES, "BIKE"),
        ("4.", LANES, "CURB"),
        ("bike", LANES, "BIKE"),  # the start of one name
        ("BIKE LANE", LANES, "BIKE"),
        ("Crosswalk!", LANES, "XWALK"),
        ("crosswlk", LANES, "XWALK"),  # a typo
        ("the bike lane", LANES, "BIKE"),
        ("curb", LANES, "CURB"),
        ("yes", YES_NO, "true"),
        ("Y", YES_NO, "true"),
        ("yeah", YES_NO, "true"),  # yes-ish words pick the Yes value
        ("nope", YES_NO, "false"),
        ("2", YES_NO, "false"),
        ("1", NUMBERED, "10"),  # numbers pick by position, not by key
        ("0", LANES, None),
        ("5", LANES, None),
        ("lane", LANES, None),  # several names fit: unclear
        ("zzz", LANES, None),
        ("", LANES, None),
        ("maybe", YES_NO, None),
    ],
)
def test_parse_choice(text, values, key):
    assert parse_choice(text, values) == key


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("1", ["GARB"]),
        ("1 3", ["GARB", "YARD"]),
        ("1,3", ["GARB", "YARD"]),
        ("1 and 3", ["GARB", "YARD"]),
        ("1, 2 & 4", ["GARB", "RECY", "BULK"]),
        ("3 1", ["GARB", "YARD"]),  # kept in the list's order
        ("1 1", ["GARB"]),
        ("#1 #2", ["GARB", "RECY"]),
        ("1. 3.", ["GARB", "YARD"]),
        ("garbage and recycling", ["GARB", "RECY"]),
        ("Garbage, yard waste", ["GARB", "YARD"]),
        ("recyling", ["RECY"]),
        ("1 and yard", ["GARB", "YARD"]),
        ("all", ["GARB", "RECY", "YARD", "BULK"]),
        ("All of them.", ["GARB", "RECY", "YARD", "BULK"]),
        ("1 5", None),  # one number out of range spoils the answer: ask again
        ("0", None),
        ("1 3 zz", None),
        ("garbage and zz", None),
        ("", None),
    ],
)
def test_parse_choices(text, keys):
    assert parse_choices(text, KINDS) == keys


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("couch, old tv, and a bunch of trash bags", ["1", "4", "5"]),
        ("tires and furniture", ["1", "2"]),
        ("a fridge", ["5"]),
        ("the stuff", None),
    ],
)
def test_list_answers_in_everyday_words(text, keys):
    dumped = tuple(
        Choice(str(n), name)
        for n, name in enumerate(
            (
                "Furniture or mattresses",
                "Tires",
                "Construction debris",
                "Bags of trash",
                "Appliances",
                "Something else",
            ),
            start=1,
        )
    )
    assert parse_choices(text, dumped) == keys
