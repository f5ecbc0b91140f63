"""Reading an answer by the question's datatype, as the city takes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations import Attribute, Choice
from conversations.readers import STRING_LIMIT, TEXT_LIMIT, kind_of, read_answer

AT = datetime(2026, 11, 21, 15, 10, tzinfo=UTC)
CHOICES = (Choice("A", "Asphalt"), Choice("C", "Concrete"), Choice("G", "Gravel"))
SINGLE = Attribute("SURFACE", "singlevaluelist", "Surface?", values=CHOICES)
MULTI = Attribute("SURFACES", "multivaluelist", "Surfaces?", values=CHOICES)
NUMBER = Attribute("DEPTH", "number", "How deep?")
WHEN = Attribute("WHEN", "datetime", "When?")
STRING = Attribute("PLATE", "string", "Plate?")
TEXT = Attribute("NOTES", "text", "Notes?")


@pytest.mark.parametrize(
    ("attribute", "text", "value"),
    [
        (SINGLE, "2", "C"),
        (SINGLE, "gravle", "G"),
        (SINGLE, "4", None),
        (MULTI, "1, 3", ["A", "G"]),
        (MULTI, "concrete", ["C"]),
        (MULTI, "1 4", None),
        (NUMBER, "2.5 inches", "2.5"),
        (NUMBER, "three", "3"),
        (NUMBER, "deep", None),
        (WHEN, "yesterday 5pm", "2026-11-20T17:00:00-06:00"),
        (WHEN, "soonish", None),
        (STRING, "  ABC   123 ", "ABC 123"),
        (TEXT, "  line one\nline two  ", "line one\nline two"),
        (STRING, "   ", None),
        (TEXT, "", None),
    ],
)
def test_read_answer(attribute, text, value):
    assert read_answer(attribute, text, AT, "America/Chicago") == value


def test_long_answers_are_capped():
    assert len(read_answer(STRING, "x" * 1000, AT, "UTC")) == STRING_LIMIT == 255
    assert len(read_answer(TEXT, "x" * 5000, AT, "UTC")) == TEXT_LIMIT == 2000


@pytest.mark.parametrize(
    ("attribute", "kind"),
    [
        (SINGLE, "singlevaluelist"),
        (MULTI, "multivaluelist"),
        (Attribute("X", "singlevaluelist", "No values?"), "string"),
        (Attribute("X", "multivaluelist", "No values?"), "string"),
        (Attribute("X", "blob", "Unknown type?"), "string"),
        (NUMBER, "number"),
        (WHEN, "datetime"),
        (TEXT, "text"),
    ],
)
def test_kind_of(attribute, kind):
    assert kind_of(attribute) == kind


def test_a_list_without_values_takes_any_text():
    empty = Attribute("X", "singlevaluelist", "Which?")
    assert read_answer(empty, " the blue one ", AT, "UTC") == "the blue one"
