"""Writes locations_heldout.csv: typed locations with their true points, computed from the
demo town's own data (sandbox/demo_town.json) and the city
limits (springfield_limits.geojson), never from the geocoder.

Written by a tester who did not read the geocoder, so nothing was tuned against it.

A house is on its street's centreline at the share of its number along its side's range (the
few metres to its side are well within the 50 m tolerance); a corner is where the two
centrelines cross; "A between B and C" is the middle of A between its crossings with B and C;
a landmark is its own point. Rows outside the city are marked `expect=outside`; those in the
demo town's data beyond the limits keep their point, other towns' have none.

    python -m tests.evaluation.heldout_locations   # rewrites the CSV
"""

from __future__ import annotations

import csv
import json
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = ROOT / "tests" / "evaluation"
OUT = HERE / "locations_heldout.csv"

# Each row: (kind, typed, truth). truth is ("house", street, number), ("corner", a, b),
# ("block", street, from, to), ("place", name), or ("elsewhere",) for another town.
ROWS: list[tuple[str, str, tuple]] = [
    # house numbers, typed every which way
    ("address", "120 main", ("house", "Main Street", 120)),
    ("address", "120 Main St", ("house", "Main Street", 120)),
    ("address", "45 elm street apt 3", ("house", "Elm Street", 45)),
    ("address", "45 Elm St., Springfield, IL 62701", ("house", "Elm Street", 45)),
    ("address", "apt 4b 22 oak ave", ("house", "Oak Avenue", 22)),
    ("address", "1500 washington blvd", ("house", "Washington Boulevard", 1500)),
    ("address", "1500 Washington Boulevard Springfield", ("house", "Washington Boulevard", 1500)),
    ("address", "300 jefferson", ("house", "Jefferson Street", 300)),
    ("address", "742 evergreen terrace", ("house", "Evergreen Terrace", 742)),
    ("address", "909 Maple Av", ("house", "Maple Avenue", 909)),
    ("address", "77 lincoln rd", ("house", "Lincoln Road", 77)),
    ("address", "410 cedar", ("house", "Cedar Drive", 410)),
    ("address", "1234 Walnut Street", ("house", "Walnut Street", 1234)),
    ("address", "615 spruce ln", ("house", "Spruce Lane", 615)),
    ("address", "1010 park dr.", ("house", "Park Drive", 1010)),
    ("address", "250 center st", ("house", "Center Street", 250)),
    ("address", "800 lakeshore drive", ("house", "Lakeshore Drive", 800)),
    ("address", "600 Hillside", ("house", "Hillside Road", 600)),
    ("address", "pothole in front of 233 Main Street", ("house", "Main Street", 233)),
    ("address", "streetlight out near 1515 oak ave", ("house", "Oak Avenue", 1515)),
    ("address", "its at 1777 elm st by the bus stop", ("house", "Elm Street", 1777)),
    ("address", "5 Elm", ("house", "Elm Street", 5)),
    # typos and odd spellings
    ("typo", "120 mian st", ("house", "Main Street", 120)),
    ("typo", "45 elm stret", ("house", "Elm Street", 45)),
    ("typo", "300 Wahsington Blvd", ("house", "Washington Boulevard", 300)),
    ("typo", "512 jeferson street", ("house", "Jefferson Street", 512)),
    ("typo", "88 walnutt st", ("house", "Walnut Street", 88)),
    ("typo", "742 evergren terrace", ("house", "Evergreen Terrace", 742)),
    ("typo", "615 sprcue lane", ("house", "Spruce Lane", 615)),
    ("typo", "1010 prak drive", ("house", "Park Drive", 1010)),
    ("typo", "250 centre street", ("house", "Center Street", 250)),
    ("typo", "430 lakshore dr", ("house", "Lakeshore Drive", 430)),
    ("typo", "61 mapel avenue", ("house", "Maple Avenue", 61)),
    # corners, in many phrasings
    ("intersection", "Main & Center", ("corner", "Main Street", "Center Street")),
    ("intersection", "main st and center st", ("corner", "Main Street", "Center Street")),
    ("intersection", "corner of elm and park", ("corner", "Elm Street", "Park Drive")),
    ("intersection", "Elm/Park", ("corner", "Elm Street", "Park Drive")),
    ("intersection", "oak at walnut", ("corner", "Oak Avenue", "Walnut Street")),
    ("intersection", "Oak Ave / Walnut St", ("corner", "Oak Avenue", "Walnut Street")),
    ("intersection", "maple and spruce", ("corner", "Maple Avenue", "Spruce Lane")),
    (
        "intersection",
        "intersection of Washington Blvd and Cedar Dr",
        ("corner", "Washington Boulevard", "Cedar Drive"),
    ),
    ("intersection", "jefferson & hillside", ("corner", "Jefferson Street", "Hillside Road")),
    ("intersection", "Lincoln and Cedar", ("corner", "Lincoln Road", "Cedar Drive")),
    (
        "intersection",
        "corner of evergreen terrace & spruce lane",
        ("corner", "Evergreen Terrace", "Spruce Lane"),
    ),
    ("intersection", "lakeshore at elm", ("corner", "Lakeshore Drive", "Elm Street")),
    ("intersection", "cedar n main", ("corner", "Cedar Drive", "Main Street")),
    (
        "intersection",
        "near the corner of park dr and washington",
        ("corner", "Park Drive", "Washington Boulevard"),
    ),
    ("intersection", "Main st & Cnter st", ("corner", "Main Street", "Center Street")),
    # blocks
    (
        "block",
        "Main between Cedar and Walnut",
        ("block", "Main Street", "Cedar Drive", "Walnut Street"),
    ),
    (
        "block",
        "Park Drive between Main and Oak",
        ("block", "Park Drive", "Main Street", "Oak Avenue"),
    ),
    (
        "block",
        "elm st between spruce and park",
        ("block", "Elm Street", "Spruce Lane", "Park Drive"),
    ),
    (
        "block",
        "Oak Ave btwn Center and Lakeshore",
        ("block", "Oak Avenue", "Center Street", "Lakeshore Drive"),
    ),
    (
        "block",
        "center street between maple and oak",
        ("block", "Center Street", "Maple Avenue", "Oak Avenue"),
    ),
    (
        "block",
        "on jefferson between walnut & spruce",
        ("block", "Jefferson Street", "Walnut Street", "Spruce Lane"),
    ),
    # landmarks, by name and loosely
    ("landmark", "the library", ("place", "Springfield Public Library")),
    ("landmark", "Springfield Public Library", ("place", "Springfield Public Library")),
    ("landmark", "outside the library on elm", ("place", "Springfield Public Library")),
    ("landmark", "city hall", ("place", "City Hall")),
    ("landmark", "in front of town hall", ("place", "City Hall")),
    ("landmark", "Central Park", ("place", "Central Park")),
    ("landmark", "by the park on park drive", ("place", "Central Park")),
    ("landmark", "Union Station", ("place", "Union Station")),
    ("landmark", "the train station", ("place", "Union Station")),
    ("landmark", "amtrak station parking lot", ("place", "Union Station")),
    # outside: the demo town's own streets beyond the limits (the neighbouring township)
    ("outside", "1600 Lincoln Road", ("house", "Lincoln Road", 1600)),
    ("outside", "1800 evergreen terrace", ("house", "Evergreen Terrace", 1800)),
    ("outside", "1700 lakeshore dr", ("house", "Lakeshore Drive", 1700)),
    ("outside", "1900 hillside rd", ("house", "Hillside Road", 1900)),
    ("outside", "Lakeshore Drive & Lincoln Road", ("corner", "Lakeshore Drive", "Lincoln Road")),
    (
        "outside",
        "corner of hillside and evergreen",
        ("corner", "Hillside Road", "Evergreen Terrace"),
    ),
    ("outside", "the hospital", ("place", "Springfield General Hospital")),
    ("outside", "Springfield General Hospital", ("place", "Springfield General Hospital")),
    (
        "outside",
        "Lincoln Rd between Lakeshore and Hillside",
        ("block", "Lincoln Road", "Lakeshore Drive", "Hillside Road"),
    ),
    # outside: other towns, some with street names the city has too
    ("outside", "45 Oak Street, Chicago IL", ("elsewhere",)),
    ("outside", "12 Maple Avenue, Decatur, IL 62521", ("elsewhere",)),
    ("outside", "120 Main St, Peoria", ("elsewhere",)),
    ("outside", "1600 Pennsylvania Ave NW, Washington DC", ("elsewhere",)),
    ("outside", "221B Baker Street, London", ("elsewhere",)),
    ("outside", "350 Fifth Avenue, New York, NY 10118", ("elsewhere",)),
    ("outside", "500 Sunset Blvd, Los Angeles", ("elsewhere",)),
    ("outside", "88 Peachtree St, Atlanta GA", ("elsewhere",)),
    ("outside", "200 Market Street, Shelbyville", ("elsewhere",)),
    ("outside", "Capitol Ave and 2nd St, Chatham", ("elsewhere",)),
    ("outside", "1 Infinite Loop, Cupertino", ("elsewhere",)),
]

Point = tuple[float, float]  # (lat, lon)


def demo_town() -> dict:
    """The demo town's GeoJSON (sandbox/demo_town.json)."""
    return json.loads((ROOT / "sandbox" / "demo_town.json").read_text(encoding="utf-8"))


def _lines(town: dict) -> dict[str, dict]:
    return {
        f["properties"]["street_name"]: f
        for f in town["features"]
        if f["geometry"]["type"] == "LineString"
    }


def _places(town: dict) -> dict[str, Point]:
    return {
        f["properties"]["name"]: (f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
        for f in town["features"]
        if f["geometry"]["type"] == "Point"
    }


def _along(line: dict, share: float) -> Point:
    (x0, y0), (x1, y1) = line["geometry"]["coordinates"]  # every demo street is one segment
    return (y0 + (y1 - y0) * share, x0 + (x1 - x0) * share)


def _house(line: dict, number: int) -> Point:
    p = line["properties"]
    left = number % 2 == p["l_f_add"] % 2  # the side whose range has this number's parity
    first, last = (p["l_f_add"], p["l_t_add"]) if left else (p["r_f_add"], p["r_t_add"])
    return _along(line, (number - first) / (last - first))


def _crossing(a: dict, b: dict) -> Point:
    (ax0, ay0), (ax1, ay1) = a["geometry"]["coordinates"]
    (bx0, by0), (bx1, by1) = b["geometry"]["coordinates"]
    d = (ax1 - ax0) * (by1 - by0) - (ay1 - ay0) * (bx1 - bx0)
    assert d, "parallel streets do not cross"
    t = ((bx0 - ax0) * (by1 - by0) - (by0 - ay0) * (bx1 - bx0)) / d
    u = ((bx0 - ax0) * (ay1 - ay0) - (by0 - ay0) * (ax1 - ax0)) / d
    assert 0 <= t <= 1 and 0 <= u <= 1, "the streets do not meet"
    return (ay0 + (ay1 - ay0) * t, ax0 + (ax1 - ax0) * t)


def truth(spec: tuple, town: dict) -> Point | None:
    """The true point of one row's spec in the demo town (None for another town)."""
    lines = _lines(town)
    match spec:
        case ("house", street, number):
            return _house(lines[street], number)
        case ("corner", a, b):
            return _crossing(lines[a], lines[b])
        case ("block", street, a, b):
            p, q = _crossing(lines[street], lines[a]), _crossing(lines[street], lines[b])
            return ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        case ("place", name):
            return _places(town)[name]
        case ("elsewhere",):
            return None
    raise ValueError(spec)


def inside_limits(point: Point) -> bool:
    """Whether a point is within springfield_limits.geojson (even-odd ray casting)."""
    limits = json.loads((HERE / "springfield_limits.geojson").read_text(encoding="utf-8"))
    ring = limits["features"][0]["geometry"]["coordinates"][0]
    lat, lon = point
    inside = False
    for (x0, y0), (x1, y1) in pairwise(ring):
        if (y0 > lat) != (y1 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def rows() -> list[dict[str, str]]:
    """The CSV's rows, each checked against the limits (a row on the wrong side fails)."""
    town = demo_town()
    out = []
    for kind, typed, spec in ROWS:
        at = truth(spec, town)
        outside = kind == "outside"
        if at is not None:
            assert inside_limits(at) != outside, (typed, at)
        out.append(
            {
                "kind": kind,
                "typed": typed,
                "lat": f"{at[0]:.6f}" if at else "",
                "lon": f"{at[1]:.6f}" if at else "",
                "expect": "outside" if outside else "inside",
            }
        )
    return out


def main() -> None:
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["kind", "typed", "lat", "lon", "expect"])
        writer.writeheader()
        writer.writerows(rows())
    print(f"{len(ROWS)} rows -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
