"""The replies asking the service's questions: wording, hints, SKIP, and SMS budgets."""

from __future__ import annotations

import pytest

from conversations import Attribute, Choice
from conversations.plaintext import render
from conversations.question_prompts import ask_attribute, bad_answer
from conversations.segments import is_gsm7, segments
from tests.test_conversations_catalogue import ASKING

ALL_QUESTIONS = [a for service in ASKING for a in service.attributes]
MANY = tuple(
    Choice(f"K{n}", f"A rather long option name, number {n} of the list") for n in range(12)
)


@pytest.mark.parametrize("attribute", ALL_QUESTIONS, ids=lambda a: a.code)
def test_every_question_fits_its_budget(attribute):
    reply = ask_attribute(attribute)
    text = render(reply)
    assert is_gsm7(text), text
    assert segments(text) <= (2 if reply.options else 1), text
    assert segments(bad_answer(attribute).text) == 1


@pytest.mark.parametrize("attribute", ALL_QUESTIONS, ids=lambda a: a.code)
def test_only_optional_questions_offer_skip(attribute):
    assert ("SKIP" in ask_attribute(attribute).text) is not attribute.required


@pytest.mark.parametrize(
    ("datatype", "values", "expects"),
    [
        ("singlevaluelist", (Choice("a", "A"),), "choice"),
        ("multivaluelist", (Choice("a", "A"),), "choices"),
        ("singlevaluelist", (), "text"),
        ("number", (), "text"),
        ("datetime", (), "text"),
        ("string", (), "text"),
        ("text", (), "text"),
    ],
)
def test_what_each_question_expects(datatype, values, expects):
    reply = ask_attribute(Attribute("X", datatype, "Which?", values=values))
    assert reply.expects == expects
    assert reply.options == tuple(value.name for value in values)


def test_a_long_question_is_cut_but_keeps_its_hint():
    tree = next(a for a in ALL_QUESTIONS if a.code == "SIZE")
    text = ask_attribute(tree).text
    assert text.startswith("Please tell us roughly how big the tree")
    assert "..." in text and text.endswith("Or reply SKIP.")
    assert segments(text) == 1


def test_a_long_list_cuts_option_names_but_keeps_every_option():
    attribute = Attribute(
        "MANY",
        "singlevaluelist",
        "Which one of these best describes it?",
        required=True,
        values=MANY,
    )
    reply = ask_attribute(attribute)
    assert len(reply.options) == 12
    assert reply.text == "Which one of these best describes it? Reply with a number."
    assert all(option.endswith("...") for option in reply.options)
    assert segments(render(reply)) <= 2


def test_the_datatype_description_helps_a_number_question():
    number = Attribute("W", "number", "How wide?", datatype_description="In inches")
    assert ask_attribute(number).text == "How wide? In inches. Reply with a number, or SKIP."


@pytest.mark.parametrize(
    ("attribute", "hint"),
    [
        (
            Attribute("L", "singlevaluelist", "?", True, values=MANY[:3]),
            "Please reply with a number from 1 to 3.",
        ),
        (
            Attribute("M", "multivaluelist", "?", False, values=MANY[:5]),
            "Please reply with one or more numbers from 1 to 5, e.g. 1 3, or SKIP.",
        ),
        (Attribute("N", "number", "?", True), "Please reply with a number."),
        (
            Attribute("D", "datetime", "?", False),
            "Please reply with a day and time, e.g. today 5pm or 11/20 3pm, or SKIP.",
        ),
    ],
)
def test_bad_answer_hints(attribute, hint):
    assert bad_answer(attribute).text == hint


def test_the_citys_question_is_shown_in_the_residents_language_where_translated():
    from bot.languages import load_languages
    from conversations import Attribute, Choice

    spanish = load_languages()["es"]
    where = Attribute(
        "WHEREIS", "singlevaluelist", "Where is the pothole?", True, 1, (Choice("X", "Crosswalk"),)
    )
    assert ask_attribute(where, spanish).text.startswith("¿Dónde está el bache?")
    untranslated = Attribute("KIND", "string", "What colour is the car?", True, 1)
    assert ask_attribute(untranslated, spanish).text.startswith("What colour is the car?")
    deep = Attribute(
        "D",
        "number",
        "How deep is it (inches)?",
        False,
        2,
        datatype_description="Approximate depth in inches",
    )
    assert "Profundidad aproximada en pulgadas" in ask_attribute(deep, spanish).text
