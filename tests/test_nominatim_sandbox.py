"""The sandbox geocoder, driven by real geopy Nominatim and checked for Nominatim's JSON shape."""

from __future__ import annotations

import pytest
from geopy.geocoders import Nominatim

from sandbox.app import create_sandbox_app

MAIN_LAT = 39.8000  # Main Street runs east-west along this latitude
MAIN_WEST, MAIN_EAST = -89.6650, -89.6270


@pytest.fixture
def server(sandbox):
    """The suite's sandbox city (tests/conftest.py), whose geocoder this file drives."""
    return sandbox


@pytest.fixture
def geocoder(server):
    return Nominatim(
        domain=f"127.0.0.1:{server.port}/nominatim",
        scheme="http",
        user_agent="intake311-tests",
        timeout=5,
    )


@pytest.fixture
def web(tmp_path):
    return create_sandbox_app(str(tmp_path / "w.sqlite3")).test_client()


@pytest.mark.parametrize(
    "query", ["120 Main St", "120 main street", "120 MAIN ST., Springfield, IL"]
)
def test_house_on_main_street(geocoder, query):
    found = geocoder.geocode(query)
    assert found is not None
    assert found.latitude == pytest.approx(MAIN_LAT, abs=0.0005)
    assert MAIN_WEST < found.longitude < MAIN_WEST + 0.003  # 120 is at the western end
    assert found.raw["display_name"].startswith("120, Main Street, ")


def test_interpolation_moves_along_the_street(geocoder):
    low = geocoder.geocode("200 Main St")
    high = geocoder.geocode("1800 Main St")
    assert low.longitude < high.longitude < MAIN_EAST


def test_avenue_with_town(geocoder):
    found = geocoder.geocode("45 Oak Ave, Springfield", addressdetails=True)
    assert found.raw["address"]["road"] == "Oak Avenue"
    assert found.raw["address"]["house_number"] == "45"
    assert found.latitude == pytest.approx(39.8036, abs=0.0005)


def test_landmark(geocoder):
    found = geocoder.geocode("city hall")
    assert found.raw["name"] == "City Hall" and found.raw["class"] == "amenity"
    assert found.latitude == pytest.approx(39.8004, abs=0.001)


def test_unknown_address_is_none(geocoder):
    assert geocoder.geocode("742 Nowhere Boulevard") is None
    assert geocoder.geocode("120 Nowhere Street, Springfield") is None


def test_a_wrong_street_type_is_read_loosely(geocoder):
    # The city's own geocoder (bot.gazetteer) behind the sandbox reads "Oak Drive" as the
    # town's one Oak, Oak Avenue; bot.geocoding then reads the house back, not taken as typed.
    found = geocoder.geocode("120 Oak Drive", addressdetails=True)
    assert found.raw["address"]["road"] == "Oak Avenue"


def test_bounded_viewbox(geocoder):
    inside = [(39.79, -89.67), (39.81, -89.66)]
    elsewhere = [(40.10, -88.30), (40.12, -88.20)]
    assert geocoder.geocode("120 Main St", viewbox=inside, bounded=True) is not None
    assert geocoder.geocode("120 Main St", viewbox=elsewhere, bounded=True) is None
    assert geocoder.geocode("120 Main St", viewbox=elsewhere, bounded=False) is not None


def test_country_codes(geocoder):
    assert geocoder.geocode("120 Main St", country_codes="us") is not None
    assert geocoder.geocode("120 Main St", country_codes="de") is None


def test_reverse(geocoder):
    found = geocoder.reverse((39.80005, -89.6450))
    assert found.raw["address"]["road"] == "Main Street"
    assert found.raw["address"]["city"] == "Springfield"
    assert int(found.raw["address"]["house_number"]) == pytest.approx(1053, abs=5)
    assert geocoder.reverse((48.85, 2.35)) is None


def test_json_shape_matches_nominatim(web):
    [place] = web.get("/nominatim/search?q=120+Main+St&format=json").json
    for key in ("place_id", "osm_id", "place_rank"):
        assert isinstance(place[key], int)
    for key in ("lat", "lon", "display_name", "osm_type", "class", "type", "addresstype"):
        assert isinstance(place[key], str)
    assert place["licence"].startswith("Data © OpenStreetMap contributors")
    assert len(place["boundingbox"]) == 4
    assert all(isinstance(v, str) for v in place["boundingbox"])
    south, north, west, east = map(float, place["boundingbox"])
    assert south <= float(place["lat"]) <= north and west <= float(place["lon"]) <= east
    assert "address" not in place and "category" not in place
    [v2] = web.get("/nominatim/search?q=120+Main+St&format=jsonv2&addressdetails=1").json
    assert v2["category"] == "place" and "class" not in v2
    assert v2["address"]["postcode"] == "62701" and v2["address"]["country_code"] == "us"


def test_street_without_number_and_limit(web):
    [street] = web.get("/nominatim/search?q=elm+street&format=json").json
    assert street["class"] == "highway" and street["name"] == "Elm Street"
    assert web.get("/nominatim/search?q=nothing+here&format=json").json == []
    assert web.get("/nominatim/search?q=120+Main+St&format=xml").status_code == 400


def test_street_types_abbreviated_or_spelled_out_are_the_same_place(geocoder):
    for short, long in (
        ("120 Main St.", "120 main street"),
        ("5 Washington Blvd", "5 Washington Boulevard"),
        ("77 Cedar Dr", "77 cedar drive"),
    ):
        assert geocoder.geocode(short).point == geocoder.geocode(long).point


def test_a_corner_is_not_found_as_nominatim_finds_none(web):
    # The gazetteer behind it finds where Main Street meets Cedar Drive; Nominatim, which the
    # sandbox plays, finds no corners, so neither does the sandbox's /search.
    assert web.get("/nominatim/search?q=Main+St+%26+Cedar+Dr&format=json").json == []


def test_a_landmark_found_by_several_of_its_names_is_one_place(web):
    found = web.get("/nominatim/search?q=station&format=json").json
    assert [p["name"] for p in found] == ["Union Station"]


def test_polygon_geojson_gives_a_street_its_ways_as_nominatim_does(web):
    """One way (the one at the street's middle) unless dedupe=0; then every way, each from one
    cross street to the next, together the whole centreline; geojson last, only when asked."""
    ask = "/nominatim/search?q=Main+St&format=jsonv2&polygon_geojson=1&limit=40"
    [one] = web.get(ask).json
    assert list(one)[-1] == "geojson" and one["category"] == "highway"
    assert one["geojson"]["type"] == "LineString"
    [[west, _], [east, _]] = one["geojson"]["coordinates"]
    assert MAIN_WEST < west < float(one["lon"]) < east < MAIN_EAST
    ways = web.get(ask + "&dedupe=0").json
    assert len(ways) == 8 and len({w["osm_id"] for w in ways}) == 8
    ends = sorted(x for w in ways for x, _ in w["geojson"]["coordinates"])
    assert ends[0] == MAIN_WEST and ends[-1] == MAIN_EAST
    assert all(lat == MAIN_LAT for w in ways for _, lat in w["geojson"]["coordinates"])
    [house] = web.get("/nominatim/search?q=120+Main+St&format=json&polygon_geojson=1").json
    point = [float(house["lon"]), float(house["lat"])]
    assert house["geojson"] == {"type": "Point", "coordinates": point}
    assert "geojson" not in web.get("/nominatim/search?q=Main+St&format=json").json[0]
