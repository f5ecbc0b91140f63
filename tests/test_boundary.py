"""CITY_BOUNDARY_FILE: the city limits as GeoJSON, read with shapely."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.boundary import BoundaryError, contains, read_boundary
from bot.geocoding import in_city
from bot.settings import Settings

SQUARE = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]
ISLAND = [[[3.0, 3.0], [4.0, 3.0], [4.0, 4.0], [3.0, 4.0], [3.0, 3.0]]]


def settings_with(tmp_path, body: dict, **more) -> Settings:
    path = tmp_path / "limits.geojson"
    path.write_text(json.dumps(body))
    return Settings(_env_file=None, city_boundary_file=str(path), **more)


def test_a_multipolygon_feature_collection_holds_both_parts(tmp_path):
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "MultiPolygon", "coordinates": [SQUARE, ISLAND]},
            },
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [9, 9]},
            },
        ],
    }
    settings = settings_with(tmp_path, body)
    assert contains(0.5, 0.5, settings) and contains(3.5, 3.5, settings)  # lat, lon
    assert not contains(2.0, 2.0, settings)  # between the parts
    assert not in_city(9.0, 9.0, settings)  # a point feature is no area


def test_a_bare_polygon_and_the_box_both_bound(tmp_path):
    settings = settings_with(
        tmp_path, {"type": "Polygon", "coordinates": SQUARE}, city_bounds="0,0,0.5,0.5"
    )
    assert contains(0.25, 0.25, settings)
    assert not contains(0.75, 0.75, settings)  # in the polygon, outside the box
    assert contains(0.0, 0.5, settings)  # on the edge: in


def test_a_file_without_an_area_is_refused_at_start(tmp_path):
    with pytest.raises(ValidationError, match="CITY_BOUNDARY_FILE"):
        settings_with(tmp_path, {"type": "Point", "coordinates": [1, 1]})
    with pytest.raises(ValidationError, match="CITY_BOUNDARY_FILE"):
        Settings(_env_file=None, city_boundary_file=str(tmp_path / "missing.geojson"))
    with pytest.raises(BoundaryError):
        read_boundary("not json")


def test_a_self_crossing_ring_is_mended_not_refused():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    area = read_boundary(json.dumps(bowtie))
    assert area.is_valid and area.area > 0


def test_pelias_needs_its_own_domain():
    with pytest.raises(ValidationError, match="GEOCODER=pelias needs GEOCODER_DOMAIN"):
        Settings(_env_file=None, geocoder="pelias")


BAD_FILES = [
    json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}).encode(),  # ValueError
    json.dumps({"type": "Polygon", "coordinates": [1, 2, 3]}).encode(),  # TypeError
    '{"type":"Polygon","name":"Montr\xe9al","coordinates":[]}'.encode("latin-1"),  # not UTF-8
]


@pytest.mark.parametrize("text", BAD_FILES)
def test_a_boundary_file_gone_bad_after_start_degrades_instead_of_crashing(tmp_path, caplog, text):
    path = tmp_path / "limits.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": SQUARE}))
    settings = Settings(_env_file=None, city_boundary_file=str(path), city_name="Square")
    assert not in_city(2.0, 2.0, settings)  # read once, when it was good
    path.write_bytes(text)  # replaced while the worker runs (a bad export, a wrong file)
    assert in_city(2.0, 2.0, settings) is True  # bounds nothing, as a missing file does
    assert "CITY_BOUNDARY_FILE unreadable" in caplog.text
    assert "Montr" not in caplog.text  # only the error's type is logged


@pytest.mark.parametrize("text", BAD_FILES)
def test_a_bad_boundary_file_is_a_boundary_error_and_refused_at_start(tmp_path, text):
    with pytest.raises(BoundaryError):
        read_boundary(text)
    path = tmp_path / "limits.geojson"
    path.write_bytes(text)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, city_boundary_file=str(path))
