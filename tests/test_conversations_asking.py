"""Whole conversations through the service's questions, state stored as JSON between events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conversations import (
    Attribute,
    Context,
    FileReport,
    Geocode,
    Geocoded,
    LookupStatus,
    Place,
    State,
    StatusFound,
    texts,
)
from conversations.plaintext import render
from conversations.question_prompts import ask_attribute
from tests.test_conversations_catalogue import (
    ANSWERED,
    ASKING,
    ASKING_AT,
    ASKING_CONTEXT,
    QUESTIONS,
    Chat,
)

MAIN = Place("120 Main St, Springfield", 39.78, -89.65)
LANE, WIDTH, SEEN = (
    next(a for a in QUESTIONS["PTH-001"] if a.code == code) for code in ("LANE", "WIDTH", "SEEN")
)
KIND, DUE, OUT = QUESTIONS["TRS-004"]
MAKE, PLATE, DAYS, NOTES = QUESTIONS["VEH-006"]


def chat_at(service_word: str, context: Context = ASKING_CONTEXT) -> Chat:
    """A chat that has chosen a service, confirmed 120 Main St and described the problem."""
    chat = Chat(context, at=ASKING_AT)
    chat.send(service_word)
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("It is a problem")
    return chat


def texts_of(turn) -> list[str]:
    """The rendered replies of a turn."""
    return [render(reply) for reply in turn.replies]


def test_pothole_questions_in_order_then_summary_then_report():
    chat = Chat(ASKING_CONTEXT, at=ASKING_AT)
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    asked = chat.send("Deep hole in the right lane")
    # The informational NOTE (order 0, variable false) is never asked; LANE (order 1) is first.
    assert chat.state.name == "questions"
    assert chat.state.draft.question == "LANE" and chat.state.draft.answers == {}
    reply = asked.replies[0]
    assert reply.text == "Where is the pothole? Reply with a number."
    assert reply.options == ("Traffic lane", "Bike lane", "Crosswalk", "Curb lane")
    assert reply.expects == "choice"

    width = chat.send("2")
    assert width.replies[0].text == "About how wide is it? In inches. Reply with a number, or SKIP."
    assert chat.state.draft.answers == {"LANE": "BIKE"}

    seen = chat.send("about 14 inches")
    assert seen.replies[0].text == (
        "When did you first notice it? Reply e.g. today 5pm or 11/20 3pm, or SKIP."
    )
    confirm = chat.send("yesterday 5pm")
    assert chat.state.name == "confirm" and chat.state.draft.question is None
    assert confirm.replies[0].text == (
        'Ready to send:\n1 Pothole\n2 120 Main St, Springfield\n3 "Deep hole in the right lane"'
        "\nReply YES to send, 1-3 to change, or NO to drop it."
    )
    sent = chat.send("yes")
    assert sent.actions == (
        FileReport(
            "PTH-001",
            "Pothole",
            "Deep hole in the right lane",
            "120 Main St, Springfield",
            39.78,
            -89.65,
            attributes={"LANE": "BIKE", "WIDTH": "14", "SEEN": "2026-11-20T17:00:00-06:00"},
        ),
    )
    assert chat.state == ANSWERED


def test_skipped_optional_answers_are_left_out_of_the_report():
    chat = chat_at("pothole")
    chat.send("crosswalk")
    chat.send("SKIP")
    assert chat.state.draft.answers == {"LANE": "XWALK", "WIDTH": None}
    chat.send("skip")
    assert chat.state.name == "confirm"
    sent = chat.send("yes")
    assert sent.actions[0].attributes == {"LANE": "XWALK"}


@pytest.mark.parametrize("word", ["SKIP", "skip", "Skip it."])
def test_skip_is_refused_on_a_required_question(word):
    chat = chat_at("pothole")
    before = chat.state
    turn = chat.send(word)
    assert chat.state == before
    joined = " ".join(texts_of(turn))
    assert joined.startswith(texts.ANSWER_NEEDED)
    assert "Where is the pothole?" in joined and "1 Traffic lane" in joined
    assert "SKIP" not in joined


@pytest.mark.parametrize(
    ("service", "answers", "bad", "hint"),
    [
        ("pothole", [], "7", "Please reply with a number from 1 to 4."),
        ("pothole", [], "the middle", "Please reply with a number from 1 to 4."),
        ("pothole", ["1"], "pretty wide", "Please reply with a number, or SKIP."),
        (
            "pothole",
            ["1", "2"],
            "a while back",
            "Please reply with a day and time, e.g. today 5pm or 11/20 3pm, or SKIP.",
        ),
        ("trash", [], "1 9", "Please reply with one or more numbers from 1 to 4, e.g. 1 3."),
        (
            "trash",
            ["1"],
            "whenever",
            "Please reply with a day and time, e.g. today 5pm or 11/20 3pm.",
        ),
        ("abandoned car", ["Blue Ford", "skip"], "ages", "Please reply with a number."),
    ],
)
def test_bad_answers_are_asked_again_with_a_hint_keeping_earlier_answers(
    service, answers, bad, hint
):
    chat = chat_at(service)
    for answer in answers:
        chat.send(answer)
    before = chat.state
    turn = chat.send(bad)
    assert texts_of(turn) == [hint]
    assert chat.state.unclear == 1  # not understood: counted towards a handoff
    assert replace(chat.state, unclear=0) == before  # the question and every answer kept


def test_an_empty_answer_to_a_text_question_asks_it_again():
    chat = chat_at("abandoned car")
    turn = chat.send("   ")
    assert turn.replies == (ask_attribute(MAKE),)
    assert chat.state.draft.question == "MAKE"


def test_missed_pickup_multivalue_datetime_and_yes_no_list():
    chat = chat_at("trash")
    asked = chat.state
    assert asked.draft.question == "KIND"
    turn = chat.send("1, 2 & 4")
    assert chat.state.draft.answers == {"KIND": ["GARB", "RECY", "BULK"]}
    assert turn.replies[0].text == (
        "When was it due to be collected? Reply e.g. today 5pm or 11/20 3pm."
    )
    later = ASKING_AT + timedelta(days=3)  # Tuesday 24 November, 9:10 in Springfield
    out = chat.send("last friday 6am", at=later)
    assert out.replies[0].options == ("Yes", "No")
    chat.send("yep")
    sent = chat.send("yes")
    assert sent.actions[0].attributes == {
        "KIND": ["GARB", "RECY", "BULK"],
        "DUE": "2026-11-20T06:00:00-06:00",
        "OUT": "true",
    }


def test_multivalue_by_names():
    chat = chat_at("trash")
    turn = chat.send("recycling and yard waste")
    assert chat.state.draft.answers["KIND"] == ["RECY", "YARD"]
    assert chat.state.draft.question == "DUE"
    assert turn.replies[0].expects == "text"


def test_abandoned_vehicle_strings_numbers_and_text():
    chat = chat_at("abandoned car")
    assert chat.state.draft.question == "MAKE"
    chat.send("  Blue   Ford Focus ")
    chat.send("skip")
    chat.send("twelve days I think")  # one number, in words
    notes = "Flat tyres.\nWindow broken. " + "x" * 3000
    chat.send(notes)
    assert chat.state.name == "confirm"
    sent = chat.send("yes")
    attributes = sent.actions[0].attributes
    assert attributes["MAKE"] == "Blue Ford Focus"
    assert attributes["DAYS"] == "12"
    assert attributes["NOTES"].startswith("Flat tyres.\nWindow broken. x")
    assert len(attributes["NOTES"]) == 2000
    assert "PLATE" not in attributes


def test_a_service_without_questions_goes_from_description_to_summary():
    chat = chat_at("streetlight out")
    assert chat.state.name == "confirm"
    assert chat.state.draft.answers == {} and chat.state.draft.question is None
    sent = chat.send("yes")
    assert sent.actions[0].attributes == {}


def test_one_shot_message_asks_the_questions_after_the_location():
    chat = Chat(ASKING_CONTEXT, at=ASKING_AT)
    turn = chat.send("big pothole outside 120 Main St")
    assert turn.actions == (Geocode("120 Main St"),)
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    asked = chat.send("yes")
    assert chat.state.name == "questions" and chat.state.draft.question == "LANE"
    assert asked.replies[0].options[0] == "Traffic lane"
    for answer in ("1", "skip", "skip"):
        chat.send(answer)
    sent = chat.send("yes")
    assert sent.actions[0].description == "big pothole outside 120 Main St"
    assert sent.actions[0].attributes == {"LANE": "TRAVEL"}


def test_shortlist_pick_then_questions():
    chat = Chat(ASKING_CONTEXT, at=ASKING_AT)
    turn = chat.send("the street is wrecked at 120 Main St")
    assert chat.state.name == "service"
    picked = chat.send(str(turn.replies[0].options.index("Pothole") + 1))
    assert picked.actions == (Geocode("120 Main St"),)
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    assert chat.state.name == "questions" and chat.state.draft.question == "LANE"


def test_unchecked_address_leads_into_the_first_question():
    chat = Chat(ASKING_CONTEXT, at=ASKING_AT)
    chat.send("big pothole outside 120 Main St")
    turn = chat.feed(Geocoded("120 Main St", failed=True))
    joined = " ".join(texts_of(turn))
    assert joined.startswith(texts.ADDRESS_UNCHECKED)
    assert "Where is the pothole?" in joined
    assert chat.state.name == "questions"


def test_help_during_questions_lists_commands_and_asks_again():
    chat = chat_at("pothole")
    chat.send("1")
    before = chat.state
    turn = chat.send("HELP")
    assert [reply.text for reply in turn.replies] == [texts.HELP, ask_attribute(WIDTH).text]
    assert chat.state == before


@pytest.mark.parametrize("word", ["RESTART", "start over"])
def test_restart_during_questions_drops_the_draft(word):
    chat = chat_at("pothole")
    chat.send("1")
    turn = chat.send(word)
    assert texts_of(turn) == [texts.CANCELLED]
    assert chat.state == ANSWERED


def test_status_during_questions_answers_then_asks_again():
    chat = chat_at("trash")
    chat.send("1")
    before = chat.state
    asked = chat.send("status 14-01100669")
    assert asked.actions == (LookupStatus("14-01100669"),) and asked.replies == ()
    answered = chat.feed(StatusFound("14-01100669", "Open", "", "Pothole"))
    assert texts_of(answered) == [
        "Request 14-01100669 (Pothole): Open.",
        render(ask_attribute(DUE)),
    ]
    assert chat.state == before
    chat.send("today")
    assert chat.state.draft.answers["DUE"] == "2026-11-21T09:10:00-06:00"


def with_pothole_questions(*attributes: Attribute) -> Context:
    """The asking catalogue with the pothole's questions replaced."""
    services = tuple(
        replace(s, attributes=attributes) if s.code == "PTH-001" else s for s in ASKING
    )
    return replace(ASKING_CONTEXT, services=services)


def test_a_question_dropped_from_the_catalogue_is_skipped_safely():
    chat = chat_at("pothole")
    chat.send("1")
    assert chat.state.draft.question == "WIDTH"
    chat.context = with_pothole_questions(LANE, SEEN)  # WIDTH gone between turns
    turn = chat.send("12")
    assert chat.state.draft.question == "SEEN"
    assert chat.state.draft.answers == {"LANE": "TRAVEL"}  # "12" was not taken for SEEN
    assert turn.replies == (ask_attribute(SEEN),)


def test_help_after_the_question_was_dropped_asks_the_next_one():
    chat = chat_at("pothole")
    chat.send("1")
    chat.context = with_pothole_questions(LANE, SEEN)
    turn = chat.send("help")
    assert turn.replies[1] == ask_attribute(SEEN)
    assert chat.state.draft.question == "SEEN"
    chat.send("now")
    assert chat.state.draft.answers["SEEN"] == "2026-11-21T09:10:00-06:00"


def test_a_service_dropped_from_the_catalogue_goes_to_the_summary_with_its_answers():
    chat = chat_at("pothole")
    chat.send("1")
    chat.context = replace(ASKING_CONTEXT, services=tuple(s for s in ASKING if s.code != "PTH-001"))
    turn = chat.send("12")
    assert chat.state.name == "confirm"
    assert turn.replies[0].text.startswith("Ready to send:\n1 Pothole")
    assert chat.send("yes").actions[0].attributes == {"LANE": "TRAVEL"}


def test_a_question_added_before_yes_is_asked_before_filing():
    chat = chat_at("pothole")
    for answer in ("1", "skip", "skip"):
        chat.send(answer)
    assert chat.state.name == "confirm"
    extra = Attribute("DEPTH", "number", "How deep is it, in inches?", required=True, order=5)
    chat.context = with_pothole_questions(LANE, WIDTH, SEEN, extra)
    turn = chat.send("yes")
    assert turn.actions == () and chat.state.name == "questions"
    assert turn.replies == (ask_attribute(extra),)
    chat.send("3")
    sent = chat.send("yes")
    assert sent.actions[0].attributes == {"LANE": "TRAVEL", "DEPTH": "3"}


def test_an_empty_catalogue_during_questions_keeps_the_answers():
    chat = chat_at("pothole")
    chat.send("1")
    before = chat.state
    chat.context = replace(ASKING_CONTEXT, services=())
    turn = chat.send("12")
    assert texts_of(turn) == [texts.CATALOGUE_DOWN]
    assert chat.state == before
    chat.context = ASKING_CONTEXT
    chat.send("12")
    assert chat.state.draft.answers == {"LANE": "TRAVEL", "WIDTH": "12"}


def test_a_stored_questions_state_without_answers_still_works():
    state = State.from_dict(
        {
            "name": "questions",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "description": "hole",
                "address": "1 Main St",
                "question": "LANE",
            },
        }
    )
    chat = Chat(ASKING_CONTEXT, state=state, at=ASKING_AT)
    chat.send("bike lane")
    assert chat.state.draft.answers == {"LANE": "BIKE"}


def test_required_attributes_are_all_answered_before_the_summary():
    chat = chat_at("trash")
    for answer in ("skip", "skip", "2", "skip", "yesterday", "skip"):
        chat.send(answer)
    assert chat.state.name == "confirm"
    assert chat.state.draft.answers == {
        "KIND": ["RECY"],
        "DUE": "2026-11-20T12:00:00-06:00",
        "OUT": None,
    }
