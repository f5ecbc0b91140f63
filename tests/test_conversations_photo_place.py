"""Where a photo was taken (its EXIF GPS, read by the worker): offered as the location when the
resident gave none, confirmed with YES like a read-back, never over a place typed or pinned."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.languages import load_languages
from conversations import FileReport, Geocode, Geocoded, Message, Place, State, step, texts
from conversations.types import TimedOut
from tests.test_conversations_catalogue import AT, CONTEXT, Chat

TAKEN = Place("Elm St & 3rd St", 39.8012, -89.6431)  # where the photo was taken, named
UNNAMED = Place("", 39.8012, -89.6431)  # reverse geocoding found no name
PIN = Place("", 39.7001, -89.6502)
FOUND = Geocoded("120 Main St", (Place("120 Main St, Springfield", 39.7817, -89.6501),))
OFFER = texts.PHOTO_PLACE.format(address=TAKEN.address)
LANGUAGES = load_languages()
SPANISH = replace(CONTEXT, languages=LANGUAGES)


def photo(chat: Chat, text: str = "", where: Place | None = TAKEN, ref: str = "photo-1"):
    """The resident sends a photo (with a caption when `text`), taken at `where`."""
    return chat.feed(Message(text, AT, media=(ref,), photo_location=where))


def texts_of(turn) -> list[str]:
    return [reply.text for reply in turn.replies]


def offered(chat: Chat) -> Chat:
    """A photo with GPS before the service, then the service: the photo's place offered."""
    photo(chat)
    assert chat.state.name == "service" and chat.state.draft.photo_place == TAKEN
    turn = chat.send("pothole")
    assert chat.state.name == "location_confirm"
    assert texts_of(turn) == [f"Got it: Pothole. {OFFER}"]
    assert turn.replies[-1].expects == "yes_no" and turn.actions == ()
    return chat


def filed(chat: Chat, description: str = "Deep hole by the curb") -> FileReport:
    """Describe the problem and send the report; the FileReport the worker gets."""
    chat.send(description)
    assert chat.state.name == "confirm"
    [report] = chat.send("yes").actions
    assert isinstance(report, FileReport)
    return report


def test_yes_files_the_report_at_the_photos_coordinates():
    chat = offered(Chat())
    turn = chat.send("yes")
    assert chat.state.name == "description"
    near = texts.PIN_NEAR.format(address=TAKEN.address)  # the place read back as it was offered
    assert texts_of(turn) == [f"{near} {texts.ASK_DESCRIPTION}"]
    assert chat.state.draft.place == TAKEN and chat.state.draft.photo_place is None
    report = filed(chat)
    assert (report.address, report.lat, report.lon) == (TAKEN.address, TAKEN.lat, TAKEN.lon)
    assert report.media == ("photo-1",)


def test_no_drops_the_photos_place_and_asks_where_it_is():
    chat = offered(Chat())
    turn = chat.send("no")
    assert chat.state.name == "location" and chat.state.draft.photo_place is None
    assert texts_of(turn) == [texts.ASK_LOCATION] and turn.replies[0].expects == "location"
    assert chat.send("120 Main St").actions == (Geocode("120 Main St"),)
    chat.feed(FOUND)
    chat.send("yes")
    report = filed(chat)
    assert (report.lat, report.lon) == (39.7817, -89.6501) and report.media == ("photo-1",)


def test_a_typed_address_instead_is_looked_up_and_the_photos_place_dropped():
    chat = offered(Chat())
    turn = chat.send("no it's at 120 Main St")
    assert turn.actions == (Geocode("120 Main St"),)
    assert chat.state.draft.photo_place is None
    turn = chat.feed(FOUND)
    assert texts_of(turn) == [texts.ADDRESS_FOUND.format(address="120 Main St, Springfield")]
    chat.send("yes")
    report = filed(chat)
    assert (report.address, report.lat) == ("120 Main St, Springfield", 39.7817)


def test_a_pin_shared_instead_is_used():
    chat = offered(Chat())
    turn = chat.feed(Message("", AT, location=PIN))
    assert chat.state.name == "description" and texts_of(turn)[0].startswith(texts.PIN_TAKEN)
    # the pin shared has no name of its own
    assert chat.state.draft.photo_place is None
    report = filed(chat)
    assert (report.lat, report.lon) == (PIN.lat, PIN.lon)


def test_a_pin_shared_before_the_service_wins_over_the_photo():
    chat = Chat()
    photo(chat)
    chat.feed(Message("", AT, location=PIN))
    assert chat.state.draft.photo_place is None
    chat.send("pothole")
    assert chat.state.name == "description"
    assert (filed(chat).lat, chat.state.draft.photo_place) == (PIN.lat, None)


def test_an_address_typed_before_the_photo_is_kept_and_the_gps_ignored():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    photo(chat)  # while the address is looked up
    assert chat.state.draft.photo_place is None
    chat.feed(FOUND)
    turn = photo(chat, ref="photo-2")  # while it is read back
    assert chat.state.name == "location_confirm" and chat.state.draft.photo_place is None
    assert texts.PHOTO_PLACE.split("{")[0] not in " ".join(texts_of(turn))
    chat.send("yes")
    report = filed(chat)
    assert (report.lat, report.lon) == (39.7817, -89.6501)
    assert report.media == ("photo-1", "photo-2")


def test_an_address_in_the_first_message_wins_over_the_photo_sent_with_it():
    chat = Chat()
    turn = photo(chat, "pothole at 120 Main St")
    assert turn.actions == (Geocode("120 Main St"),)
    assert chat.state.name == "location" and chat.state.draft.photo_place is None


def test_a_photo_sent_later_in_the_report_never_replaces_its_place():
    chat = Chat()
    chat.send("pothole")
    chat.feed(Message("", AT, location=PIN))
    turn = photo(chat)
    assert texts_of(turn)[0].startswith(texts.PHOTO_ADDED)
    assert chat.state.name == "description" and chat.state.draft.photo_place is None
    assert filed(chat).lat == PIN.lat


def test_a_photo_without_gps_changes_nothing():
    chat = Chat()
    chat.send("pothole")
    turn = photo(chat, where=None)
    assert chat.state.name == "location" and chat.state.draft.photo_place is None
    assert texts_of(turn) == [texts.PHOTO_ADDED, texts.ASK_LOCATION]


def test_a_photo_arriving_at_the_location_question_is_offered_then():
    chat = Chat()
    chat.send("pothole")
    turn = photo(chat)
    assert chat.state.name == "location_confirm"
    assert texts_of(turn) == [OFFER] and turn.replies[0].expects == "yes_no"
    near = texts.PIN_NEAR.format(address=TAKEN.address)
    assert chat.send("yes").replies[0].text.startswith(near)
    assert chat.state.draft.place == TAKEN


def test_a_photo_with_words_naming_the_service_keeps_them_as_the_description():
    chat = Chat()
    turn = photo(chat, "huge pothole, a car lost a tire in it")
    assert texts_of(turn) == [f"Got it: Pothole. {OFFER}"]
    turn = chat.send("yes")
    assert chat.state.name == "confirm" and "\n2 Elm St & 3rd St\n" in texts_of(turn)[-1]


def test_a_photos_place_without_a_name_is_asked_plainly():
    chat = Chat()
    chat.send("pothole")
    turn = photo(chat, where=UNNAMED)
    assert texts_of(turn) == [texts.PHOTO_PLACE_PLAIN]
    chat.send("yes")
    turn = chat.send("Deep hole by the curb")
    assert "\n2 The location you shared\n" in texts_of(turn)[0]


def test_a_second_photo_keeps_the_place_already_asked_about():
    chat = Chat()
    chat.send("pothole")
    photo(chat)
    turn = photo(chat, where=PIN, ref="photo-2")
    assert texts_of(turn) == [texts.PHOTO_ADDED, OFFER]
    chat.send("yes")
    assert chat.state.draft.place == TAKEN and chat.state.draft.media == ["photo-1", "photo-2"]


def test_an_unclear_answer_help_and_another_languages_yes():
    chat = offered(Chat())
    assert texts_of(chat.send("maybe")) == [texts.ASK_YES_NO]
    assert chat.state.name == "location_confirm"
    assert texts_of(chat.send("help")) == [texts.HELP, OFFER]
    spanish = Chat(SPANISH, chat.state)
    spanish.send("sí")
    assert spanish.state.name == "description" and spanish.state.language == "es"
    assert spanish.state.draft.place == TAKEN


def test_the_question_in_spanish():
    say = LANGUAGES["es"]
    chat = Chat(SPANISH, State(language="es", language_chosen=True, consent=False))
    chat.send("bache")
    turn = photo(chat)
    [reply] = turn.replies
    assert reply.text == say(texts.PHOTO_PLACE).format(address=TAKEN.address)
    assert reply.text.startswith("Su foto se tomó cerca de Elm St & 3rd St.")
    assert reply.expects == "yes_no"
    chat.send("no")
    assert chat.state.name == "location" and chat.state.draft.photo_place is None
    plain = Chat(SPANISH, State(language="es", language_chosen=True, consent=False))
    plain.send("bache")
    assert texts_of(photo(plain, where=UNNAMED)) == [say(texts.PHOTO_PLACE_PLAIN)]
    assert texts_of(plain.send("SÍ"))[0].startswith(say(texts.PIN_TAKEN))


def test_the_state_round_trips_mid_question():
    chat = offered(Chat())
    stored = chat.state.to_dict()
    assert stored["name"] == "location_confirm"
    assert stored["draft"]["photo_place"] == {
        "address": TAKEN.address,
        "lat": TAKEN.lat,
        "lon": TAKEN.lon,
    }
    assert "address" not in stored["draft"]  # no place yet: only the photo's, offered
    again = State.from_dict(json.loads(json.dumps(stored)))
    assert again == chat.state and again.draft.photo_place == TAKEN
    turn = step(again, Message("yes", AT), CONTEXT)
    assert turn.state.name == "description" and turn.state.draft.place == TAKEN


def test_back_from_the_question_returns_to_the_menu_keeping_the_photo():
    chat = offered(Chat())
    turn = chat.send("back")
    assert chat.state.name == "service" and chat.state.draft.photo_place == TAKEN
    assert turn.replies[0].expects == "choice"
    turn = chat.send("1")
    assert chat.state.name == "location_confirm" and texts_of(turn)[-1].endswith(OFFER)


def test_back_from_the_question_asked_at_the_location_question_asks_where_it_is():
    chat = Chat()
    chat.send("pothole")
    photo(chat)
    turn = chat.send("back")
    assert chat.state.name == "location" and texts_of(turn) == [texts.ASK_LOCATION]
    assert chat.send("120 Main St").actions == (Geocode("120 Main St"),)
    assert chat.state.draft.photo_place is None


def test_back_after_yes_asks_about_the_photo_again():
    chat = offered(Chat())
    chat.send("yes")
    turn = chat.send("back")
    assert chat.state.name == "location_confirm" and texts_of(turn) == [OFFER]
    chat.send("no")
    assert chat.state.name == "location" and chat.state.draft.place is None


def test_a_report_put_aside_at_the_question_comes_back_to_it():
    chat = offered(Chat())
    chat.feed(TimedOut(AT))
    assert chat.state.name == "idle" and chat.state.draft.held.draft.photo_place == TAKEN
    chat.send("hello")
    turn = chat.send("yes")
    assert chat.state.name == "location_confirm" and texts_of(turn) == [OFFER]


def test_restart_drops_the_photos_place():
    chat = Chat()
    photo(chat)
    chat.send("restart")
    chat.send("pothole")
    assert chat.state.name == "location" and chat.state.draft.photo_place is None
