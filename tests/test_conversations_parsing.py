"""Commands, yes/no and numbers, and addresses inside a sentence."""

from __future__ import annotations

import pytest

from conversations.addresses import find_address
from conversations.answers import is_skip, number, yes_or_no
from conversations.commands import (
    BACK,
    HELP,
    LANGUAGE,
    MY_REPORTS,
    RESTART,
    STATUS,
    Command,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("HELP", Command(HELP)),
        (" help ", Command(HELP)),
        ("Help!", Command(HELP)),
        ("info", Command(HELP)),
        ("CANCEL", None),  # an opt-out word: the worker stops all messages before the engine
        ("cancel report", Command(RESTART)),
        ("RESTART", Command(RESTART)),
        ("start over", Command(RESTART)),
        ("BACK", Command(BACK)),
        ("/back", Command(BACK)),
        ("go back", Command(BACK)),
        ("MY REPORTS", Command(MY_REPORTS)),
        ("/myreports", Command(MY_REPORTS)),
        ("LANGUAGE", Command(LANGUAGE)),
        ("language spanish", Command(LANGUAGE, "spanish")),
        ("Language: es", Command(LANGUAGE, "es")),
        ("/start", Command("start")),
        ("STATUS 12345", Command(STATUS, "12345")),
        ("status #14-01100669", Command(STATUS, "14-01100669")),
        ("Status of 2026-000123", Command(STATUS, "2026-000123")),
        ("status: 77.", Command(STATUS, "77")),
        ("status for request #A-42 please", Command(STATUS, "A-42")),
        ("STATUS", Command(STATUS)),
        ("status of my report", Command(STATUS)),
        ("pothole", None),
        ("help me, a pothole", None),
        ("I want to cancel", None),
        ("statuses", None),
        ("", None),
    ],
)
def test_parse_command(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", True),
        ("Y", True),
        ("Yeah!", True),
        ("yep", True),
        ("correct", True),
        ("right", True),
        ("OK", True),
        ("\U0001f44d", True),
        ("\U0001f44d\U0001f3fd", True),
        ("yes \U0001f44d", True),
        ("Yes!! \U0001f64f\U0001f3fe", True),
        ("no \U0001f645", False),
        ("\U0001f44e", None),
        ("no", False),
        ("N", False),
        ("nope", False),
        ("Wrong.", False),
        ("maybe", None),
        ("yes no", None),
        ("", None),
        ("120 Main St", None),
    ],
)
def test_yes_or_no(text, answer):
    assert yes_or_no(text) == answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        (" 2 ", 2),
        ("#3", 3),
        ("4.", 4),
        ("5)", 5),
        ("12", 12),
        ("one", None),
        ("1 2", None),
        ("120 Main St", None),
        ("", None),
    ],
)
def test_number(text, value):
    assert number(text) == value


@pytest.mark.parametrize(
    ("text", "skip"),
    [
        ("SKIP", True),
        ("skip", True),
        (" Skip it. ", True),
        ("skip this one", True),
        ("skipping", False),
        ("don't skip", False),
        ("no", False),
        ("", False),
    ],
)
def test_is_skip(text, skip):
    assert is_skip(text) is skip


@pytest.mark.parametrize(
    ("text", "address", "rest"),
    [
        ("big pothole outside 120 Main St", "120 Main St", "big pothole outside"),
        ("120 N Main Street near the school", "120 N Main Street", "near the school"),
        ("graffiti at 1600 Pennsylvania Ave NW.", "1600 Pennsylvania Ave NW.", "graffiti at"),
        ("light out at 45b Oak Rd", "45b Oak Rd", "light out at"),
        ("120 5th Ave", "120 5th Ave", ""),
        ("there are 2 potholes on Main St", None, "there are 2 potholes on Main St"),
        ("pothole on main st", None, "pothole on main st"),
        ("123 Maple", None, "123 Maple"),
    ],
)
def test_find_address(text, address, rest):
    assert find_address(text) == (address, rest)
