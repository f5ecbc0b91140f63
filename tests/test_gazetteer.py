"""The city's own address data as a geocoder: houses (points and interpolated), typos,
corners in every typed form, blocks between cross streets, places, reverse, the cache."""

from __future__ import annotations

import pytest

from bot.gazetteer.geocoder import Gazetteer
from bot.gazetteer.geometry import metres
from bot.geocoding import is_exact
from tests.gazetteer_city import CITY, city_script, make_index

grid = city_script()
MISSION, MAIN, ELM, OAK = 0, 1, 2, 3  # the named streets' rows, south to north


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_index(tmp_path_factory.mktemp("gridley"))


@pytest.fixture
def geocoder(built):
    return Gazetteer(built[0])


def corner(j: int, k: int) -> tuple[float, float]:
    """Where the jth named street meets the kth numbered street."""
    return grid.lat_of(j), grid.lon_of(k)


def at(location) -> tuple[float, float]:
    return location.latitude, location.longitude


def test_the_small_city_is_indexed_whole(built):
    _, counts = built
    assert counts.points == 8 * 9 * 10 + 10 * 7 * 10  # blocks x 10 houses, no house dropped
    assert counts.streets == 8 + 10 + 1  # named, numbered, Broadway
    # the grid, and Broadway across it: named streets 1-6 and numbered 2nd-7th
    assert counts.intersections == 8 * 10 + 6 + 6
    assert counts.places == 5 and counts.tally.skipped_total == 0


def test_an_address_point_is_found_where_it_stands(geocoder):
    found = geocoder.geocode("120 Mission St")
    assert found.address == f"120 Mission Street, {CITY}"
    assert found.raw["gazetteer"] == "point"
    assert metres(at(found), grid.house_position("named", MISSION, 120)) < 0.5
    assert found.raw["address"] == {"house_number": "120", "road": "Mission Street", "city": CITY}


def test_a_numbered_street_written_05th_is_typed_5th_or_fifth(geocoder):
    truth = grid.house_position("numbered", 5, 221)
    for typed in ("221 5th St", "221 Fifth Street", "221 05TH ST"):
        found = geocoder.geocode(typed)
        assert found.raw["address"]["road"] == "5th Street"
        assert metres(at(found), truth) < 0.5


@pytest.mark.parametrize("number, north", [(131, True), (130, False), (199, True), (198, False)])
def test_a_missing_house_is_interpolated_on_its_side_of_the_block(geocoder, number, north):
    found = geocoder.geocode(f"{number} Elm Street")
    assert found.raw["gazetteer"] == "interpolated"
    assert found.raw["address"]["house_number"] == str(number)
    assert metres(at(found), grid.house_position("named", ELM, number)) < 5
    assert (found.latitude > grid.lat_of(ELM)) is north  # odd numbers north, even south


def test_units_and_the_city_are_read_past(geocoder):
    found = geocoder.geocode(f"120 Mission Street apt 3, {CITY}, IL 62701")
    assert found.raw["gazetteer"] == "point" and found.raw["address"]["house_number"] == "120"
    assert geocoder.geocode("120 Mission St #4").raw["address"]["house_number"] == "120"


@pytest.mark.parametrize(
    "typed, road",
    [
        ("120 Mian St", "Main Street"),
        ("120 Misson Street", "Mission Street"),
        ("120 Mision st", "Mission Street"),
        ("120 Walnutt St", "Walnut Street"),
    ],
)
def test_a_misspelt_street_is_found(geocoder, typed, road):
    found = geocoder.geocode(typed)
    assert found.raw["gazetteer"] == "point"
    assert found.raw["address"]["road"] == road
    assert not is_exact(found.raw, typed, CITY)  # read back to the resident, not taken


def test_a_misspelt_number_street_is_not_guessed(geocoder):
    found = geocoder.geocode("5th & Mission")
    other = geocoder.geocode("6th & Mission")
    assert metres(at(found), at(other)) > 90  # 5th is never fuzzily 6th


@pytest.mark.parametrize(
    "typed, j, k",
    [
        ("5th & Mission", MISSION, 5),
        ("5th and Mission", MISSION, 5),
        ("Mission St & 5th St", MISSION, 5),
        ("corner of Elm and 3rd", ELM, 3),
        ("at the corner of Oak Ave and 7th", OAK, 7),
        ("Elm St / 7th St", ELM, 7),
        ("Elm St/7th", ELM, 7),
        ("fifth street at mission street", MISSION, 5),
        ("Oak and 2nd intersection", OAK, 2),
    ],
)
def test_a_corner_in_every_typed_form(geocoder, typed, j, k):
    found = geocoder.geocode(typed)
    assert found.raw["gazetteer"] == "intersection"
    assert metres(at(found), corner(j, k)) < 1
    assert "house_number" not in found.raw["address"]


def test_a_corner_reads_back_both_streets(geocoder):
    assert geocoder.geocode("5th & Mission").address == f"5th Street & Mission Street, {CITY}"


def test_streets_that_never_meet_are_not_placed(geocoder):
    assert geocoder.geocode("corner of Elm and Oak") is None  # parallel in the grid


def test_a_crossing_without_a_shared_vertex_is_found(geocoder):
    found = geocoder.geocode("Broadway & Elm")
    assert found.raw["gazetteer"] == "intersection"
    assert abs(found.latitude - grid.lat_of(ELM)) < 1e-6  # on Elm's centreline
    assert grid.lon_of(1) < found.longitude < grid.lon_of(10)


@pytest.mark.parametrize(
    "typed",
    ["Main between 2nd and 3rd", "Main St between 3rd St & 2nd St", "on main btwn 2nd and 3rd"],
)
def test_a_block_between_two_cross_streets_is_its_middle(geocoder, typed):
    found = geocoder.geocode(typed)
    assert found.raw["gazetteer"] == "block"
    middle = (grid.lat_of(MAIN), (grid.lon_of(2) + grid.lon_of(3)) / 2)
    assert metres(at(found), middle) < 1
    assert found.address.startswith("Main Street between")


@pytest.mark.parametrize(
    "typed, name",
    [
        ("the library", "Central Library"),
        ("outside the library", "Central Library"),
        ("Central Library", "Central Library"),
        ("Lincoln Park", "Lincoln Park"),
        ("lincoln prak", "Lincoln Park"),
        ("city hall", "City Hall"),
        ("the hospital", "Gridley General Hospital"),
    ],
)
def test_a_landmark_resolves(geocoder, typed, name):
    found = geocoder.geocode(typed)
    assert found.raw["gazetteer"] == "place" and found.raw["name"] == name
    assert found.address == f"{name}, {CITY}"


def test_the_park_is_where_the_data_puts_it(geocoder, built):
    park = geocoder.geocode("Lincoln Park")
    middle = (grid.lat_of(4) + grid.lat_of(5)) / 2, (grid.lon_of(5) + grid.lon_of(6)) / 2
    assert metres(at(park), middle) < 1


def test_a_street_without_that_house_number_gives_the_street_not_a_house(geocoder):
    found = geocoder.geocode("9999 Main St")
    assert found.raw["gazetteer"] == "street"
    assert found.address == f"Main Street, {CITY}"
    assert "house_number" not in found.raw["address"]
    assert abs(found.latitude - grid.lat_of(MAIN)) < 0.0002  # on Main
    assert not is_exact(found.raw, "9999 Main St", CITY)


def test_nothing_is_made_up_for_an_unknown_street(geocoder):
    assert geocoder.geocode("999 Nowhere Blvd") is None
    assert geocoder.geocode("") is None
    assert geocoder.geocode("!!!") is None


def test_several_candidates_with_a_limit(geocoder):
    found = geocoder.geocode("Mission", exactly_one=False, limit=3)
    assert [f.raw["address"]["road"] for f in found] == ["Mission Street"]
    assert geocoder.geocode("Zzz", exactly_one=False) == []


def test_reverse_reads_the_nearest_house(geocoder):
    house = grid.house_position("named", ELM, 141)
    found = geocoder.reverse((house[0] + 0.00002, house[1] + 0.00002))
    assert found.address == f"141 Elm Street, {CITY}"
    assert found.raw["gazetteer"] == "point"


def test_reverse_far_from_every_street_is_none(geocoder):
    assert geocoder.reverse((41.5, -89.0)) is None
    assert geocoder.reverse("0, 0", exactly_one=False) == []


def test_results_are_cached(geocoder):
    first = geocoder.geocode("5th & Mission")
    hits = geocoder.cache.hits
    again = geocoder.geocode("5th  &  MISSION")
    assert geocoder.cache.hits == hits + 1
    assert again.raw == first.raw


def test_a_bounded_viewbox_keeps_only_places_inside(geocoder):
    inside = ((40.6, -89.7), (40.8, -89.5))
    elsewhere = ((10.0, 10.0), (11.0, 11.0))
    assert geocoder.geocode("120 Mission St", viewbox=inside, bounded=True) is not None
    assert geocoder.geocode("120 Mission St", viewbox=elsewhere, bounded=True) is None
    assert geocoder.geocode("120 Mission St", viewbox=elsewhere, bounded=False) is not None


@pytest.mark.parametrize(
    "typed",
    [
        "1 " * 500,
        "between and and between and",
        "& & & / / @",
        "corner of",
        "99999999999 Main St",
        "0 Main St",
        "Main between Main and Main",
        "🕳️ pothole near 5th & Mission!!",
        "a" * 5000,
        "\x00\x01 Elm",
        "5th & Mission & Elm",
        "st st st st",
    ],
)
def test_hostile_text_finds_something_or_nothing_never_raises(geocoder, typed):
    found = geocoder.geocode(typed, exactly_one=False, limit=3)
    assert isinstance(found, list) and len(found) <= 3
    assert all(-90 <= f.latitude <= 90 and f.raw["display_name"] for f in found)


def test_a_broken_index_raises_geopys_errors_only(tmp_path):
    from geopy.exc import GeocoderUnavailable

    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(GeocoderUnavailable):
        Gazetteer(broken).geocode("120 Mission St")
    with pytest.raises(GeocoderUnavailable):
        Gazetteer(broken).reverse((40.7, -89.6))


@pytest.mark.parametrize(
    "typed, road",
    [
        ("120 Mission St by the bus stop", "Mission Street"),
        ("5th St & Mission St near the cafe", None),
    ],
)
def test_words_after_the_street_are_read_past(geocoder, typed, road):
    found = geocoder.geocode(typed)
    if road:
        assert found.raw["gazetteer"] == "point" and found.raw["address"]["road"] == road
    else:
        assert found.raw["gazetteer"] == "intersection"
        assert metres(at(found), corner(MISSION, 5)) < 1
