"""Corners ("5th & Mission") and blocks ("Main between 2nd and 3rd") through a Nominatim-family
provider, whose search does not find them: each street is looked up with its centreline
(GeoJSON), and the place is where the centrelines meet."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from geopy.geocoders.base import Geocoder
from shapely.geometry import LineString, Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from bot import boundary, geocoders
from bot.gazetteer.query import Block, Corner, parse
from bot.settings import Settings
from conversations import Geocoded, Place

log = logging.getLogger(__name__)
METRES_PER_DEGREE = 111_320.0
SAME_CORNER = 15.0  # metres: meeting points of the same two streets closer than this are one
GAP = 15.0  # metres: streets whose ways stop this close to each other meet (a gap in the data)
STREET_RESULTS = 40  # results asked per street (Nominatim's most): one per way, with dedupe=0
MAX_CALLS = 4  # street look-ups per typed location: a corner takes 2, a block 3
MAX_PLACES = 3  # places offered, as the engine's numbered choice
MAX_QUERY = 255  # characters of a street's name sent to the provider


@dataclass(frozen=True)
class Meeting:
    """Where typed streets meet: its name from the provider's road names, and its point."""

    name: str
    lat: float
    lon: float
    city: str = ""


class _OutOfCalls(Exception):
    """The look-up has spent its provider calls."""


def lookup_corner(query: str, settings: Settings, geocoder: Geocoder) -> Geocoded | None:
    """A typed corner's or block's places; None if it is neither; failed if the provider is."""
    readings = [r for r in parse(query, settings.city_name) if isinstance(r, Corner | Block)]
    if not readings:
        return None
    asked: dict[str, list[dict[str, Any]]] = {}

    def street(name: str) -> list[dict[str, Any]]:
        key = name.casefold()
        if key not in asked:
            if len(asked) >= MAX_CALLS:
                raise _OutOfCalls
            asked[key] = _search(name, settings, geocoder)
        return asked[key]

    for reading in readings:
        try:
            found = _meetings_of(reading, street)
        except _OutOfCalls:
            break
        except Exception as exc:  # noqa: BLE001  the provider's error or odd answer: failed
            log.warning("geocoder failed for a corner: %s", type(exc).__name__)
            return Geocoded(query, failed=True)
        if found:
            return _in_city(query, found, settings)
    return Geocoded(query)


def _meetings_of(reading: Corner | Block, street: Callable[[str], list[dict]]) -> list[Meeting]:
    """A reading's meeting points, its streets looked up through `street`."""
    if isinstance(reading, Corner):
        first = street(reading.first)
        return _safely(meetings, first, street(reading.second)) if first else []
    along, first = street(reading.street), street(reading.first)
    if not along or not first:
        return []  # a street not found: the next is not asked for
    return _safely(block_middles, along, first, street(reading.second))


def _safely(maths: Callable[..., list[Meeting]], *results: list[dict]) -> list[Meeting]:
    """The maths on the provider's geometries; none when they are unreadable."""
    try:
        return maths(*results)
    except Exception as exc:  # noqa: BLE001  an odd geometry is a street not found
        log.warning("street geometry unreadable: %s", type(exc).__name__)
        return []


def _search(name: str, settings: Settings, geocoder: Geocoder) -> list[dict[str, Any]]:
    """The provider's results for a street's name, with their geometry, in the city's box (or,
    with no box, named in the city: a street of that name elsewhere is not the resident's)."""
    bounded = settings.bounds() is not None
    asked = name if bounded or not settings.city_name else f"{name}, {settings.city_name}"
    results = _every_way(geocoder).geocode(
        asked[:MAX_QUERY],
        exactly_one=False,
        geometry="geojson",
        **geocoders.search_options(settings.geocoder, settings.bounds(), STREET_RESULTS),
    )
    return [r.raw for r in results or () if isinstance(r.raw, dict)]


def _every_way(geocoder: Geocoder) -> Geocoder:
    """A copy of the geocoder that asks Nominatim for every way of a street (dedupe=0)."""
    # Nominatim answers one way per street unless told dedupe=0, and the crossing may be on
    # another. geopy has no argument for it; `_construct_url` is its documented place for one.
    construct = getattr(geocoder, "_construct_url", None)
    if construct is None:
        return geocoder
    every = copy.copy(geocoder)

    def with_dedupe_off(base_api: str, params: dict[str, Any]) -> str:
        return str(construct(base_api, {**params, "dedupe": 0}))

    setattr(every, "_construct_url", with_dedupe_off)  # noqa: B010  this copy's own
    return every


def _in_city(query: str, found: list[Meeting], settings: Settings) -> Geocoded:
    """The meetings as places, inside the city or outside it."""
    places = [
        (Place(_address(m), m.lat, m.lon), boundary.contains(m.lat, m.lon, settings)) for m in found
    ]
    inside = tuple(p for p, within in places if within)[:MAX_PLACES]
    outside = tuple(p for p, within in places if not within)[:MAX_PLACES]
    return Geocoded(query, inside, outside=outside)


def _address(meeting: Meeting) -> str:
    """'Elm Street & Oak Avenue, Springfield'."""
    return ", ".join(p for p in (meeting.name, meeting.city) if p)


# The maths, on Nominatim's raw results: a street is every result of class highway with a line.


@dataclass(frozen=True)
class _Street:
    """The ways of one street name, in metres on the plane."""

    name: str
    city: str
    ways: tuple[LineString, ...]


class _Plane:
    """Degrees to metres and back, east and north of the equator and meridian, at one latitude."""

    def __init__(self, lat: float) -> None:
        self.kx = METRES_PER_DEGREE * math.cos(math.radians(lat))

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        """The geometry in metres."""
        return shapely.transform(geometry, lambda c: c * np.array([self.kx, METRES_PER_DEGREE]))

    def to_degrees(self, point: Point) -> tuple[float, float]:
        """(lat, lon) of a point in metres."""
        return point.y / METRES_PER_DEGREE, point.x / self.kx


def meetings(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[Meeting]:
    """Where the first name's streets meet the second's: crossings, or the middles of gaps."""
    plane = _plane(first, second)
    if plane is None:
        return []
    found: list[Meeting] = []
    for a in _streets(first, plane):
        for b in _streets(second, plane):
            if a.name.casefold() == b.name.casefold():
                continue
            found.extend(
                Meeting(f"{a.name} & {b.name}", *plane.to_degrees(p), a.city or b.city)
                for p in _meet(a, b)
            )
    return found


def block_middles(
    along: list[dict[str, Any]], first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> list[Meeting]:
    """Halfway along each street between its closest crossings with the two cross streets."""
    plane = _plane(along, first, second)
    if plane is None:
        return []
    found: list[Meeting] = []
    for street in _streets(along, plane):
        ones = _crossings(street, _streets(first, plane))
        twos = _crossings(street, _streets(second, plane))
        pairs = [(x, y) for x in ones for y in twos if x[1].distance(y[1]) > SAME_CORNER]
        if not pairs:
            continue
        (b, p), (c, q) = min(pairs, key=lambda pair: pair[0][1].distance(pair[1][1]))
        name = f"{street.name} between {b.name} and {c.name}"
        found.append(Meeting(name, *plane.to_degrees(_middle(street, p, q)), street.city))
    return found


def _crossings(street: _Street, others: list[_Street]) -> list[tuple[_Street, Point]]:
    """(cross street, point) wherever another street meets this one."""
    return [
        (other, point)
        for other in others
        if other.name.casefold() != street.name.casefold()
        for point in _meet(street, other)
    ]


def _plane(*results: list[dict[str, Any]]) -> _Plane | None:
    """The plane at the latitude of the first street found; None when none has a line."""
    for raw in (r for found in results for r in found):
        line = _line(raw)
        if line is not None:
            return _Plane(line.centroid.y)
    return None


def _line(raw: dict[str, Any]) -> BaseGeometry | None:
    """A highway result's centreline in degrees (lon, lat), or None."""
    if (raw.get("class") or raw.get("category")) != "highway":
        return None
    geometry = raw.get("geojson")
    if not isinstance(geometry, dict) or geometry.get("type") not in (
        "LineString",
        "MultiLineString",
    ):
        return None
    line = shape(geometry)
    return None if line.is_empty else line


def _streets(results: list[dict[str, Any]], plane: _Plane) -> list[_Street]:
    """The results' streets by road name, in the provider's order, their ways in metres."""
    ways: dict[str, list[LineString]] = {}
    names: dict[str, tuple[str, str]] = {}
    for raw in results:
        line = _line(raw)
        found = raw.get("address")
        address: dict[str, Any] = found if isinstance(found, dict) else {}
        name = str(raw.get("name") or address.get("road") or "").strip()
        if line is None or not name:
            continue
        key = name.casefold()
        city = str(address.get("city") or address.get("town") or address.get("village") or "")
        names.setdefault(key, (name, city))
        ways.setdefault(key, []).extend(shapely.get_parts(plane.to_metres(line)))
    return [_Street(*names[key], tuple(lines)) for key, lines in ways.items()]


def _meet(a: _Street, b: _Street) -> list[Point]:
    """Where two streets meet, in metres: crossings first, then the middles of gaps."""
    # A way that stops a few metres short of another (a gap in the data) still meets it.
    crossings: list[Point] = []
    gaps: list[Point] = []
    for one in a.ways:
        for other in b.ways:
            met = one.intersection(other)
            if not met.is_empty:
                crossings.extend(_points(met))
            elif one.distance(other) <= GAP:
                p, q = nearest_points(one, other)
                gaps.append(Point((p.x + q.x) / 2, (p.y + q.y) / 2))
    return _distinct([*crossings, *gaps])


def _points(geometry: BaseGeometry) -> Iterable[Point]:
    """The points of an intersection; the middle of a stretch two streets share."""
    for part in shapely.get_parts(geometry):
        if isinstance(part, Point):
            yield part
        elif isinstance(part, LineString):
            yield part.interpolate(0.5, normalized=True)


def _distinct(points: list[Point]) -> list[Point]:
    """The points, less any within SAME_CORNER metres of an earlier one."""
    kept: list[Point] = []
    for point in points:
        if all(point.distance(k) > SAME_CORNER for k in kept):
            kept.append(point)
    return kept


def _middle(street: _Street, p: Point, q: Point) -> Point:
    """Halfway along the street from p to q (straight between them if its ways do not join)."""
    for line in shapely.get_parts(shapely.line_merge(shapely.union_all(street.ways))):
        if line.distance(p) <= GAP and line.distance(q) <= GAP:
            return line.interpolate((line.project(p) + line.project(q)) / 2)
    return Point((p.x + q.x) / 2, (p.y + q.y) / 2)
