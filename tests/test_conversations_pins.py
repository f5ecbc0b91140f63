"""Shared location pins and photos: taken at any point of a report, without extra questions."""

from __future__ import annotations

from conversations import Draft, FileReport, Message, Place, texts
from tests.test_conversations_catalogue import AT, CATALOGUE, Chat

PIN = Place(address="", lat=39.8001, lon=-89.6455)
VENUE = Place(address="Central Park", lat=39.7981, lon=-89.6502)
POTHOLE = next(s for s in CATALOGUE if "Pothole" in s.name)


def pin(chat: Chat, place: Place = PIN, text: str = ""):
    return chat.feed(Message(text, AT, location=place))


def photo(chat: Chat, text: str = "", ref: str = "telegram-file:AgAC1"):
    return chat.feed(Message(text, AT, media=(ref,)))


def texts_of(turn) -> list[str]:
    return [reply.text for reply in turn.replies]


def test_pin_at_the_location_question_is_taken_without_reading_back():
    chat = Chat()
    chat.send("pothole")
    turn = pin(chat)
    assert chat.state.name == "description"
    assert texts_of(turn)[0].startswith(texts.PIN_TAKEN)
    assert (chat.state.draft.place.lat, chat.state.draft.place.lon) == (PIN.lat, PIN.lon)
    assert turn.actions == ()


def test_pin_first_then_the_service_skips_the_location_question():
    chat = Chat()
    turn = pin(chat, VENUE)
    assert texts_of(turn)[0].startswith(texts.PIN_FIRST)
    assert chat.state.name == "service"
    turn = chat.send("pothole")
    assert chat.state.name == "description"
    assert texts_of(turn)[0].startswith("Got it: " + POTHOLE.name)
    [summary] = texts_of(chat.send("Deep hole by the gate"))
    assert chat.state.name == "confirm" and "\n2 Central Park\n" in summary
    [report] = chat.send("yes").actions
    assert isinstance(report, FileReport)
    assert (report.address, report.lat, report.lon) == ("Central Park", VENUE.lat, VENUE.lon)


def test_pin_replaces_a_typed_address_being_confirmed():
    chat = Chat()
    chat.send("pothole")
    chat.send("120 Main St")
    assert chat.state.draft.geocode_query == "120 Main St"
    pin(chat)
    assert chat.state.name == "description"
    assert chat.state.draft.geocode_query is None and chat.state.draft.place.lat == PIN.lat


def test_pin_late_in_the_report_updates_the_location_and_asks_again():
    chat = Chat()
    chat.send("pothole")
    pin(chat)
    turn = pin(chat, VENUE)
    assert texts_of(turn)[0] == texts.PIN_UPDATED
    assert chat.state.name == "description" and chat.state.draft.place.address == "Central Park"


def test_summary_names_a_pin_without_an_address():
    chat = Chat()
    chat.send("pothole")
    pin(chat)
    turn = chat.send("Deep hole by the gate")
    assert chat.state.name == "confirm"
    assert "\n2 The location you shared\n" in texts_of(turn)[0]


def test_photos_ride_along_with_the_report():
    chat = Chat()
    turn = photo(chat)
    assert texts_of(turn)[0].startswith(texts.PHOTO_FIRST)
    chat.send("pothole")
    pin(chat)
    photo(chat, "Deep hole by the gate", ref="telegram-file:AgAC2")
    assert chat.state.name == "confirm"
    [report] = chat.send("yes").actions
    assert report.media == ("telegram-file:AgAC1", "telegram-file:AgAC2")


def test_bare_photo_mid_report_keeps_the_question():
    chat = Chat()
    chat.send("pothole")
    turn = photo(chat)
    assert texts_of(turn)[0] == texts.PHOTO_ADDED
    assert "Where is it?" in texts_of(turn)[1] and chat.state.name == "location"


def test_cancel_drops_pin_and_photos():
    chat = Chat()
    pin(chat)
    photo(chat)
    chat.send("restart")
    assert chat.state.draft == Draft()
    chat.send("pothole")
    assert chat.state.draft.pin is None and not chat.state.draft.media


def test_a_photo_sent_with_the_final_yes_goes_with_the_report():
    chat = Chat()
    chat.send("pothole")
    pin(chat)
    chat.send("Deep hole by the gate")
    [report] = photo(chat, "yes", ref="telegram-file:last").actions
    assert report.media == ("telegram-file:last",)


def test_a_pin_while_a_shortlist_shows_keeps_the_shortlist():
    chat = Chat()
    chat.send("the street is wrecked")
    shortlist = chat.state
    assert shortlist.name == "service" and shortlist.offered
    turn = pin(chat)
    assert chat.state.offered == shortlist.offered and chat.state.draft.said
    assert texts_of(turn)[0] == texts.PIN_TAKEN


def test_a_named_pin_is_read_back_as_the_street_address_it_is_near():
    chat = Chat()
    chat.send("pothole")
    turn = pin(chat, Place("118 Main St, Springfield", 39.8001, -89.6455))
    assert texts_of(turn)[0].startswith(
        "Thanks, I have the location: near 118 Main St, Springfield."
    )
    summary = chat.send("Deep hole by the gate")
    assert "2 118 Main St, Springfield" in summary.replies[0].text  # 2 changes it
