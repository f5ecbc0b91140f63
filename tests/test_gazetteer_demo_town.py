"""The demo town's gazetteer through bot.geocoding: addresses that must be read back, places
beyond the city's limits, a new load seen."""

from __future__ import annotations

from bot import geocoding
from tests.test_location_accuracy import settings  # noqa: F401  the demo town's index


def test_an_address_in_another_town_is_read_back_not_taken(settings):  # noqa: F811
    found = geocoding.lookup("742 Evergreen Terrace, Shelbyville", settings)
    assert found.places and not any(p.exact for p in found.places), found


def test_another_town_after_the_street_without_a_comma_is_read_back(settings):  # noqa: F811
    found = geocoding.lookup("742 Evergreen Terrace Shelbyville", settings)
    assert found.places and not any(p.exact for p in found.places), found


def test_the_citys_own_name_state_and_postcode_keep_an_address_exact(settings):  # noqa: F811
    found = geocoding.lookup("742 Evergreen Terrace, Springfield, IL 62704", settings)
    assert found.places and found.places[0].exact, found


def test_a_house_beyond_city_bounds_is_told_outside_not_unknown(settings):  # noqa: F811
    # The box of the city limits' polygon; 1750 Lincoln Road is in the data, beyond both.
    boxed = settings.model_copy(update={"city_bounds": "39.783,-89.668,39.8085,-89.624"})
    assert geocoding.lookup("1750 Lincoln Road", settings).outside  # the polygon alone
    found = geocoding.lookup("1750 Lincoln Road", boxed)
    assert found.outside and not found.places, found  # "That is outside", not "not found"


def test_a_house_inside_city_bounds_is_still_found_with_them(settings):  # noqa: F811
    boxed = settings.model_copy(update={"city_bounds": "39.783,-89.668,39.8085,-89.624"})
    found = geocoding.lookup("850 Elm St", boxed)
    assert found.places and found.places[0].exact and not found.outside, found
