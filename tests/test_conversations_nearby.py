"""Already reported? Open requests nearby, offered before the summary (conversations/nearby.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations import (
    FileReport,
    FindNearby,
    FollowRequest,
    Geocode,
    Geocoded,
    Message,
    Nearby,
    NearbyRequest,
    Place,
    dates,
    step,
    texts,
)
from conversations.fitting import MOST
from conversations.plaintext import render
from conversations.segments import cost
from conversations.types import State, TimedOut
from tests.conversations.corpus import make_context
from tests.fuzzing import fuzz_settings, said
from tests.test_conversations_catalogue import AT, CONTEXT, Chat

CHECKING = replace(CONTEXT, nearby_off=frozenset(), timezone="America/Chicago")
MAIN = Place("120 Main St, Springfield", 39.78, -89.65)
OAK = Place("5 Oak Ave, Springfield", 39.79, -89.66)
OPENED = datetime(2026, 2, 27, 18, 0, tzinfo=UTC)
FIRST = NearbyRequest(
    "1001", "Pothole", "118 Main St", "open", datetime(2026, 2, 27, 18, 0, tzinfo=UTC)
)
SECOND = NearbyRequest("1002", "Pothole", "124 Main St", "acknowledged", None)
CHECK = FindNearby("PTH-001", 39.78, -89.65)


def to_check(chat: Chat) -> None:
    """A pothole at 120 Main St, described: the engine now asks for the check."""
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("Deep hole in the right lane")


def test_the_summary_waits_for_the_check_of_open_requests_nearby():
    chat = Chat(CHECKING)
    to_check(chat)
    asked = chat.turns[-1]
    assert asked.actions == (CHECK,) and asked.replies == ()
    assert chat.state.name == "duplicate" and chat.state.draft.nearby_wait


def test_none_nearby_goes_straight_to_the_summary_and_is_not_asked_again():
    chat = Chat(CHECKING)
    to_check(chat)
    summary = chat.feed(Nearby("PTH-001", 39.78, -89.65))
    assert chat.state.name == "confirm"
    assert summary.replies[0].text.startswith("Ready to send:")
    assert chat.send("3").actions == ()  # change the description
    again = chat.send("Deeper now, two lanes")
    assert again.actions == () and chat.state.name == "confirm"  # same service and place


def test_open_requests_are_offered_one_line_each_with_sending_ones_own_last():
    chat = Chat(CHECKING)
    to_check(chat)
    offer = chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST, SECOND)))
    reply = offer.replies[0]
    assert reply.expects == "choice" and reply.text == texts.NEARBY_OFFER
    assert reply.options == (
        "118 Main St (Feb 27): open",  # on the city's calendar
        "124 Main St: acknowledged",  # the city gave no date
        texts.NEARBY_NONE,
    )
    assert "1 118 Main St" in render(reply)


def test_a_number_follows_that_request_and_files_nothing():
    chat = Chat(CHECKING)
    to_check(chat)
    chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST, SECOND)))
    followed = chat.send("2")
    assert followed.actions == (FollowRequest("1002", "PTH-001", "Pothole", "en", "acknowledged"),)
    assert not any(isinstance(a, FileReport) for a in followed.actions)
    assert "1002" in followed.replies[0].text and chat.state.name == "idle"
    assert chat.state.draft.description == ""  # the report is dropped


def test_the_last_number_or_no_goes_on_to_the_summary_and_files():
    for answer in ("3", "no"):
        chat = Chat(CHECKING)
        to_check(chat)
        chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST, SECOND)))
        summary = chat.send(answer)
        assert chat.state.name == "confirm", answer
        assert summary.replies[0].text.startswith("Ready to send:")
        filed = chat.send("yes")
        assert [type(a) for a in filed.actions] == [FileReport]


def test_yes_follows_nothing_it_may_have_been_meant_for_the_summary():
    for offered in ((FIRST,), (FIRST, SECOND)):
        chat = Chat(CHECKING)
        to_check(chat)
        chat.feed(Nearby("PTH-001", 39.78, -89.65, offered))
        unclear = chat.send("yes")
        assert unclear.actions == () and chat.state.name == "duplicate"
        count = len(offered) + 1
        assert unclear.replies[0].text == f"Please reply with a number from 1 to {count}."


def test_a_new_address_at_the_offer_is_looked_up_and_checked_again():
    chat = Chat(CHECKING)
    to_check(chat)
    chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
    looked = chat.send("no, it's 5 Oak Ave")
    assert looked.actions == (Geocode("5 Oak Ave"),)
    placed = chat.feed(Geocoded("5 Oak Ave", (replace(OAK, exact=True),)))
    assert placed.actions == (FindNearby("PTH-001", 39.79, -89.66),)


def test_a_pin_at_the_summary_or_a_new_type_is_checked_again():
    chat = Chat(CHECKING)
    to_check(chat)
    chat.feed(Nearby("PTH-001", 39.78, -89.65))
    pinned = chat.feed(Message("", AT, location=Place("", 39.79, -89.66)))
    assert pinned.actions == (FindNearby("PTH-001", 39.79, -89.66),)
    assert pinned.replies[0].text == texts.PIN_UPDATED
    chat.feed(Nearby("PTH-001", 39.79, -89.66))
    chat.send("1")  # change the type
    retyped = chat.send("2")  # Streetlight Out
    assert retyped.actions == (FindNearby("SLT-002", 39.79, -89.66),)


def test_a_late_or_stale_answer_is_ignored():
    chat = Chat(CHECKING)
    to_check(chat)
    stale = chat.feed(Nearby("PTH-001", 1.0, 2.0, (FIRST,)))
    assert stale.replies == () and chat.state.draft.nearby == []
    chat.feed(Nearby("PTH-001", 39.78, -89.65))
    late = chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
    assert late.replies == () and chat.state.name == "confirm"


def test_a_lost_answer_does_not_hold_the_report_nor_take_a_yes_for_an_unseen_summary():
    chat = Chat(CHECKING, State())  # never asked whether the city may contact them
    to_check(chat)  # the check's answer never comes; the resident writes again
    shown = chat.send("yes")
    assert shown.actions == () and shown.replies[0].text.startswith("Ready to send:")
    assert chat.state.consent is None
    turn = chat.send("yes")
    assert [type(a) for a in turn.actions] == [FileReport]


def test_quiet_at_the_offer_or_in_its_language_menu_holds_the_report_for_later():
    for before_quiet in ((), ("language",)):
        chat = Chat(CHECKING)
        to_check(chat)
        chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
        for text in before_quiet:
            chat.send(text)
        quiet = chat.feed(TimedOut(AT))
        assert chat.state.name == "idle" and chat.state.draft.held is not None, before_quiet
        assert quiet.replies
        resumed = chat.send("resume")
        assert chat.state.name == "duplicate"
        assert resumed.replies[-1].options[0].startswith("118 Main St")


def test_the_offer_speaks_the_residents_language():
    every_language = make_context().languages
    chat = Chat(replace(CHECKING, languages=every_language))
    chat.send("bache en la calle")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("si")  # "bache en la calle" describes it already
    assert chat.turns[-1].actions == (CHECK,)
    offer = chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
    assert offer.replies[0].text.startswith("Puede que ya se haya reportado")
    followed = chat.send("1")
    assert followed.actions[0].language == "es"
    assert "1001" in followed.replies[0].text and "Gracias" in followed.replies[0].text


def test_services_the_city_does_not_check_go_straight_to_the_summary():
    for off in ({"*"}, {"PTH-001"}):
        chat = Chat(replace(CHECKING, nearby_off=frozenset(off)))
        to_check(chat)
        assert chat.state.name == "confirm" and chat.turns[-1].actions == ()


def test_an_unchecked_typed_address_has_no_point_and_is_not_checked():
    chat = Chat(CHECKING)
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", failed=True))
    chat.send("Deep hole in the right lane")
    assert chat.state.name == "confirm" and chat.turns[-1].actions == ()


def test_step_never_changes_the_state_it_is_given_at_the_offer():
    chat = Chat(CHECKING)
    to_check(chat)
    chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
    state = chat.state
    before = state.to_dict()
    step(state, Message("1", AT), CHECKING)
    assert state.to_dict() == before


@fuzz_settings(200)
@given(text=said(), count=st.integers(1, 4))
def test_any_answer_at_the_offer_is_handled(text, count):
    chat = Chat(CHECKING)
    to_check(chat)
    offered = tuple(replace(FIRST, number=str(1000 + n)) for n in range(count))
    chat.feed(Nearby("PTH-001", 39.78, -89.65, offered))
    turn = chat.send(text)
    assert turn.replies or turn.actions  # an answer, or a look-up that answers
    assert all(isinstance(r.text, str) for r in turn.replies)
    follows = [a for a in turn.actions if isinstance(a, FollowRequest)]
    assert len(follows) <= 1
    if follows:
        assert follows[0].number in {r.number for r in offered} and chat.state.name == "idle"


def test_a_line_without_the_citys_name_says_how_far_when_it_has_no_address():
    chat = Chat(CHECKING)
    to_check(chat)
    bare = NearbyRequest("1003", "", "", "open", None, metres=12)
    named = replace(FIRST, address="118 Main St, Springfield")
    offer = chat.feed(Nearby("PTH-001", 39.78, -89.65, (named, bare)))
    assert offer.replies[0].options[:2] == (
        "118 Main St (Feb 27): open",
        "about 12 m away: open",
    )


def test_the_last_options_words_send_ones_own_report():
    for words in ("none of these", "None", texts.NEARBY_NONE):
        chat = Chat(CHECKING)
        to_check(chat)
        chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
        assert chat.send(words).replies[0].text.startswith("Ready to send:"), words


def test_back_or_the_same_type_again_does_not_check_again():
    chat = Chat(CHECKING)
    to_check(chat)
    chat.feed(Nearby("PTH-001", 39.78, -89.65, (FIRST,)))
    chat.send("2")  # none of these: the summary
    chat.send("back")  # the offer again, as it was
    assert chat.state.name == "duplicate"
    chat.send("back")  # the description
    again = chat.send("Deep hole in the right lane")
    assert again.actions == () and chat.state.name == "confirm"
    chat.send("1")  # change the type
    same = chat.send("1")  # Pothole again
    assert same.actions == () and chat.state.name == "confirm"


LONG = [
    NearbyRequest(str(n), "Pothole", f"120{n} West Washington Boulevard", "acknowledged", OPENED)
    for n in range(3)
]


@pytest.mark.parametrize("code", ["en", "es", "tl", "vi", "zh"])
def test_long_addresses_are_cut_and_the_day_status_and_last_option_kept(code):
    context = replace(CHECKING, languages=make_context().languages)
    chat = Chat(context, State(consent=False, language=code, language_chosen=code != "en"))
    to_check(chat)
    offer = chat.feed(Nearby("PTH-001", 39.78, -89.65, tuple(LONG)))
    say = context.language(code)
    reply = offer.replies[0]
    assert reply.options[-1] == say(texts.NEARBY_NONE)
    assert len(reply.options) >= 3  # two requests at least, each still told apart
    for option in reply.options[:-1]:
        assert "acknowledged" in option and dates.day(OPENED, say, context.timezone) in option
    assert cost(render(reply)) <= (2 if code == "en" else MOST)
    shown = len(reply.options) - 1
    assert len(chat.state.draft.nearby) == shown
    assert chat.send(str(shown + 1)).replies[0].text.startswith(say(texts.CONFIRM).split("\n")[0])


def test_quiet_while_the_check_is_looked_up_resumes_at_the_summary_and_files():
    chat = Chat(CHECKING)
    to_check(chat)  # waiting for the check's answer, which never comes
    chat.feed(TimedOut(AT))
    resumed = chat.send("resume")
    assert chat.state.name == "confirm"
    assert resumed.replies[0].text.startswith("Ready to send:")
    assert [type(a) for a in chat.send("yes").actions] == [FileReport]
