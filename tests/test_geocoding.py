"""bot.geocoding through real geopy against the sandbox's Nominatim-compatible geocoder."""

from __future__ import annotations

import pytest

from bot.geocoding import lookup, short_address
from bot.settings import Settings


@pytest.fixture
def settings(sandbox):
    return Settings(
        geocoder="nominatim",
        geocoder_domain=f"127.0.0.1:{sandbox.port}/nominatim",
        geocoder_scheme="http",
        geocoder_timeout=3,
    )


def test_known_address_is_found_with_coordinates(settings):
    result = lookup("120 Main St", settings)
    assert not result.failed
    place = result.places[0]
    assert place.address == "120 Main Street, Springfield"
    assert 39 < place.lat < 41 and -91 < place.lon < -88


def test_unknown_address_finds_nothing(settings):
    result = lookup("999 Nowhere Blvd", settings)
    assert result.places == () and not result.failed


def test_city_bounds_exclude_places_outside(settings):
    inside = lookup("120 Main St", settings).places[0]
    far_away = settings.model_copy(update={"city_bounds": "10,10,11,11"})
    around = settings.model_copy(
        update={
            "city_bounds": f"{inside.lat - 0.1},{inside.lon - 0.1},"
            f"{inside.lat + 0.1},{inside.lon + 0.1}"
        }
    )
    assert lookup("120 Main St", far_away).places == ()
    assert lookup("120 Main St", around).places[0].address == inside.address


def test_unreachable_geocoder_is_reported_as_failed_not_raised():
    dead = Settings(geocoder_domain="127.0.0.1:9", geocoder_scheme="http", geocoder_timeout=1)
    result = lookup("120 Main St", dead)
    assert result.failed and result.places == ()


def test_geocoder_none_forwards_the_typed_address():
    result = lookup("  corner of 5th and Elm ", Settings(geocoder="none"))
    places = [(p.address, p.lat, p.lon) for p in result.places]
    assert places == [("corner of 5th and Elm", None, None)]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            {"address": {"house_number": "120", "road": "Main Street", "city": "Springfield"}},
            "120 Main Street, Springfield",
        ),
        ({"name": "City Hall", "address": {"town": "Springfield"}}, "City Hall, Springfield"),
        (
            {"display_name": "Park, Oak Avenue, Springfield, Illinois, USA"},
            "Park, Oak Avenue, Springfield",
        ),
    ],
)
def test_short_address(raw, expected):
    assert short_address(raw) == expected
