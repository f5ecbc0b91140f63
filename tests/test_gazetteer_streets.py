"""The gazetteer on small hand-made cities: a typed street type or direction honoured, corners
of streets that never meet not found, "5 & Mission" read as a corner."""

from __future__ import annotations

import json
from pathlib import Path

from bot.gazetteer.build import build
from bot.gazetteer.geocoder import Gazetteer
from tests.gazetteer_city import make_index


def line(name, a, b, lf, lt, rf, rt) -> dict:
    """A centreline feature from (lat, lon) a to b with its house-number ranges."""
    return {
        "type": "Feature",
        "properties": {
            "street_name": name,
            "lf_fadd": lf,
            "lf_toadd": lt,
            "rt_fadd": rf,
            "rt_toadd": rt,
        },
        "geometry": {"type": "LineString", "coordinates": [[a[1], a[0]], [b[1], b[0]]]},
    }


def city(tmp_path: Path, features: list[dict]) -> Gazetteer:
    """A gazetteer over an index built from these centrelines."""
    (tmp_path / "streets.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    build([tmp_path / "streets.geojson"], tmp_path / "g.sqlite3", "Gridley")
    return Gazetteer(tmp_path / "g.sqlite3", "Gridley")


def fifths(tmp_path: Path) -> Gazetteer:
    """Mission St runs east; 5th Street crosses it; 5th Avenue, 850 m east, stops short."""
    return city(
        tmp_path,
        [
            line("Mission St", (40.0, -100.01), (40.0, -99.98), 101, 199, 100, 198),
            line("5th St", (39.99, -100.0), (40.01, -100.0), 101, 199, 100, 198),
            line("5th Ave", (40.001, -99.99), (40.01, -99.99), 201, 299, 200, 298),
        ],
    )


def test_a_corner_typed_with_5th_avenue_is_not_filed_at_5th_street(tmp_path):
    found = fifths(tmp_path).geocode("5th Ave & Mission", exactly_one=False)
    assert [f.address for f in found] == [], "5th Avenue never meets Mission Street"


def test_a_house_typed_on_5th_street_is_not_filed_on_5th_avenue(tmp_path):
    found = fifths(tmp_path).geocode("250 5th St", exactly_one=False)
    assert found and all("Avenue" not in f.address for f in found), [f.address for f in found]


def test_a_corner_typed_without_a_type_still_finds_the_street_that_meets(tmp_path):
    found = fifths(tmp_path).geocode("5th & Mission", exactly_one=False)
    assert [f.address for f in found] == ["5th Street & Mission Street, Gridley"]


def test_a_corner_of_streets_that_never_meet_is_not_one_of_the_streets(tmp_path):
    gazetteer = city(
        tmp_path,
        [
            line("Main St", (40.0, -100.01), (40.0, -99.98), 101, 199, 100, 198),
            line("Elm St", (40.01, -100.01), (40.01, -99.98), 101, 199, 100, 198),  # parallel
        ],
    )
    found = gazetteer.geocode("Main St & Elm St", exactly_one=False)
    assert [f.address for f in found] == [], "no such corner: not 'Main Street'"


def test_a_number_then_a_separator_is_a_corner_not_a_house(tmp_path):
    index, _ = make_index(tmp_path)
    gazetteer = Gazetteer(index, "Gridley")
    for typed in ("5 & Mission", "1 / Oak Ave"):
        found = gazetteer.geocode(typed, exactly_one=False)
        assert found and found[0].raw["gazetteer"] == "intersection", [f.address for f in found]


def test_a_street_alone_is_placed_halfway_along_it_not_at_an_end(tmp_path):
    from bot.gazetteer.geometry import metres

    gazetteer = city(
        tmp_path,
        [
            line("Main St", (40.0, -100.01), (40.0, -99.99), 101, 149, 100, 148),
            line("Main St", (40.0, -99.99), (40.0, -99.98), 151, 199, 150, 198),
        ],
    )
    found = gazetteer.geocode("Main St")  # also what "9999999 Main St" gets
    assert metres((found.latitude, found.longitude), (40.0, -99.995)) < 30, found.point


def test_a_block_between_a_street_that_never_meets_it_is_not_the_street(tmp_path):
    found = fifths(tmp_path).geocode("Mission St between 5th St and 5th Ave", exactly_one=False)
    assert [f.address for f in found] == [], "5th Avenue never meets Mission Street"
