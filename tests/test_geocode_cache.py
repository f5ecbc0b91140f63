"""A provider's geocoding answers kept in Redis (bot/geocode_cache.py), through real geopy
against the sandbox's Nominatim-compatible geocoder."""

from __future__ import annotations

import json

import pytest

from bot import geocode_cache
from bot.geocoding import lookup, reverse
from bot.settings import Settings


@pytest.fixture
def settings(sandbox, redis_conn, test_redis_url):
    return Settings(
        geocoder="nominatim",
        geocoder_domain=f"127.0.0.1:{sandbox.port}/nominatim",
        geocoder_scheme="http",
        geocoder_timeout=3,
        redis_url=test_redis_url,
        geocode_cache_seconds=60,
    )


def _keys(redis_conn) -> list[bytes]:
    return redis_conn.keys(geocode_cache.PREFIX + "*")


def test_an_answer_is_kept_under_a_key_that_does_not_hold_the_query(settings, redis_conn):
    first = lookup("120 Main St", settings)
    [key] = _keys(redis_conn)
    assert b"main" not in key.lower() and 0 < redis_conn.ttl(key) <= 60
    # The kept answer is what the next look-up returns (the provider is not asked).
    kept = json.loads(redis_conn.get(key))
    kept["places"][0]["address"] = "Kept: 120 Main Street"
    redis_conn.set(key, json.dumps(kept))
    again = lookup("  120 main st ", settings)
    assert again.places[0].address == "Kept: 120 Main Street"
    assert (again.places[0].lat, again.places[0].lon) == (first.places[0].lat, first.places[0].lon)
    assert again.query == "120 main st"


def test_another_provider_or_other_bounds_ask_afresh(settings, redis_conn):
    lookup("120 Main St", settings)
    bounded = settings.model_copy(update={"city_bounds": "10,10,11,11"})
    assert lookup("120 Main St", bounded).places == ()
    assert len(_keys(redis_conn)) == 2


def test_a_failed_look_up_is_never_kept(settings, redis_conn):
    dead = settings.model_copy(update={"geocoder_domain": "127.0.0.1:9", "geocoder_timeout": 1})
    assert lookup("120 Main St", dead).failed
    assert _keys(redis_conn) == []


def test_redis_down_costs_only_a_call_to_the_provider(settings):
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    found = lookup("120 Main St", down)
    assert not found.failed and found.places[0].address == "120 Main Street, Springfield"


def test_a_pins_address_is_kept_and_an_empty_one_is_not(settings, redis_conn):
    place = lookup("120 Main St", settings).places[0]
    redis_conn.flushdb()
    named = reverse(place.lat, place.lon, settings)
    assert named and len(_keys(redis_conn)) == 1
    redis_conn.set(_keys(redis_conn)[0], "Kept corner")
    assert reverse(place.lat, place.lon, settings) == "Kept corner"
    assert reverse(10.0, 10.0, settings) == ""  # nothing there: asked, never kept
    assert len(_keys(redis_conn)) == 1


def test_off_keeps_nothing(settings, redis_conn):
    lookup("120 Main St", settings.model_copy(update={"geocode_cache_seconds": 0}))
    assert _keys(redis_conn) == []
