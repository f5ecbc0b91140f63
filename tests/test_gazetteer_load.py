"""Loading a city's files into the gazetteer index: CSV and GeoJSON in common open-data
shapes, columns named by the city, malformed rows skipped and counted, the loader command,
and the sandbox's demo town as one data file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main as cli
from bot.gazetteer.build import build
from bot.gazetteer.geocoder import Gazetteer
from bot.gazetteer.geometry import metres
from sandbox.town import DEMO_TOWN, read_town

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


def feature(geometry: dict | None, **props) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def line(*points: tuple[float, float]) -> dict:
    return {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]}


# A NENA-style CSV: directions and types in columns of their own, a unit, a place name.
NENA_CSV = """
Add_Number,AddNum_Suf,St_PreDir,St_Name,St_PosTyp,Unit,Latitude,Longitude,Place_Name
120,,W,MAIN,ST,,40.0001,-90.0010,
120,,E,MAIN,ST,,40.0001,-89.9990,
120,,W,MAIN,ST,3,40.0001,-90.0010,
122,A,W,MAIN,ST,,40.0001,-90.0012,
9,,,OAK,AVE,,40.0010,-90.0000,
11B,,,OAK,AVE,,40.0010,-90.0002,
,,,,,,40.0005,-90.0005,Town Library
"""


def test_a_csv_with_directions_in_their_own_columns(tmp_path):
    index = tmp_path / "index.sqlite3"
    built = build([write(tmp_path / "points.csv", NENA_CSV)], index, "Plainsville")
    assert (built.points, built.units_folded, built.places, built.streets) == (5, 1, 1, 3)
    geocoder = Gazetteer(index)
    west = geocoder.geocode("120 W Main Street apt 3")
    east = geocoder.geocode("120 East Main St")
    assert west.raw["address"]["road"] == "West Main Street" and west.longitude == -90.0010
    assert east.raw["address"]["road"] == "East Main Street" and east.longitude == -89.9990
    assert geocoder.geocode("122A W Main St").raw["address"]["house_number"] == "122A"
    assert geocoder.geocode("the town library").address == "Town Library, Plainsville"
    assert geocoder.geocode("11B Oak Ave").raw["address"]["house_number"] == "11B"


def test_a_place_is_found_by_its_other_names_and_answers_with_its_own(tmp_path):
    text = """
name,alt_name,latitude,longitude
Riverside Memorial Hospital,General Hospital; the ER|Riverside,40.001,-90.001
Riverside Park,,40.002,-90.002
"""
    index = tmp_path / "i.sqlite3"
    built = build([write(tmp_path / "places.csv", text)], index, "Plainsville")
    assert built.places == 2
    geocoder = Gazetteer(index)
    for typed in ("general hospital", "the ER", "Riverside Memorial Hospital"):
        found = geocoder.geocode(typed, exactly_one=False)
        assert [f.address for f in found] == ["Riverside Memorial Hospital, Plainsville"], typed
    # "hospital" is in two of its names: one place. "Riverside" is one of them whole.
    assert len(geocoder.geocode("hospital", exactly_one=False)) == 1
    assert geocoder.geocode("riverside").raw["name"] == "Riverside Memorial Hospital"
    assert geocoder.geocode("riverside park").raw["name"] == "Riverside Park"
    station = {"type": "Point", "coordinates": [-90.003, 40.003]}  # its names as a GeoJSON list
    town = {
        "type": "FeatureCollection",
        "features": [feature(station, name="Union Station", aliases=["train station"])],
    }
    build([write(tmp_path / "p.geojson", json.dumps(town))], index, "Plainsville")
    assert Gazetteer(index).geocode("the train station").raw["name"] == "Union Station"


def test_x_y_and_socrata_point_columns(tmp_path):
    text = """
HOUSE,STREET,X,Y,Location
5,Elm St,-90.5,40.5,
7,Elm St,,,POINT (-90.4 40.6)
9,Elm St,,,"(40.7, -90.3)"
11,Elm St,1500000,600000,
"""
    built = build(
        [write(tmp_path / "xy.csv", text)], tmp_path / "i.sqlite3", columns={"number": "HOUSE"}
    )
    assert built.points == 3
    assert dict(built.tally.skipped) == {"no coordinates on the globe": 1}  # state plane feet
    found = Gazetteer(tmp_path / "i.sqlite3").geocode("7 Elm St")
    assert (found.latitude, found.longitude) == (40.6, -90.4)


def test_malformed_rows_are_skipped_and_counted_never_a_crash(tmp_path):
    text = (
        "address_number,street_name,street_type,latitude,longitude\n"
        "10,PINE,ST,40.0,-90.0\n"
        ",PINE,ST,40.0,-90.0\n"  # no number
        "abc,PINE,ST,40.0,-90.0\n"  # not a number
        "12,,ST,40.0,-90.0\n"  # no street
        "14,PINE,ST,north,-90.0\n"  # not a coordinate
        "16,PINE,ST,95.0,-90.0\n"  # off the globe
        "18,PINE,ST,nan,inf\n"
        "20,PINE\n"  # short row
        '22,"PINE,ST,40.0,-90.0\n'  # an unclosed quote swallows the rest
    )
    built = build([write(tmp_path / "bad.csv", text)], tmp_path / "i.sqlite3")
    assert built.points == 1
    assert built.tally.read == 9 and built.tally.skipped_total == 8
    assert built.tally.skipped["no coordinates on the globe"] == 5
    assert built.tally.skipped["no house number"] == 2
    assert built.tally.skipped["no street name"] == 1


def test_a_geojson_of_points_lines_and_places(tmp_path):
    data = {
        "type": "FeatureCollection",
        "features": [
            feature(
                {"type": "Point", "coordinates": [-90.0, 40.0]},
                ADDRESS_NUMBER="100",
                STREET_NAME="Birch Rd",
            ),
            feature(
                {"type": "Point", "coordinates": [-90.001, 40.001]},
                NAME="Riverside Park",
                CLASS="park",
            ),
            feature(
                line((40.0, -90.01), (40.0, -90.0), (40.0, -89.99)),
                FULLNAME="Birch Rd",
                LF_ADDR=1,
                LT_ADDR=199,
                RF_ADDR=2,
                RT_ADDR=198,
            ),
            feature(
                {
                    "type": "MultiLineString",
                    "coordinates": [
                        [[-90.005, 39.99], [-90.005, 40.0]],
                        [[-90.005, 40.0], [-90.005, 40.01]],
                    ],
                },
                STREETNAME="Ash Dr",
                FROMADDR=1,
                TOADDR=99,
            ),
            feature(None, NAME="nowhere"),
            feature(
                {"type": "Polygon", "coordinates": [[[-90, 40], [-90, 41], [-89, 41], [-90, 40]]]},
                NAME="a park",
            ),
            feature(
                {"type": "Point", "coordinates": [-90.0]},
                ADDRESS_NUMBER="1",
                STREET_NAME="Birch Rd",
            ),
            feature({"type": "Point", "coordinates": [-90.0, 40.0]}, ADDRESS_NUMBER="1"),
            "not a feature",
        ],
    }
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(data))
    built = build([path], tmp_path / "i.sqlite3", "Ashton")
    assert (built.points, built.segments, built.places, built.intersections) == (1, 3, 1, 1)
    assert built.tally.read == 9 and built.tally.skipped_total == 5
    geocoder = Gazetteer(tmp_path / "i.sqlite3")
    corner = geocoder.geocode("Birch and Ash")
    assert (corner.latitude, corner.longitude) == (40.0, -90.005)  # crossing, no shared vertex
    assert geocoder.geocode("Riverside Park").raw["type"] == "park"
    middle = geocoder.geocode("50 Ash Dr")  # FROMADDR/TOADDR: one range for both sides
    assert middle.raw["gazetteer"] == "interpolated"
    assert metres((middle.latitude, middle.longitude), (40.0, -90.005)) < 10


def test_parity_decides_the_side_and_the_range_bounds_it(tmp_path):
    """Left (north) 101-149 odd, right (south) 100-198 even: 161 is on no side of this block."""
    data = {
        "type": "FeatureCollection",
        "features": [
            feature(
                line((40.0, -90.0), (40.0, -89.99)),
                street="Cherry St",
                l_f_add=101,
                l_t_add=149,
                r_f_add=100,
                r_t_add=198,
            )
        ],
    }
    (tmp_path / "c.geojson").write_text(json.dumps(data))
    build([tmp_path / "c.geojson"], tmp_path / "i.sqlite3")
    geocoder = Gazetteer(tmp_path / "i.sqlite3")
    odd, even = geocoder.geocode("125 Cherry St"), geocoder.geocode("160 Cherry St")
    assert odd.raw["gazetteer"] == even.raw["gazetteer"] == "interpolated"
    assert odd.latitude > 40.0 > even.latitude
    assert metres((odd.latitude, odd.longitude), (40.0, -90.0 + 0.01 * 24 / 48)) < 10
    assert geocoder.geocode("161 Cherry St").raw["gazetteer"] == "street"
    assert geocoder.geocode("201 Cherry St").raw["gazetteer"] == "street"
    # a pin on the street, no house near: the interpolated number of its side
    north = geocoder.reverse((40.00005, -89.995))
    south = geocoder.reverse((39.99995, -89.995))
    assert north.raw["address"] == {"house_number": "125", "road": "Cherry Street"}
    assert int(south.raw["address"]["house_number"]) % 2 == 0
    assert abs(int(south.raw["address"]["house_number"]) - 149) <= 2


def test_a_csv_of_centrelines_in_wkt(tmp_path):
    text = """
cnn,streetname,lf_fadd,lf_toadd,rt_fadd,rt_toadd,line
1,MISSION ST,1,99,2,98,"LINESTRING (-90.0 40.0, -89.99 40.0)"
2,05TH ST,1,99,2,98,"LINESTRING (-89.995 39.995, -89.995 40.0, -89.995 40.005)"
3,BROKEN ST,1,99,2,98,"LINESTRING (-89.995 abc)"
"""
    built = build([write(tmp_path / "lines.csv", text)], tmp_path / "i.sqlite3")
    assert (built.segments, built.intersections) == (2, 1)
    assert built.tally.skipped_total == 1
    found = Gazetteer(tmp_path / "i.sqlite3").geocode("5th and Mission")
    assert (found.latitude, found.longitude) == (40.0, -89.995)


def test_a_file_that_is_not_geojson_is_refused_by_the_command(tmp_path):
    bad = write(tmp_path / "bad.geojson", "{not json")
    result = CliRunner().invoke(
        cli, ["gazetteer", "load", str(bad), "--out", str(tmp_path / "i.sqlite3")]
    )
    assert result.exit_code == 1 and "not JSON" in result.output
    assert not (tmp_path / "i.sqlite3").exists()


def test_the_load_and_lookup_commands(tmp_path, monkeypatch):
    points = write(tmp_path / "points.csv", NENA_CSV)
    index = tmp_path / "gazetteer.sqlite3"
    monkeypatch.setenv("GAZETTEER_FILE", str(index))
    from bot.settings import get_settings

    get_settings.cache_clear()
    try:
        loaded = CliRunner().invoke(
            cli, ["gazetteer", "load", str(points), "--city", "Plainsville"]
        )
        assert loaded.exit_code == 0, loaded.output
        assert (
            "5 address points (1 unit rows folded), 3 streets, 0 segments, 0 intersections, "
            "1 places" in loaded.output
        )
        assert "7 rows read, 0 skipped" in loaded.output and "built in" in loaded.output
        found = CliRunner().invoke(cli, ["gazetteer", "lookup", "120", "E", "Main", "St"])
        assert "120 East Main Street, Plainsville  (40.000100, -89.999000; point)" in found.output
        back = CliRunner().invoke(cli, ["gazetteer", "lookup", "--reverse", "40.0001,-90.0010"])
        assert "120 West Main Street, Plainsville" in back.output
        wrong = CliRunner().invoke(cli, ["gazetteer", "load", str(points), "--column", "number"])
        assert wrong.exit_code == 2 and "FIELD=COLUMN" in wrong.output
        unknown = CliRunner().invoke(
            cli, ["gazetteer", "load", str(points), "--column", "number=NOPE"]
        )
        assert unknown.exit_code == 1 and "no column 'NOPE'" in unknown.output
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def demo_town(tmp_path_factory):
    folder = tmp_path_factory.mktemp("springfield")
    built = build([DEMO_TOWN], folder / "i.sqlite3", "Springfield")
    return Gazetteer(folder / "i.sqlite3"), read_town(DEMO_TOWN), built


@pytest.mark.parametrize(
    "typed, street, number",
    [
        ("120 Main St", "main street", 120),
        ("1501 Oak Avenue", "oak avenue", 1501),
        ("77 Cedar Drive", "cedar drive", 77),
    ],
)
def test_the_sandbox_demo_town_as_one_data_file(demo_town, typed, street, number):
    geocoder, town, built = demo_town
    assert built.tally.skipped_total == 0 and built.segments == len(town.streets)
    ours = geocoder.geocode(typed)
    line = town.streets[street]
    (lon0, lat0), (lon1, lat1) = line["line"]
    t = (number - 1) / (1999 - 1)  # each street numbered 1 to 1999 from its first point
    spot = (lat0 + t * (lat1 - lat0), lon0 + t * (lon1 - lon0))
    assert ours.raw["address"]["road"] == line["street_name"]
    assert metres((ours.latitude, ours.longitude), spot) < 10  # on its side of the street


def test_the_demo_towns_corners_and_landmarks(demo_town):
    geocoder, _, built = demo_town
    assert built.intersections > 0  # its streets cross without sharing a vertex
    corner = geocoder.geocode("Oak Ave & Cedar Dr")
    assert (round(corner.latitude, 6), round(corner.longitude, 6)) == (39.8036, -89.66)
    assert geocoder.geocode("the library").raw["name"] == "Springfield Public Library"
    assert (geocoder.geocode("the library").latitude, geocoder.geocode("the park").latitude) == (
        39.7982,
        39.8054,
    )
    block = geocoder.geocode("Main St between Cedar Dr and Walnut St")
    assert round(block.latitude, 6) == 39.8 and -89.66 < block.longitude < -89.6553


@pytest.mark.parametrize(
    "columns, expected",
    [
        (  # San Francisco's EAS flat export
            ["eas_address_base_id", "base_address_num", "base_address_suffix", "street_name"]
            + ["street_type", "street_post_direction", "unit_address", "longitude", "latitude"],
            {"number": "base_address_num", "suffix": "base_address_suffix"}
            | {"street": "street_name", "type": "street_type", "postdir": "street_post_direction"}
            | {"unit": "unit_address", "lat": "latitude", "lon": "longitude"},
        ),
        (  # NENA's address point standard
            ["Add_Number", "AddNum_Suf", "St_PreDir", "St_Name", "St_PosTyp", "St_PosDir"],
            {"number": "Add_Number", "suffix": "AddNum_Suf", "predir": "St_PreDir"}
            | {"street": "St_Name", "type": "St_PosTyp", "postdir": "St_PosDir"},
        ),
        (  # a county's points as OpenAddresses reads them
            [
                "ANUMBER",
                "StreetPrefixDirectional",
                "ST_NAME",
                "StreetPostType",
                "POINT_X",
                "POINT_Y",
            ],
            {"number": "ANUMBER", "predir": "StreetPrefixDirectional", "street": "ST_NAME"}
            | {"type": "StreetPostType", "lon": "POINT_X", "lat": "POINT_Y"},
        ),
        (  # NYC LION centrelines
            ["Street", "L_LOW_HN", "L_HIGH_HN", "R_LOW_HN", "R_HIGH_HN"],
            {"street": "Street", "left_from": "L_LOW_HN", "left_to": "L_HIGH_HN"}
            | {"right_from": "R_LOW_HN", "right_to": "R_HIGH_HN"},
        ),
        (  # the Census Bureau's TIGER address ranges
            ["FULLNAME", "LFROMHN", "LTOHN", "RFROMHN", "RTOHN"],
            {"street": "FULLNAME", "left_from": "LFROMHN", "left_to": "LTOHN"}
            | {"right_from": "RFROMHN", "right_to": "RTOHN"},
        ),
    ],
)
def test_columns_are_found_by_their_open_data_names(columns, expected):
    from bot.gazetteer.fields import detect

    assert detect(columns) == expected


def test_a_street_named_alone_comes_before_a_place_sharing_a_word(tmp_path):
    data = {
        "type": "FeatureCollection",
        "features": [
            feature(line((40.0, -90.0), (40.0, -89.99)), STREETNAME="MISSION ST"),
            feature(
                {"type": "Point", "coordinates": [-89.995, 40.001]}, NAME="Mission Dolores Park"
            ),
        ],
    }
    (tmp_path / "m.geojson").write_text(json.dumps(data))
    build([tmp_path / "m.geojson"], tmp_path / "i.sqlite3")
    geocoder = Gazetteer(tmp_path / "i.sqlite3")
    found = geocoder.geocode("Mission", exactly_one=False)
    assert [f.raw["gazetteer"] for f in found] == ["street", "place"]
    assert geocoder.geocode("Mission Dolores Park").raw["gazetteer"] == "place"
    assert geocoder.geocode("mission dolores").raw["gazetteer"] == "place"


def test_a_tab_separated_file(tmp_path):
    text = "house_number\tstreet\tlat\tlon\n7\tBay Rd\t40.1\t-90.1\n"
    built = build([write(tmp_path / "points.tsv", text)], tmp_path / "i.sqlite3")
    assert built.points == 1
    assert Gazetteer(tmp_path / "i.sqlite3").geocode("7 Bay Road").longitude == -90.1


SWAPPED = {  # Springfield, IL: one row's last vertex written [lat, lon] instead of [lon, lat]
    "type": "FeatureCollection",
    "features": [
        feature(line((39.80, -89.66), (39.80, -89.63)), street_name="Main St"),
        feature(
            {"type": "LineString", "coordinates": [[-89.65, 39.81], [39.81, -89.64]]},
            street_name="Elm St",
        ),
    ],
}


def test_one_swapped_coordinate_is_skipped_and_counted_not_a_hang(tmp_path):
    source = write(tmp_path / "streets.geojson", json.dumps(SWAPPED))
    script = (
        "from bot.gazetteer.build import build\n"
        f"build([{str(source)!r}], {str(tmp_path / 'first.sqlite3')!r}, 'X')\n"
    )
    try:  # in a child first: before the fix this row kept the loader busy for hours
        subprocess.run([sys.executable, "-c", script], timeout=30, check=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("one malformed row kept the loader busy for 30 s") from None
    built = build([source], tmp_path / "i.sqlite3", "X")
    assert built.segments == 1
    assert built.tally.skipped["a segment too long to be a street's"] == 1


def test_a_geometry_nested_too_deep_is_refused_by_the_command_with_a_message(tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    bad = write(
        tmp_path / "deep.geojson",
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        f'"geometry": {{"type": "LineString", "coordinates": {deep}}}}}]}}',
    )
    result = CliRunner().invoke(
        cli, ["gazetteer", "load", str(bad), "--out", str(tmp_path / "i.sqlite3")]
    )
    assert result.exit_code == 1 and "nested too deeply" in result.output, result.output
    assert not (tmp_path / "i.sqlite3").exists()
