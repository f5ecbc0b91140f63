"""Corners and blocks typed by residents through a Nominatim-family provider (GEOCODER=nominatim):
through real geopy against the sandbox's Nominatim-compatible geocoder, whose streets are the
demo town's (sandbox/demo_town.json: straight east-west and north-south centrelines), and the
crossing maths on results shaped like real Nominatim's."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.gazetteer.geometry import metres
from bot.geocode_corners import block_middles, meetings
from bot.geocoding import lookup
from bot.settings import Settings
from sandbox.town import DEMO_TOWN

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "tests" / "evaluation" / "springfield_limits.geojson"


def street_line(name: str) -> list[list[float]]:
    """A demo town street's centreline, (lon, lat) pairs, from its data file."""
    town = json.loads(DEMO_TOWN.read_text(encoding="utf-8"))
    [line] = [
        f["geometry"]["coordinates"]
        for f in town["features"]
        if f["geometry"]["type"] == "LineString" and f["properties"]["street_name"] == name
    ]
    return line


def crossing(east_west: str, north_south: str) -> tuple[float, float]:
    """Where a demo town east-west street meets a north-south one: (lat, lon)."""
    return street_line(east_west)[0][1], street_line(north_south)[0][0]


@pytest.fixture
def settings(sandbox):
    return Settings(
        geocoder="nominatim",
        geocoder_domain=f"127.0.0.1:{sandbox.port}/nominatim",
        geocoder_scheme="http",
        geocoder_timeout=3,
        city_name="Springfield",
    )


@pytest.mark.parametrize(
    "typed, name, truth",
    [
        ("Main St & Cedar Dr", "Main Street & Cedar Drive", crossing("Main Street", "Cedar Drive")),
        (
            "corner of Oak Avenue and Walnut Street",
            "Oak Avenue & Walnut Street",
            crossing("Oak Avenue", "Walnut Street"),
        ),
        ("Elm/Spruce", "Elm Street & Spruce Lane", crossing("Elm Street", "Spruce Lane")),
    ],
)
def test_a_corner_is_where_the_two_streets_cross(settings, typed, name, truth):
    result = lookup(typed, settings)
    assert not result.failed and result.outside == ()
    [place] = result.places
    assert place.address == f"{name}, Springfield"
    assert not place.exact  # read back to the resident
    assert metres((place.lat, place.lon), truth) < 20


def test_a_block_is_the_middle_of_the_street_between_its_two_crossings(settings):
    [place] = lookup("Main between Cedar and Walnut", settings).places
    one, two = crossing("Main Street", "Cedar Drive"), crossing("Main Street", "Walnut Street")
    assert place.address == "Main Street between Cedar Drive and Walnut Street, Springfield"
    assert metres((place.lat, place.lon), ((one[0] + two[0]) / 2, (one[1] + two[1]) / 2)) < 20


def test_parallel_streets_meet_nowhere(settings):
    result = lookup("Main & Oak", settings)
    assert result.places == () and result.outside == () and not result.failed


def test_an_unknown_street_finds_nothing(settings):
    for typed in ("Main & Zebulon", "Zebulon Pkwy & Cedar Dr"):
        result = lookup(typed, settings)
        assert result.places == () and result.outside == () and not result.failed


def test_a_corner_outside_the_city_limits_is_refused_as_outside(settings):
    limited = settings.model_copy(update={"city_boundary_file": str(LIMITS)})
    # The north-east corner of the demo town, beyond Center Street and Maple Avenue, is not
    # the city's (tests/evaluation/springfield_limits.geojson).
    result = lookup("Lincoln Rd & Lakeshore Dr", limited)
    assert result.places == ()
    [place] = result.outside
    assert place.address == "Lincoln Road & Lakeshore Drive, Springfield"
    assert lookup("Main St & Lakeshore Dr", limited).places  # inside its limits


def test_an_unreachable_provider_fails_a_corner():
    dead = Settings(geocoder_domain="127.0.0.1:9", geocoder_scheme="http", geocoder_timeout=1)
    result = lookup("Main St & Cedar Dr", dead)
    assert result.failed and result.places == ()


class _StreetsFail(BaseHTTPRequestHandler):
    """A provider whose search answers, but fails every look-up of a street's geometry."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  http.server's name
        self.asked.append(self.path)
        failing = "polygon_geojson=1" in self.path
        body = b'{"error": "busy"}' if failing else b"[]"
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_provider_failing_on_the_streets_fails_the_corner():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StreetsFail)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(
            geocoder_domain=f"127.0.0.1:{server.server_port}",
            geocoder_scheme="http",
            geocoder_timeout=2,
        )
        assert lookup("Main St & Cedar Dr", settings).failed
        # The street asked for every one of its ways, not Nominatim's one per street.
        [street] = [path for path in _StreetsFail.asked if "polygon_geojson=1" in path]
        assert "q=Main+St&" in street and "dedupe=0" in street
        assert not lookup("120 Main St", settings).failed  # no corner: only not found
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bounds", ["", "39.7,-89.8,39.9,-89.5"])
def test_a_street_is_asked_in_the_city_unless_its_box_bounds_the_search(bounds):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StreetsFail)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _StreetsFail.asked = []
    try:
        settings = Settings(
            geocoder_domain=f"127.0.0.1:{server.server_port}",
            geocoder_scheme="http",
            geocoder_timeout=2,
            city_name="Springfield",
            city_bounds=bounds,
        )
        lookup("Main St & Cedar Dr", settings)
        [street] = [path for path in _StreetsFail.asked if "polygon_geojson=1" in path]
        # Without a box a "Main St" anywhere in the world could be offered: the city is named.
        assert ("q=Main+St%2C+Springfield&" in street) == (not bounds)
    finally:
        server.shutdown()
        server.server_close()


# The maths on answers shaped like real Nominatim's (jsonv2, polygon_geojson=1, one result per
# way of a street; see tests/fixtures/geocoders/SOURCES.md), near 45°N.


def way(name: str, *points: tuple[float, float], city: str = "Lyon") -> dict:
    """One way of a street as a Nominatim jsonv2 result: its centreline through (lat, lon)."""
    return {
        "place_id": 1,
        "osm_type": "way",
        "osm_id": 1,
        "lat": str(points[0][0]),
        "lon": str(points[0][1]),
        "category": "highway",
        "type": "residential",
        "place_rank": 26,
        "addresstype": "road",
        "name": name,
        "display_name": f"{name}, {city}, France",
        "address": {"road": name, "city": city, "country": "France"},
        "geojson": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]},
    }


A_EAST_WEST = [  # Rue A along 45°N in two ways sharing a node
    way("Rue A", (45.0, 0.0), (45.0, 0.001)),
    way("Rue A", (45.0, 0.001), (45.0, 0.002)),
]


def test_two_ways_crossing_meet_once_where_they_cross():
    b = [way("Rue B", (44.999, 0.0015), (45.001, 0.0015))]
    [met] = meetings(A_EAST_WEST, b)
    assert met.name == "Rue A & Rue B" and met.city == "Lyon"
    assert metres((met.lat, met.lon), (45.0, 0.0015)) < 0.5


def test_a_cross_street_through_a_shared_node_is_one_corner():
    b = [way("Rue B", (44.999, 0.001), (45.0, 0.001)), way("Rue B", (45.0, 0.001), (45.001, 0.001))]
    [met] = meetings(A_EAST_WEST, b)
    assert metres((met.lat, met.lon), (45.0, 0.001)) < 0.5


def test_a_street_stopping_a_few_metres_short_meets_at_the_gap():
    # Rue C runs north from 45.00004°N: it stops about 4.5 m short of Rue A.
    c = [way("Rue C", (45.00004, 0.0005), (45.001, 0.0005))]
    [met] = meetings(A_EAST_WEST, c)
    assert met.name == "Rue A & Rue C"
    assert metres((met.lat, met.lon), (45.00002, 0.0005)) < 1
    far = [way("Rue D", (45.0003, 0.0005), (45.001, 0.0005))]  # about 33 m short
    assert meetings(A_EAST_WEST, far) == []


def test_streets_meeting_twice_and_same_named_streets_give_several_corners():
    loop = [way("Rue B", (44.999, 0.0002), (45.001, 0.0002), (45.001, 0.0018), (44.999, 0.0018))]
    assert len(meetings(A_EAST_WEST, loop)) == 2
    twins = [  # two streets of one name, in two parts of the city
        way("Rue B", (44.999, 0.0002), (45.001, 0.0002)),
        {**way("Rue B", (44.999, 0.0018), (45.001, 0.0018)), "type": "tertiary"},
    ]
    found = sorted(meetings(A_EAST_WEST, twins), key=lambda m: m.lon)
    assert [round(m.lon, 4) for m in found] == [0.0002, 0.0018]


def test_only_streets_count():
    park = {
        **way("Rue B", (44.999, 0.0015), (45.001, 0.0015)),
        "category": "leisure",
        "type": "park",
    }
    point = {**way("Rue B", (45.0, 0.0015)), "geojson": {"type": "Point", "coordinates": [0, 45]}}
    assert meetings(A_EAST_WEST, [park, point]) == []
    parallel = [way("Rue P", (45.0003, 0.0), (45.0003, 0.002))]  # 33 m north, never meeting
    assert meetings(A_EAST_WEST, parallel) == []


def test_a_block_is_halfway_along_the_street_between_the_closest_crossings():
    along = [
        way("Rue A", (45.0, 0.0), (45.0, 0.001)),
        way("Rue A", (45.0, 0.001), (45.0005, 0.002)),  # bends north-east after its node
    ]
    first = [way("Rue B", (44.999, 0.0002), (45.001, 0.0002))]
    second = [way("Rue C", (44.999, 0.0013), (45.001, 0.0013))]
    [middle] = block_middles(along, first, second)
    assert middle.name == "Rue A between Rue B and Rue C"
    # Rue B crosses at 0.0002°E; Rue C at 0.0013°E, on the bend (45.00015°N): halfway along.
    start, bend, end = (45.0, 0.0002), (45.0, 0.001), (45.00015, 0.0013)
    half = (metres(start, bend) + metres(bend, end)) / 2
    assert metres(start, bend) > half  # so the middle is on the first way
    expected = (45.0, 0.0002 + (0.001 - 0.0002) * half / metres(start, bend))
    assert metres((middle.lat, middle.lon), expected) < 1


# The whole conversation: a corner texted by SMS, looked up by the worker through the sandbox's
# Nominatim (the env fixture's GEOCODER=nominatim), read back and filed at the crossing.


@pytest.mark.sqlite_only
def test_a_corner_texted_is_filed_at_the_crossing_through_nominatim(env, twilio_api):
    from tests.test_end_to_end import Phone
    from tests.test_locations_end_to_end import file_at
    from webhooks import create_app

    phone = Phone(create_app({"TESTING": True}).test_client(), twilio_api)
    read_back, report = file_at(phone, "corner of Oak and Walnut")
    assert read_back.startswith("I found: Oak Avenue & Walnut Street")
    truth = crossing("Oak Avenue", "Walnut Street")
    assert metres((report.lat, report.lon), truth) < 20
