"""GEOCODER=gazetteer through bot.geocoding: the places and `exact` the engine expects."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from bot import geocoding
from bot.gazetteer.geometry import metres
from bot.settings import Settings
from conversations import Place
from tests.gazetteer_city import CITY, city_script, make_index

grid = city_script()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return make_index(tmp_path_factory.mktemp("gridley"))[0]


@pytest.fixture
def settings(index):
    return Settings(geocoder="gazetteer", gazetteer_file=str(index), city_name=CITY)


def only(result) -> Place:
    assert not result.failed and len(result.places) == 1
    return result.places[0]


def test_the_setting_names_the_gazetteer():
    assert Settings(geocoder=" Gazetteer ").geocoder == "gazetteer"
    assert Settings(geocoder="photon").geocoder == "photon"  # any service geopy knows
    with pytest.raises(ValidationError, match="GEOCODER must be nominatim, photon"):
        Settings(geocoder="no-such-service")


def test_a_house_typed_as_in_the_data_is_exact(settings):
    place = only(geocoding.lookup("120 Mission St", settings))
    assert place.address == f"120 Mission Street, {CITY}" and place.exact
    assert metres((place.lat, place.lon), grid.house_position("named", 0, 120)) < 0.5


def test_an_interpolated_house_is_exact_too(settings):
    place = only(geocoding.lookup("131 Elm Street", settings))
    assert place.exact and place.address == f"131 Elm Street, {CITY}"


def test_a_misspelt_street_is_read_back_not_taken(settings):
    place = only(geocoding.lookup("120 Mian St", settings))
    assert place.address == f"120 Main Street, {CITY}" and not place.exact


def test_a_corner_is_placed_and_read_back(settings):
    place = only(geocoding.lookup("corner of Elm and 3rd", settings))
    assert place.address == f"Elm Street & 3rd Street, {CITY}" and not place.exact
    assert metres((place.lat, place.lon), (grid.lat_of(2), grid.lon_of(3))) < 1


def test_a_block_and_a_landmark(settings):
    block = only(geocoding.lookup("Main between 2nd and 3rd", settings))
    assert block.address == f"Main Street between 2nd Street and 3rd Street, {CITY}"
    library = only(geocoding.lookup("the library", settings))
    assert library.address == f"Central Library, {CITY}" and not library.exact


def test_a_number_the_street_has_not_gives_the_street_not_exact(settings):
    place = only(geocoding.lookup("9999 Main St", settings))
    assert place.address == f"Main Street, {CITY}" and not place.exact and place.lat is not None


def test_nothing_found_is_no_places_not_a_failure(settings):
    result = geocoding.lookup("999 Nowhere Blvd", settings)
    assert result.places == () and not result.failed


def test_city_bounds_limit_the_gazetteer_too(settings):
    away = settings.model_copy(update={"city_bounds": "10,10,11,11"})
    assert geocoding.lookup("120 Mission St", away).places == ()
    around = settings.model_copy(update={"city_bounds": "40.6,-89.7,40.8,-89.5"})
    assert only(geocoding.lookup("120 Mission St", around)).exact


def test_another_city_name_is_not_exact(settings):
    elsewhere = settings.model_copy(update={"city_name": "Shelbyville"})
    place = only(geocoding.lookup("120 Mission St", elsewhere))
    assert place.address == f"120 Mission Street, {CITY}"  # the index's own city name
    assert not place.exact


def test_a_pin_is_read_as_an_address(settings):
    lat, lon = grid.house_position("numbered", 4, 341)
    assert geocoding.reverse(lat, lon, settings) == f"341 4th Street, {CITY}"
    assert geocoding.reverse(41.9, -88.0, settings) == ""


def test_a_missing_index_fails_like_an_unreachable_geocoder(tmp_path):
    gone = Settings(geocoder="gazetteer", gazetteer_file=str(tmp_path / "none.sqlite3"))
    result = geocoding.lookup("120 Mission St", gone)
    assert result.failed and result.places == ()
    assert geocoding.reverse(40.7, -89.6, gone) == ""


def test_a_new_load_is_picked_up(tmp_path):
    index, _ = make_index(tmp_path / "one")
    settings = Settings(geocoder="gazetteer", gazetteer_file=str(index), city_name=CITY)
    first = geocoding.gazetteer(str(index), CITY)
    assert geocoding.gazetteer(str(index), CITY) is first  # one per process, its cache kept
    assert only(geocoding.lookup("120 Mission St", settings)).exact
    other, _ = make_index(tmp_path / "two", drop=1.0)  # no address points at all
    os.replace(other, index)
    os.utime(index, (1, 1))
    assert geocoding.gazetteer(str(index), CITY) is not first
    place = only(geocoding.lookup("120 Mission St", settings))
    assert place.exact and "120 Mission Street" in place.address  # from the centreline now


def test_a_missing_index_is_a_caution_at_start(tmp_path, index):
    from bot.production import cautions

    gone = Settings(geocoder="gazetteer", gazetteer_file=str(tmp_path / "none.sqlite3"))
    assert any("GAZETTEER_FILE" in said for said in cautions(gone))
    there = Settings(geocoder="gazetteer", gazetteer_file=str(index))
    assert not any("GAZETTEER_FILE" in said for said in cautions(there))


def test_the_engine_reads_a_corner_back_at_its_point(settings):
    from conversations import Geocode
    from tests.test_conversations_catalogue import Chat

    chat = Chat()
    chat.send("pothole")
    asked = chat.send("5th & Mission")
    assert asked.actions == (Geocode("5th & Mission"),)
    found = chat.feed(geocoding.lookup("5th & Mission", settings))
    assert chat.state.name == "location_confirm"
    assert f"5th Street & Mission Street, {CITY}" in found.replies[0].text
    place = chat.state.draft.place
    assert metres((place.lat, place.lon), (grid.lat_of(0), grid.lon_of(5))) < 1


def test_the_engine_takes_an_exact_house_without_asking(settings):
    from tests.test_conversations_catalogue import Chat

    chat = Chat()
    chat.send("pothole")
    chat.send("120 Mission St")
    chat.feed(geocoding.lookup("120 Mission St", settings))
    assert chat.state.name != "location_confirm"
    assert chat.state.draft.place.address == f"120 Mission Street, {CITY}"


def test_without_a_city_name_a_house_in_the_citys_own_data_is_exact(index):
    unnamed = Settings(geocoder="gazetteer", gazetteer_file=str(index))
    assert only(geocoding.lookup("120 Mission St", unnamed)).exact
