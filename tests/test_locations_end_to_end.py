"""Typed corners, blocks and places outside the city through the worker, by SMS, with the
city's own data as the geocoder (the demo town's file, sandbox/demo_town.json) and its
city limits (tests/evaluation/springfield_limits.geojson); and a pin outside the city over
Telegram."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.gazetteer.build import build
from bot.gazetteer.geometry import metres
from bot.settings import get_settings
from sandbox.town import DEMO_TOWN
from tests.fakes.telegram_api import message_update
from tests.test_end_to_end import Phone, answer_pothole_questions, city_request, only_report
from tests.test_telegram_end_to_end import CHAT_ID

NEAR = r"Thanks, I have the location: near \d+ [A-Z][a-z]+ (Street|Avenue)"  # a pin read back

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "tests" / "evaluation" / "springfield_limits.geojson"

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def town_index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("town")
    build([DEMO_TOWN], folder / "town.sqlite3", "Springfield")
    return folder / "town.sqlite3"


@pytest.fixture
def phone(env, twilio_api):
    from webhooks import create_app

    return Phone(create_app({"TESTING": True}).test_client(), twilio_api)


@pytest.fixture
def city_data(env, town_index, monkeypatch):
    monkeypatch.setenv("GEOCODER", "gazetteer")
    monkeypatch.setenv("GAZETTEER_FILE", str(town_index))
    monkeypatch.setenv("CITY_BOUNDARY_FILE", str(LIMITS))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def file_at(phone, typed: str) -> tuple[str, object]:
    """Report a pothole at `typed`, answering YES to the place read back; the read-back and
    the report filed."""
    phone.text("hi")
    phone.text("1")
    [read_back] = phone.text(typed)
    assert read_back.endswith("Is that right? Reply YES or NO.")
    [ask_what] = phone.text("yes")
    assert "describe the problem" in ask_what
    phone.text("Deep hole, cars swerving")
    answer_pothole_questions(phone)
    thanks = phone.text("YES")
    assert thanks[0].startswith("Thanks! Sending your report")
    return read_back, only_report()


def test_a_corner_typed_is_filed_at_the_corner(city_data, phone):
    read_back, report = file_at(phone, "corner of Oak and Walnut")
    assert read_back.startswith("I found: Oak Avenue & Walnut Street")
    assert metres((report.lat, report.lon), (39.8036, -89.6553)) < 5
    filed = city_request(report.service_request_id)
    assert metres((float(filed["lat"]), float(filed["long"])), (39.8036, -89.6553)) < 5


def test_a_block_between_two_streets_is_filed_in_its_middle(city_data, phone):
    read_back, report = file_at(phone, "Main St between Cedar Dr and Walnut St")
    assert "Main Street between Cedar Drive and Walnut Street" in read_back
    assert metres((report.lat, report.lon), (39.8, (-89.66 - 89.6553) / 2)) < 5


def test_a_place_outside_the_city_limits_is_refused_with_the_citys_text(
    city_data, phone, monkeypatch
):
    monkeypatch.setenv("OUTSIDE_CITY_TEXT", "For the township, call 217-555-0100.")
    get_settings.cache_clear()
    phone.text("hi")
    phone.text("1")
    [refused] = phone.text("general hospital")
    assert refused == "That is outside Springfield. For the township, call 217-555-0100."
    [read_back] = phone.text("the library")  # the question stands: a place inside is taken
    # Typed by one of its other names, read back by its own.
    assert read_back.startswith("I found: Springfield Public Library, Springfield.")


def test_a_pin_outside_the_city_over_telegram(env, telegram_api, monkeypatch):
    from tests.test_telegram_end_to_end import TelegramChat
    from webhooks import create_app

    monkeypatch.setenv("CITY_BOUNDS", "39.7,-89.8,39.9,-89.5")
    get_settings.cache_clear()
    chat = TelegramChat(create_app({"TESTING": True}).test_client(), telegram_api)
    chat.say("/start")
    chat.tap("Pothole in Street")
    said = chat.post(message_update(CHAT_ID, location={"latitude": 41.88, "longitude": -87.63}))
    assert said[0]["text"].startswith("That is outside Springfield.")
    assert "Where is it?" in said[-1]["text"]
    # A pin inside is taken, and read back by its street address in the summary.
    [taken] = chat.post(
        message_update(CHAT_ID, location={"latitude": 39.8001, "longitude": -89.6455})
    )
    assert re.match(NEAR, taken["text"])


def test_several_places_found_are_a_numbered_choice(city_data, phone):
    phone.text("hi")
    phone.text("1")
    [choice] = phone.text("park")
    assert choice.startswith(
        "I found several places. Reply with the number, or send the address again."
    )
    assert "1 Central Park, Springfield" in choice and "2 Park Drive, Springfield" in choice
    [ask_what] = phone.text("2")
    assert ask_what.startswith("Found: Park Drive, Springfield.")
    phone.text("Deep hole, cars swerving")
    answer_pothole_questions(phone)
    phone.text("YES")
    report = only_report()
    assert report.address == "Park Drive, Springfield"
    # On Park Drive (a street alone: the gazetteer puts it at a known point of the street).
    assert report.lon == pytest.approx(-89.6459) and 39.786 <= report.lat <= 39.818
