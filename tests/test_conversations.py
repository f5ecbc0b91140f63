"""Whole conversations through step(), state stored as JSON between every event."""

from __future__ import annotations

import pytest

from conversations import (
    Context,
    Draft,
    FileReport,
    Geocode,
    Geocoded,
    LookupStatus,
    Message,
    Place,
    State,
    StatusFound,
    step,
    texts,
)
from conversations.plaintext import render
from tests.test_conversations_catalogue import ANSWERED, AT, CATALOGUE, CONTEXT, Chat

MAIN = Place("120 Main St, Springfield", 39.78, -89.65)


def texts_of(turn) -> list[str]:
    """The rendered replies of a turn."""
    return [render(reply) for reply in turn.replies]


def to_confirm_by_numbers(chat: Chat) -> None:
    """Pothole by number, 120 Main St confirmed, a description given."""
    chat.send("hello")
    chat.send("1")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("Deep hole in the right lane")


def test_step_by_step_by_number_files_the_report():
    chat = Chat()
    greeting = chat.send("hello")
    assert chat.state.name == "service"
    assert greeting.replies[0].expects == "choice"
    assert greeting.replies[0].options[:2] == ("Pothole", "Streetlight Out")
    assert len(greeting.replies[0].options) == 6
    assert "MORE" in greeting.replies[0].text

    picked = chat.send("1")
    assert chat.state.name == "location"
    assert picked.replies[0].expects == "location"
    assert "Pothole" in picked.replies[0].text and "Where is it?" in picked.replies[0].text

    asked = chat.send("120 Main St")
    assert asked.replies == () and asked.actions == (Geocode("120 Main St"),)

    found = chat.feed(Geocoded("120 Main St", (MAIN,)))
    assert chat.state.name == "location_confirm"
    assert texts_of(found) == ["I found: 120 Main St, Springfield. Is that right? Reply YES or NO."]
    assert chat.state.draft.place.lat == 39.78

    described = chat.send("yes")
    assert chat.state.name == "description"
    assert described.replies[0].text == texts.ASK_DESCRIPTION

    confirm = chat.send("  Deep hole in the right lane  ")
    assert chat.state.name == "confirm"
    assert confirm.replies[0].text == (
        'Ready to send:\n1 Pothole\n2 120 Main St, Springfield\n3 "Deep hole in the right lane"'
        "\nReply YES to send, 1-3 to change, or NO to drop it."
    )
    assert confirm.replies[0].expects == "yes_no"

    sent = chat.send("YES")
    assert sent.actions == (
        FileReport(
            "PTH-001",
            "Pothole",
            "Deep hole in the right lane",
            "120 Main St, Springfield",
            39.78,
            -89.65,
        ),
    )
    assert sent.replies[0].text == texts.SENDING
    assert chat.state == ANSWERED


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("pothole", "PTH-001"),
        ("pot hole", "PTH-001"),
        ("potholes", "PTH-001"),
        ("street light out", "SLT-002"),
        ("streetlight", "SLT-002"),
        ("grafiti", "GRF-003"),
        ("graffiti on wall", "GRF-003"),
        ("trash wasn't picked up", "TRS-004"),
        ("missed garbage", "TRS-004"),
        ("someone dumped a couch", "DMP-005"),
        ("hole in the road", "PTH-001"),
        ("car parked here for weeks", "VEH-006"),
        ("tree branch fell on the road", "TRE-009"),
        ("loud party next door", "NOI-010"),
    ],
)
def test_free_text_at_the_menu_takes_the_named_service(message, code):
    chat = Chat()
    chat.send("hi")
    turn = chat.send(message)
    assert chat.state.name == "location"
    assert chat.state.draft.service_code == code
    assert turn.replies[0].expects == "location"


def test_first_message_naming_a_service_skips_the_menu():
    chat = Chat()
    turn = chat.send("Streetlight")
    assert chat.state.name == "location"
    assert chat.state.draft.service_name == "Streetlight Out"
    assert chat.state.draft.description == ""  # one word is not a description
    assert turn.replies[0].text.startswith("Got it: Streetlight Out.")


def test_one_shot_message_with_address_goes_straight_to_geocode_and_skips_description():
    chat = Chat()
    turn = chat.send("big pothole outside 120 Main St")
    assert turn.actions == (Geocode("120 Main St"),)
    assert turn.replies == ()
    assert chat.state.draft.description == "big pothole outside 120 Main St"
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    confirm = chat.send("yep")
    assert chat.state.name == "confirm"
    assert '"big pothole outside 120 Main St"' in confirm.replies[0].text
    sent = chat.send("y")
    assert sent.actions[0].description == "big pothole outside 120 Main St"
    assert sent.actions[0].lat == 39.78


def test_one_shot_message_without_address_keeps_description_and_asks_location():
    chat = Chat()
    chat.send("someone dumped a couch in the alley")
    assert chat.state.name == "location"
    assert chat.state.draft.description == "someone dumped a couch in the alley"


def test_unknown_service_number_asks_for_a_number_in_range():
    chat = Chat()
    chat.send("hello")
    turn = chat.send("9")
    assert texts_of(turn) == ["Please reply with a number from 1 to 6."]
    assert chat.state.name == "service"
    chat.send("2")
    assert chat.state.draft.service_code == "SLT-002"


def test_unclear_text_says_sorry_and_shows_the_menu_again():
    chat = Chat()
    chat.send("hello")
    turn = chat.send("asdfgh qwerty")
    assert turn.replies[0].text.startswith("Sorry, I didn't catch that.")
    assert turn.replies[0].options[0] == "Pothole"
    assert chat.state.name == "service" and chat.state.offered[0] == "PTH-001"


def test_more_pages_the_menu_and_wraps_around():
    chat = Chat()
    chat.send("hello")
    second = chat.send("MORE")
    assert second.replies[0].options == (
        "Damaged Sign",
        "Sidewalk Repair",
        "Fallen Tree",
        "Noise Complaint",
        "Water Leak",
    )
    assert chat.state.offered == ["SGN-007", "SWK-008", "TRE-009", "NOI-010", "WTR-011"]
    chat.send("5")
    assert chat.state.draft.service_code == "WTR-011"
    chat.send("restart")
    chat.send("hi")
    chat.send("more")
    wrapped = chat.send("more")
    assert wrapped.replies[0].options[0] == "Pothole"


def test_several_close_services_are_offered_as_a_shortlist():
    chat = Chat()
    chat.send("hello")
    turn = chat.send("street")
    reply = turn.replies[0]
    assert reply.text == texts.SHORTLIST and reply.expects == "choice"
    assert 2 <= len(reply.options) <= 4
    assert {"Pothole", "Streetlight Out"} <= set(reply.options)
    names = {service.code: service.name for service in CATALOGUE}
    assert [names[code] for code in chat.state.offered] == list(reply.options)
    number = reply.options.index("Streetlight Out") + 1
    chat.send(str(number))
    assert chat.state.draft.service_code == "SLT-002"


def test_shortlist_pick_reuses_the_first_message_as_description_and_address():
    chat = Chat()
    turn = chat.send("the street is wrecked at 120 Main St")
    assert chat.state.name == "service" and turn.replies[0].text == texts.SHORTLIST
    number = turn.replies[0].options.index("Pothole") + 1
    picked = chat.send(str(number))
    assert picked.actions == (Geocode("120 Main St"),)
    assert chat.state.draft.description == "the street is wrecked at 120 Main St"


def test_empty_catalogue_says_the_list_is_unavailable_and_stays_idle():
    chat = Chat(Context(services=(), city="Springfield"))
    turn = chat.send("pothole")
    assert texts_of(turn) == [texts.CATALOGUE_DOWN]
    assert chat.state == ANSWERED


def test_address_not_found_then_found():
    chat = Chat()
    chat.send("pothole")
    chat.send("Main and Nowhere")
    missing = chat.feed(Geocoded("Main and Nowhere", ()))
    assert texts_of(missing) == [
        "I couldn't find that address in Springfield. Please send a street address with a "
        "house number, or a cross street."
    ]
    assert chat.state.name == "location" and chat.state.draft.geocode_query is None
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    assert chat.state.name == "location_confirm"
    assert chat.state.draft.place.address == "120 Main St, Springfield"


def test_address_not_found_without_city_name_says_the_city():
    chat = Chat(Context(services=CATALOGUE))
    chat.send("pothole")
    chat.send("nowhere")
    turn = chat.feed(Geocoded("nowhere", ()))
    assert "in the city." in turn.replies[0].text


def test_geocoder_failure_accepts_the_typed_address():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    turn = chat.feed(Geocoded("120 Main St", failed=True))
    assert texts.ADDRESS_UNCHECKED in texts_of(turn)[0]
    assert turn.replies[-1].text.endswith(texts.ASK_DESCRIPTION)
    assert chat.state.name == "description"
    assert chat.state.draft.place == Place("120 Main St")
    chat.send("deep")
    sent = chat.send("yes")
    assert sent.actions[0].address == "120 Main St" and sent.actions[0].lon is None


def test_place_without_coordinates_is_accepted_as_typed():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 main")
    turn = chat.feed(Geocoded("120 main", (Place("120 main"),)))
    assert chat.state.name == "description"
    assert texts_of(turn) == [texts.ASK_DESCRIPTION]
    assert chat.state.draft.place.address == "120 main"


def test_no_at_location_confirm_asks_again():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    turn = chat.send("Nope")
    assert chat.state.name == "location"
    assert texts_of(turn) == [texts.ASK_LOCATION]
    assert chat.state.draft.place is None


def test_new_address_at_location_confirm_is_looked_up():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    turn = chat.send("no it's 122 Main St")
    assert turn.actions == (Geocode("122 Main St"),)
    assert chat.state.name == "location"


@pytest.mark.parametrize("answer", ["maybe", "what?", "dunno"])
def test_anything_else_at_the_summary_says_how_to_answer(answer):
    chat = Chat()
    to_confirm_by_numbers(chat)
    turn = chat.send(answer)
    assert texts_of(turn) == [texts.CONFIRM_HOW]
    assert chat.state.name == "confirm"


def test_no_at_confirm_cancels():
    chat = Chat()
    to_confirm_by_numbers(chat)
    turn = chat.send("no")
    assert texts_of(turn) == [texts.CANCELLED] and turn.actions == ()
    assert chat.state == ANSWERED


def test_description_is_capped_at_1000_characters():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    turn = chat.send("x" * 1500)
    assert len(chat.state.draft.description) == 1000
    assert len(render(turn.replies[0])) <= 306  # the summary: two segments


@pytest.mark.parametrize("word", ["HELP", "help", " Help! ", "info", "INFO."])
def test_help_mid_flow_lists_commands_and_asks_again(word):
    chat = Chat()
    chat.send("pothole")
    before = chat.state
    turn = chat.send(word)
    assert [reply.text for reply in turn.replies] == [texts.HELP, texts.ASK_LOCATION]
    assert chat.state == before


def test_help_when_idle_only_lists_commands():
    chat = Chat()
    turn = chat.send("help")
    assert texts_of(turn) == [texts.HELP]
    assert chat.state == ANSWERED


@pytest.mark.parametrize("word", ["RESTART", "restart.", "Start over", "cancel report"])
def test_restart_mid_flow_discards_the_draft(word):
    chat = Chat()
    to_confirm_by_numbers(chat)
    turn = chat.send(word)
    assert texts_of(turn) == [texts.CANCELLED]
    assert chat.state == ANSWERED


def test_status_mid_flow_answers_then_asks_the_question_again():
    chat = Chat()
    chat.send("pothole")
    before = chat.state
    asked = chat.send("status #14-01100669")
    assert asked.actions == (LookupStatus("14-01100669"),) and asked.replies == ()
    assert chat.state.name == "location"
    answered = chat.feed(StatusFound("14-01100669", "Open", "Crew assigned", "Pothole"))
    assert texts_of(answered) == [
        "Request 14-01100669 (Pothole): Open. Crew assigned.",
        texts.ASK_LOCATION,
    ]
    assert chat.state == before


def test_status_when_idle_answers_without_a_question():
    chat = Chat()
    chat.send("STATUS of 2026-000123")
    turn = chat.feed(StatusFound("2026-000123", "Closed", "", ""))
    assert texts_of(turn) == ["Request 2026-000123: Closed."]
    assert chat.state == ANSWERED


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (StatusFound("77", None), "I couldn't find request 77."),
        (StatusFound("77", failed=True), texts.STATUS_UNAVAILABLE),
    ],
)
def test_status_not_found_or_unreachable(found, expected):
    chat = Chat()
    chat.send("status 77")
    turn = chat.feed(found)
    assert texts_of(turn) == [expected]


def test_bare_status_asks_for_the_number():
    chat = Chat()
    chat.send("pothole")
    turn = chat.send("status")
    assert texts_of(turn) == [texts.STATUS_WHICH] and turn.actions == ()
    assert chat.state.name == "location"


def test_long_status_notes_are_cut_to_one_segment():
    chat = Chat()
    chat.send("status 123")
    turn = chat.feed(StatusFound("123", "In progress", "Crew scheduled. " * 20, "Pothole"))
    text = texts_of(turn)[0]
    assert text.startswith("Request 123 (Pothole): In progress. Crew scheduled.")
    assert text.endswith("...") and len(text) <= 160


@pytest.mark.parametrize(
    "event",
    [
        Geocoded("120 Main St", (MAIN,)),
        StatusFound("123", "Open"),
    ],
)
@pytest.mark.parametrize("setup", [[], ["hello"], ["pothole"], ["pothole", "status 9"]])
def test_unexpected_events_are_ignored(setup, event):
    chat = Chat()
    for message in setup:
        chat.send(message)
    before = chat.state
    turn = chat.feed(event)
    assert turn.replies == () and turn.actions == ()
    assert chat.state == before


def test_stale_geocode_answer_for_another_query_is_ignored():
    chat = Chat()
    chat.send("pothole")
    chat.send("12 Elm St")
    turn = chat.feed(Geocoded("120 Main St", (MAIN,)))
    assert turn.replies == () and chat.state.draft.geocode_query == "12 Elm St"


def test_unknown_state_name_starts_afresh():
    chat = Chat(state=State.from_dict({"name": "photo", "draft": {"x": 1}}))
    turn = chat.send("pothole")
    assert chat.state.name == "location" and "x" not in chat.state.to_dict()["draft"]
    assert turn.replies[0].expects == "location"


def test_step_does_not_mutate_its_input():
    state = State("service", Draft(page=0), ["PTH-001"])
    turn = step(state, Message("1", AT), CONTEXT)
    assert turn.state.name == "location"
    assert state == State("service", Draft(page=0), ["PTH-001"])
