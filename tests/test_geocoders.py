"""GEOCODER=photon|pelias|arcgis: geopy's real classes against local servers speaking each
provider's API (tests/fakes/geocoder_apis.py), their results read into places."""

from __future__ import annotations

import json

import pytest
from geopy.location import Location

from bot import geocoders
from bot.geocoding import lookup, reverse
from bot.settings import Settings
from sandbox.server import serve
from tests.fakes.geocoder_apis import (
    create_arcgis_app,
    create_pelias_app,
    create_photon_app,
    reset,
)

TOWN = "39.78,-89.67,39.82,-89.62"  # the demo town's box (sandbox/demo_town.json)


@pytest.fixture(scope="module")
def photon_server():
    server = serve(create_photon_app())
    yield server
    server.stop()


@pytest.fixture
def photon(photon_server):
    app = photon_server._server.app
    reset(app)
    return app


def _settings(service: str, port: int, **more) -> Settings:
    return Settings(
        _env_file=None,
        geocoder=service,
        geocoder_domain=f"127.0.0.1:{port}",
        geocoder_scheme="http",
        geocoder_timeout=2,
        city_name="Springfield",
        **more,
    )


@pytest.fixture
def photon_settings(photon_server, photon):
    return _settings("photon", photon_server.port)


# --- Photon -------------------------------------------------------------------------------


def test_photon_house_is_read_as_an_exact_address(photon_settings, photon):
    found = lookup("120 Main Street", photon_settings)
    assert not found.failed
    first = found.places[0]
    assert first.address == "120 Main Street, Springfield"
    assert (round(first.lat, 4), round(first.lon, 4)) == (39.8, -89.6627)
    assert first.exact
    assert photon.config["CALLS"][0]["params"]["limit"] == ["3"]


def test_photon_bbox_keeps_the_other_springfield_out(photon_server, photon):
    settings = _settings("photon", photon_server.port, city_bounds=TOWN)
    found = lookup("120 Main Street", settings)
    assert [p.address for p in found.places] == ["120 Main Street, Springfield"]
    assert found.outside == ()
    assert photon.config["CALLS"][0]["params"]["bbox"] == ["-89.67,39.78,-89.62,39.82"]


def test_photon_street_and_landmark(photon_settings):
    street = lookup("Main Street", photon_settings).places[0]
    assert (street.address, street.exact) == ("Main Street, Springfield", False)
    hall = lookup("City Hall", photon_settings).places[0]  # a named house: its address
    assert hall.address == "1290 Main Street, Springfield"
    assert (hall.lat, hall.lon) == (39.8004, -89.641)


def test_photon_place_outside_the_box_is_found_outside(photon_server, photon):
    settings = _settings("photon", photon_server.port, city_bounds=TOWN)
    found = lookup("742 Evergreen Terrace Shelbyville", settings)
    assert found.places == () and not found.failed
    assert [p.address for p in found.outside] == ["742 Evergreen Terrace, Shelbyville"]
    assert len(photon.config["CALLS"]) == 2  # bounded, then once without the box
    assert "bbox" not in photon.config["CALLS"][1]["params"]


def test_photon_place_outside_the_polygon_is_outside(photon_server, tmp_path):
    east_half = {
        "type": "Feature",
        "properties": {"name": "Springfield east"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [-89.645, 39.78],
                    [-89.62, 39.78],
                    [-89.62, 39.82],
                    [-89.645, 39.82],
                    [-89.645, 39.78],
                ]
            ],
        },
    }
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(east_half))
    settings = _settings("photon", photon_server.port, city_boundary_file=str(path))
    west = lookup("120 Main Street", settings)  # lon -89.6627: west of the line
    assert west.places == ()
    assert "120 Main Street, Springfield" in [p.address for p in west.outside]
    hall = lookup("City Hall", settings)  # lon -89.641: east of it
    assert [p.address for p in hall.places] == ["1290 Main Street, Springfield"]


def test_photon_reverse_reads_a_pin_as_an_address(photon_settings, photon):
    assert reverse(39.80004, -89.66272, photon_settings) == "120 Main Street, Springfield"
    assert photon.config["CALLS"][-1]["path"] == "/reverse"
    assert reverse(10.0, 10.0, photon_settings) == ""


def test_photon_error_is_a_failed_lookup_tried_once(photon_settings, photon):
    photon.config["FAIL_NEXT"] = [502, 502, 502]
    found = lookup("120 Main Street", photon_settings)
    assert found.failed and found.places == ()
    assert len(photon.config["CALLS"]) == 1  # no retry


def test_photon_timeout_is_a_failed_lookup(photon_server, photon):
    settings = _settings("photon", photon_server.port).model_copy(update={"geocoder_timeout": 0.3})
    photon.config["DELAY"] = 1.0
    found = lookup("120 Main Street", settings)
    assert found.failed
    assert len(photon.config["CALLS"]) == 1


# --- Pelias and ArcGIS --------------------------------------------------------------------


@pytest.fixture(scope="module")
def pelias_server():
    server = serve(create_pelias_app())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def arcgis_server():
    server = serve(create_arcgis_app())
    yield server
    server.stop()


def test_pelias_address_and_venue_with_its_key(pelias_server):
    app = pelias_server._server.app
    reset(app)
    app.config["API_KEY"] = "ge-test-key-123456"
    settings = _settings("pelias", pelias_server.port, geocoder_api_key="ge-test-key-123456")
    house = lookup("120 Main Street", settings).places[0]
    assert (house.address, house.exact) == ("120 Main Street, Springfield", True)
    venue = lookup("Union Station", settings).places[0]
    assert (venue.address, venue.exact) == ("Union Station, Springfield", False)
    assert app.config["CALLS"][0]["params"]["api_key"] == ["ge-test-key-123456"]
    keyless = _settings("pelias", pelias_server.port)
    assert lookup("120 Main Street", keyless).failed  # 401 without it


def test_geocode_earth_is_read_as_pelias():
    assert geocoders.family("geocodeearth") == "pelias"
    assert geocoders.family("openmapquest") == "nominatim"
    assert geocoders.family("photon") == "photon"


def test_arcgis_candidates_read_from_their_attributes(arcgis_server):
    app = arcgis_server._server.app
    reset(app)
    settings = _settings("arcgis", arcgis_server.port)
    found = lookup("120 Main Street", settings)
    assert [(p.address, p.exact) for p in found.places] == [
        ("120 Main St, Springfield", True),
        ("Main St, Springfield", False),
    ]
    assert "AddNum" in app.config["CALLS"][0]["params"]["outFields"][0]
    hall = lookup("City Hall", settings).places[0]
    assert hall.address == "City Hall, Springfield"
    assert reverse(39.800042, -89.662743, settings) == "120 Main St, Springfield"
    assert reverse(39.9, -89.5, settings) == ""


def test_another_geopy_service_is_read_by_its_address_line():
    location = Location("5 Somewhere Rd, Elsewhere", (1.0, 2.0), {"whatever": {}})
    shaped = geocoders.nominatim_shaped("opencage", location)
    assert shaped["address"] == {} and shaped["display_name"] == "5 Somewhere Rd, Elsewhere"
    assert (shaped["lat"], shaped["lon"]) == (1.0, 2.0)


def test_the_api_key_is_secret():
    settings = Settings(_env_file=None, geocoder_api_key="very-secret-key-42")
    assert "very-secret-key-42" not in repr(settings)
    from bot.logs import secret_values

    assert "very-secret-key-42" in secret_values(settings)
