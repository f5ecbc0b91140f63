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


def test_a_new_load_keeping_the_old_mtime_is_not_answered_from_the_old_index(tmp_path):
    import json
    import os

    from bot.gazetteer.build import build
    from bot.settings import Settings

    def load(lat: float) -> None:
        feature = {
            "type": "Feature",
            "properties": {"street_name": "Main St", "lf_fadd": 101, "lf_toadd": 199},
            "geometry": {"type": "LineString", "coordinates": [[-100.01, lat], [-99.98, lat]]},
        }
        source = tmp_path / f"streets-{lat}.geojson"
        source.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        build([source], index, "Gridley")

    index = tmp_path / "g.sqlite3"
    s = Settings(_env_file=None, geocoder="gazetteer", gazetteer_file=str(index), city_name="X")
    load(40.0)
    kept = os.stat(index).st_mtime_ns
    assert geocoding.lookup("121 Main St", s).places[0].lat < 40.001
    load(41.0)  # Main Street moved (a corrected file), copied in with its old times kept
    os.utime(index, ns=(kept, kept))
    assert geocoding.lookup("121 Main St", s).places[0].lat > 40.99


def test_a_full_width_address_is_read_as_its_plain_form(settings):  # noqa: F811
    plain = geocoding.lookup("850 Elm St", settings)
    wide = geocoding.lookup("\uff18\uff15\uff10 \uff25\uff4c\uff4d \uff33\uff54", settings)
    assert wide.places and wide.places[0] == plain.places[0], wide
