"""A report in as few texts as the city's needs allow: a sure address is not read back on its
own, optional questions wait in the summary, consent is asked there once, one-shot reports
go straight to the summary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.geocoding import is_exact
from conversations import (
    Context,
    FileReport,
    Geocode,
    Geocoded,
    Message,
    Place,
    State,
    Turn,
    step,
    texts,
)
from conversations.plaintext import render
from tests.test_conversations_catalogue import ASKING, ASKING_AT, Chat

# The default: optional questions offered in the summary.
SHORT = Context(services=ASKING, city="Springfield", timezone="America/Chicago")
SURE = Place("120 Main Street, Springfield", 39.78, -89.65, exact=True)
UNSURE = Place("Main Street, Springfield", 39.78, -89.65)


def texts_of(turn) -> list[str]:
    """The rendered replies of a turn."""
    return [render(reply) for reply in turn.replies]


def chat(context: Context = SHORT, consent: bool | None = False) -> Chat:
    return Chat(context, state=State(consent=consent), at=ASKING_AT)


def pothole_in_the_lane(talk: Chat, description: str = "deep hole in the right lane") -> Turn:
    """A pothole at a sure 120 Main St, described; the turn that asks where in the street."""
    talk.send("pothole")
    talk.send("120 Main St")
    talk.feed(Geocoded("120 Main St", (SURE,)))
    return talk.send(description)


def test_a_sure_address_is_shown_in_the_summary_not_asked_about():
    talk = chat()
    talk.send("tree branch down blocking the sidewalk")
    [action] = talk.send("120 Main St").actions
    assert action == Geocode("120 Main St")
    found = talk.feed(Geocoded("120 Main St", (SURE,)))
    assert talk.state.name == "questions"  # BLOCK is required: asked
    assert texts_of(found)[0].startswith("Found: 120 Main Street, Springfield.")
    summary = talk.send("3")
    assert talk.state.name == "confirm"
    assert "2 120 Main Street, Springfield" in texts_of(summary)[0]


@pytest.mark.parametrize(
    "places",
    [(UNSURE,), (SURE, replace(SURE, address="120 Main Street, Shelbyville"))],
    ids=["not the house typed", "two different places"],
)
def test_a_doubtful_address_is_still_read_back(places):
    talk = chat()
    talk.send("tree branch down blocking the sidewalk")
    talk.send("120 Main St")
    turn = talk.feed(Geocoded("120 Main St", places))
    assert talk.state.name == "location_confirm"
    assert texts_of(turn)[0].startswith(f"I found: {places[0].address}")


def test_the_address_in_the_summary_can_be_changed():
    talk = chat()
    talk.send("noise from a party every night")
    talk.send("120 Main St")
    talk.feed(Geocoded("120 Main St", (SURE,)))
    assert talk.state.name == "confirm"
    asked = talk.send("2")
    assert talk.state.name == "location" and texts_of(asked) == [texts.ASK_LOCATION]
    talk.send("122 Main St")
    other = replace(SURE, address="122 Main Street, Springfield")
    summary = talk.feed(Geocoded("122 Main St", (other,)))
    assert "2 122 Main Street, Springfield" in texts_of(summary)[0]


def test_a_one_shot_report_goes_straight_to_the_summary_and_files_with_one_more_text():
    talk = chat()
    talk.send("loud party music every night at 120 Main St")
    summary = talk.feed(Geocoded("120 Main St", (SURE,)))
    assert talk.state.name == "confirm"
    assert texts_of(summary)[0].startswith("Ready to send:\n1 Noise Complaint")
    [report] = talk.send("yes").actions
    assert isinstance(report, FileReport) and report.address == SURE.address


def test_optional_questions_are_offered_in_the_summary_and_skipped_by_sending():
    talk = chat()
    lane = pothole_in_the_lane(talk)
    assert talk.state.draft.question == "LANE"  # required: asked on its own
    assert "SKIP" not in texts_of(lane)[0]
    summary = talk.send("1")
    assert talk.state.name == "confirm"
    assert texts_of(summary)[0].endswith(texts.CONFIRM_HOW_DETAILS)
    [report] = talk.send("yes").actions
    assert report.attributes == {"LANE": "TRAVEL"}


def test_four_in_the_summary_asks_the_optional_questions_then_sums_up_again():
    talk = chat()
    pothole_in_the_lane(talk)
    talk.send("1")
    width = talk.send("4")
    assert texts_of(width)[0].startswith("About how wide is it?")
    assert texts_of(width)[0].endswith("or SKIP.")
    talk.send("14 inches")
    summary = talk.send("skip")
    assert talk.state.name == "confirm"
    assert texts_of(summary)[0].endswith(texts.CONFIRM_HOW)  # nothing optional left to offer
    [report] = talk.send("yes").actions
    assert report.attributes == {"LANE": "TRAVEL", "WIDTH": "14"}


def test_add_details_in_words_works_too_and_five_is_out_of_range():
    talk = chat()
    pothole_in_the_lane(talk)
    talk.send("1")
    assert texts_of(talk.send("5")) == [texts.EDIT_WHICH]
    assert texts_of(talk.send("add details"))[0].startswith("About how wide is it?")


def test_without_optional_questions_four_is_not_offered():
    talk = chat()
    talk.send("loud party music every night at 120 Main St")
    summary = talk.feed(Geocoded("120 Main St", (SURE,)))
    assert texts_of(summary)[0].endswith(texts.CONFIRM_HOW)
    assert texts_of(talk.send("4")) == [texts.EDIT_WHICH]


@pytest.mark.parametrize("wanted", [frozenset({"PTH-001"}), frozenset("*")])
def test_a_city_can_want_every_optional_question_asked(wanted):
    talk = chat(replace(SHORT, ask_optional=wanted))
    pothole_in_the_lane(talk)
    width = talk.send("1")
    assert texts_of(width)[0].startswith("About how wide is it?")


def test_another_services_setting_leaves_this_one_short():
    talk = chat(replace(SHORT, ask_optional=frozenset({"TRS-004"})))
    pothole_in_the_lane(talk)
    talk.send("1")
    assert talk.state.name == "confirm"


def test_first_report_in_two_texts_consent_in_the_summary():
    talk = chat(consent=None)
    talk.send("loud party music every night at 120 Main St, call me 312-555-0142")
    summary = " ".join(texts_of(talk.feed(Geocoded("120 Main St", (SURE,)))))
    assert texts.CONFIRM_CONSENT in summary
    [report] = talk.send("yes").actions
    assert report.contact_ok and report.phone == "312-555-0142"
    assert len([t for t in talk.turns if t.replies]) == 2  # the resident texted twice


# --- how sure an address is -------------------------------------------------------------------


def nominatim(house: str = "120", road: str = "Main Street", city: str = "Springfield") -> dict:
    """The `address` part of a Nominatim result (addressdetails=1)."""
    return {"address": {"house_number": house, "road": road, "city": city}}


@pytest.mark.parametrize(
    ("query", "raw", "city", "bounded", "exact"),
    [
        ("120 Main St", nominatim(), "Springfield", False, True),
        ("120 main street", nominatim(), "", True, True),
        ("120 N Main St", nominatim(road="North Main Street"), "Springfield", False, True),
        ("12 Main St", nominatim(), "Springfield", False, False),  # another house
        ("120 Elm St", nominatim(), "Springfield", False, False),  # another street
        ("Main St", nominatim(), "Springfield", False, False),  # no house typed
        ("120 Main St", nominatim(house=""), "Springfield", False, False),  # street only
        ("120 Main St", nominatim(city="Shelbyville"), "Springfield", False, False),
        ("120 Main St", nominatim(city="Shelbyville"), "", False, False),  # where unknown
        ("120 Main St", {"address": {}}, "Springfield", True, False),
        ("120 Main", nominatim(), "Springfield", False, True),  # the type left out
        ("120 main st, springfield", nominatim(), "Springfield", False, True),
        ("120 Main St", nominatim(road="Main Avenue"), "Springfield", False, False),
        ("120 W Main St", nominatim(road="East Main Street"), "Springfield", False, False),
        ("120 Main St", nominatim(road="North Main Street"), "Springfield", False, False),
        ("120 Old Main St", nominatim(), "Springfield", False, False),
        ("Apt 12, 300 Main St", nominatim(house="12"), "Springfield", False, False),
        ("5th Ave and 120 Main", nominatim(road="5th Avenue"), "Springfield", False, False),
        ("12B Main St", nominatim(house="12B"), "Springfield", False, True),
        ("12 Main St", nominatim(house="12B"), "Springfield", False, False),
        ("120 Main St", nominatim(city="Shelbyville"), "Springfield", True, False),  # in the box
        ("120 Main St", nominatim(road="Street"), "Springfield", False, False),
        ("120 Main St", {"address": "120 Main St"}, "Springfield", True, False),
    ],
)
def test_exact_means_the_house_and_street_typed_in_the_city(query, raw, city, bounded, exact):
    assert is_exact(raw, query, city, bounded) is exact


@pytest.mark.parametrize(
    ("consent", "answers", "expected"),
    [
        (False, ["pothole", "deep hole in the right lane", "1"], [texts.CONFIRM_HOW_DETAILS]),
        (False, ["loud party music every night"], [texts.CONFIRM_HOW]),
        (None, ["pothole", "deep hole", "1"], [texts.CONFIRM_HOW_DETAILS, texts.CONFIRM_CONSENT]),
    ],
)
def test_an_unclear_answer_to_the_summary_says_every_choice_it_has(consent, answers, expected):
    talk = chat(consent=consent)
    talk.send(answers[0])
    talk.send("120 Main St")
    talk.feed(Geocoded("120 Main St", (SURE,)))
    for answer in answers[1:]:
        talk.send(answer)
    assert talk.state.name == "confirm"
    turn = talk.send("maybe")
    assert texts_of(turn) == expected and not turn.actions


# --- consent is never taken without being asked ----------------------------------------------


def test_every_first_summary_in_the_corpus_asks_for_consent(monkeypatch):
    """Whatever leads into it (a pin, an edit, a geocoder down, a sure address), a turn that
    shows a summary while the resident has not answered the contact question asks it."""
    from tests.conversations import corpus

    shown = []

    def checked(state, event, context):
        turn = step(state, event, context)
        if turn.state.name == "confirm" and turn.state.consent is None and turn.replies:
            shown.append([reply.expects for reply in turn.replies])
        return turn

    monkeypatch.setattr(corpus, "step", checked)
    context = corpus.make_context()
    for scenario in corpus.load_scenarios():
        corpus.run(scenario, context)
    assert len(shown) > 50
    assert all("yes_no_private" in expects for expects in shown), shown


@pytest.mark.parametrize(
    "lead_in",
    ["pin", "geocoder down", "edited service"],
)
def test_a_lead_sentence_never_drops_the_consent_question(lead_in):
    talk = chat(consent=None)
    if lead_in == "pin":
        talk.send("loud party music every night, call me 312-555-0142")
        turn = talk.feed(Message("", ASKING_AT, location=SURE))
    elif lead_in == "geocoder down":
        talk.send("loud party music every night at 120 Main St, call me 312-555-0142")
        turn = talk.feed(Geocoded("120 Main St", failed=True))
    else:
        talk.send("graffiti at 120 Main St, call me 312-555-0142")
        talk.feed(Geocoded("120 Main St", (SURE,)))
        talk.send("3")  # SURFACE
        talk.send("1")  # change the type
        turn = talk.send("noise")
    assert talk.state.name == "confirm"
    assert [r for r in turn.replies if r.expects == "yes_no_private"], texts_of(turn)


def test_a_question_gone_from_the_catalogue_gives_the_whole_first_summary():
    """After 4, the city drops its optional questions: asking again shows the summary with
    the consent question, not one without the other."""
    from conversations.engine import asked

    talk = chat(consent=None)
    pothole_in_the_lane(talk, "deep hole")
    talk.send("1")
    talk.send("4")
    assert talk.state.draft.question == "WIDTH"
    only_required = tuple(
        replace(s, attributes=tuple(a for a in s.attributes if a.required)) for s in ASKING
    )
    again = asked(talk.state, replace(SHORT, services=only_required))
    assert [r.expects for r in again][-1] == "yes_no_private"
    assert render(again[0]).startswith("Ready to send:")
