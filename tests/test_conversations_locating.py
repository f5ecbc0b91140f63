"""Several places found become a numbered choice; a place or pin outside the city is refused
with the city's words (the worker decides what is outside: the engine only speaks)."""

from __future__ import annotations

from dataclasses import replace

from conversations import FileReport, Geocoded, Message, Place, texts
from conversations.locating import outside
from tests.test_conversations_catalogue import AT, CONTEXT, Chat

OAK_SPRINGFIELD = Place("120 Oak Avenue, Springfield", 39.8036, -89.6627)
OAK_PARK = Place("Oak Park, Springfield", 39.8054, -89.6482)
CORNER = Place("Main Street & Park Drive", 39.8, -89.6459)
SHELBYVILLE = Place("742 Evergreen Terrace, Shelbyville", 39.4064, -88.7901)


def texts_of(turn) -> list[str]:
    return [reply.text for reply in turn.replies]


def at_location(chat: Chat, typed: str) -> str:
    chat.send("pothole")
    turn = chat.send(typed)
    assert turn.actions and chat.state.draft.geocode_query
    return chat.state.draft.geocode_query


def test_several_places_are_a_numbered_choice_and_a_number_picks_one():
    chat = Chat()
    at_location(chat, "oak")
    turn = chat.feed(Geocoded("oak", (OAK_SPRINGFIELD, OAK_PARK, OAK_SPRINGFIELD)))
    [choice] = turn.replies
    assert choice.expects == "choice"
    assert choice.options == (OAK_SPRINGFIELD.address, OAK_PARK.address)  # each once
    assert choice.text == texts.ADDRESS_CHOICES
    assert chat.state.name == "location_confirm" and chat.state.draft.place is None
    turn = chat.send("2")
    assert chat.state.name == "description"
    assert chat.state.draft.place == Place(OAK_PARK.address, OAK_PARK.lat, OAK_PARK.lon)
    assert texts_of(turn)[0].startswith("Found: Oak Park, Springfield.")
    chat.send("deep hole")
    [report] = chat.send("yes").actions
    assert isinstance(report, FileReport)
    assert (report.address, report.lat, report.lon) == (OAK_PARK.address, 39.8054, -89.6482)


def test_several_names_for_one_spot_are_one_choice():
    chat = Chat()
    query = at_location(chat, "station")
    names = ("amtrak station", "train station", "Union Station")
    same = tuple(Place(f"{n}, Springfield", 39.793, -89.6505) for n in names)
    turn = chat.feed(Geocoded(query, same))
    [reply] = turn.replies
    assert reply.expects == "yes_no" and "amtrak station, Springfield" in reply.text


def test_a_number_not_offered_asks_again_with_the_list():
    chat = Chat()
    at_location(chat, "oak")
    chat.feed(Geocoded("oak", (OAK_SPRINGFIELD, OAK_PARK)))
    turn = chat.send("7")
    assert texts_of(turn)[0] == texts.ADDRESS_CHOICE_HOW
    assert turn.replies[1].options == (OAK_SPRINGFIELD.address, OAK_PARK.address)
    assert chat.state.name == "location_confirm"


def test_a_new_address_at_the_choice_is_looked_up():
    chat = Chat()
    at_location(chat, "oak")
    chat.feed(Geocoded("oak", (OAK_SPRINGFIELD, OAK_PARK)))
    turn = chat.send("120 Oak Ave")
    assert chat.state.draft.geocode_query == "120 Oak Ave"
    assert chat.state.draft.candidates == [] and turn.actions


def test_no_at_the_choice_asks_the_location_again():
    chat = Chat()
    at_location(chat, "oak")
    chat.feed(Geocoded("oak", (OAK_SPRINGFIELD, OAK_PARK)))
    chat.send("no")
    assert chat.state.name == "location" and chat.state.draft.candidates == []


def test_one_place_is_still_read_back_for_a_yes_or_no():
    chat = Chat()
    at_location(chat, "main and park")
    [reply] = chat.feed(Geocoded("main and park", (CORNER,))).replies
    assert reply.expects == "yes_no" and CORNER.address in reply.text


def test_every_place_outside_the_city_is_refused_with_the_generic_text():
    chat = Chat()
    query = at_location(chat, "742 Evergreen Terrace Shelbyville")
    turn = chat.feed(Geocoded(query, (), outside=(SHELBYVILLE,)))
    [reply] = texts_of(turn)
    assert reply.startswith("That is outside Springfield. ")
    assert "send an address in Springfield" in reply
    assert chat.state.name == "location" and chat.state.draft.place is None


def test_the_citys_own_text_follows_and_is_kept_as_written():
    context = replace(CONTEXT, outside_text="For Shelbyville, call 217-555-0100.")
    chat = Chat(context)
    query = at_location(chat, "742 Evergreen Terrace Shelbyville")
    turn = chat.feed(Geocoded(query, (), outside=(SHELBYVILLE,)))
    assert texts_of(turn) == ["That is outside Springfield. For Shelbyville, call 217-555-0100."]


def test_a_place_inside_wins_over_others_outside():
    chat = Chat()
    at_location(chat, "120 oak ave")
    turn = chat.feed(Geocoded("120 oak ave", (OAK_SPRINGFIELD,), outside=(SHELBYVILLE,)))
    assert OAK_SPRINGFIELD.address in texts_of(turn)[0]
    assert "outside" not in texts_of(turn)[0]


def test_a_pin_outside_the_city_is_refused_and_the_question_stands():
    chat = Chat()
    chat.send("pothole")
    turn = chat.feed(Message("", AT, location=Place("", 39.4, -88.79), location_outside=True))
    said = texts_of(turn)
    assert said[0].startswith("That is outside Springfield.")
    assert said[-1] == texts.ASK_LOCATION
    assert chat.state.name == "location" and chat.state.draft.place is None
    assert chat.state.draft.pin is None


def test_outside_in_every_language():
    from bot.languages import load_languages

    languages = load_languages(None)
    seen = set()
    for code, say in languages.items():
        text = outside(replace(CONTEXT, languages=languages), say).text
        assert "Springfield" in text, code
        seen.add(text)
    assert len(seen) == len(languages) == 5  # each its own words


def choosing(chat: Chat) -> Chat:
    """A chat at the numbered choice between Oak Avenue and Oak Park."""
    at_location(chat, "oak")
    chat.feed(Geocoded("oak", (OAK_SPRINGFIELD, OAK_PARK)))
    assert chat.state.draft.candidates
    return chat


def test_an_intersection_typed_at_the_choice_is_looked_up():
    chat = choosing(Chat())
    turn = chat.send("corner of Elm and Oak")  # neither offered place: the resident says where
    assert chat.state.draft.geocode_query == "corner of Elm and Oak", texts_of(turn)
    assert chat.state.draft.candidates == [] and turn.actions


def test_a_landmark_typed_at_the_choice_is_looked_up():
    chat = choosing(Chat())
    chat.send("the library")
    assert chat.state.draft.geocode_query == "the library"


def test_a_number_not_offered_at_the_choice_keeps_the_choice():
    chat = choosing(Chat())
    turn = chat.send("7")
    assert texts_of(turn)[0] == texts.ADDRESS_CHOICE_HOW and chat.state.draft.candidates


def test_a_landmark_typed_at_a_single_read_back_is_looked_up():
    chat = Chat()
    at_location(chat, "oak")
    chat.feed(Geocoded("oak", (OAK_PARK,)))  # one place, not exact: read back
    assert chat.state.name == "location_confirm" and not chat.state.draft.candidates
    chat.send("the library")
    assert chat.state.draft.geocode_query == "the library"


def test_a_pin_shared_at_the_choice_clears_the_choice():
    chat = choosing(Chat())
    chat.feed(Message("", AT, location=Place("", 39.8, -89.65)))
    assert chat.state.draft.place.lat == 39.8
    assert chat.state.draft.candidates == []  # stale: offered again at a later read-back


def test_a_photo_place_offered_after_a_pin_at_the_choice_takes_yes():
    chat = choosing(Chat())
    chat.feed(Message("", AT, location=Place("", 39.8, -89.65)))  # pin while choosing
    chat.send("deep hole")  # description -> summary
    chat.send("2")  # change the location
    assert chat.state.name == "location" and chat.state.draft.candidates == []
    photo = Place("1 Elm St, Springfield", 39.79, -89.64)
    chat.feed(Message("", AT, media=("m1",), photo_location=photo))
    assert chat.state.name == "location_confirm"
    turn = chat.send("yes")  # "Is it where your photo was taken?" YES
    assert chat.state.draft.place is not None, texts_of(turn)
    assert chat.state.draft.place.lat == 39.79, texts_of(turn)
