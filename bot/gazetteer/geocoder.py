"""`Gazetteer`: a geopy geocoder over the city's own index. Its results' `.raw` is shaped like
Nominatim's (lat, lon, display_name, address{house_number, road, city}), so code reading
Nominatim reads it unchanged; `raw["gazetteer"]` says how each was found."""

from __future__ import annotations

import itertools
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geopy.adapters import URLLibAdapter
from geopy.exc import GeocoderServiceError, GeocoderUnavailable
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

from bot.gazetteer import query as typed
from bot.gazetteer.cache import LRU
from bot.gazetteer.geometry import LatLon, along, metres, midpoint, nearest_on
from bot.gazetteer.store import Segment, Store, StreetRow

SIDE_OFFSET = 8.0  # metres from the centreline to an interpolated house, on its side
REVERSE_HOUSE = 60.0  # metres: the farthest address point a pin is read as
REVERSE_STREET = 100.0  # metres: the farthest centreline a pin is read on
NEIGHBOUR_GAP = 100  # house numbers: the widest gap interpolated between two address points

Found = tuple[dict[str, Any], ...]


class Gazetteer(Geocoder):
    """The city's own address points, centrelines and places as a geopy geocoder."""

    def __init__(self, path: str | Path, city: str = "", cache_size: int = 2048):
        super().__init__(adapter_factory=URLLibAdapter)  # never used: nothing goes out
        self.path = Path(path)
        self._store: Store | None = None
        self._city = city
        self.cache: LRU[Found] = LRU(cache_size)

    @property
    def store(self) -> Store:
        """The index, opened on first use; GeocoderUnavailable when there is none."""
        if self._store is None:
            try:
                self._store = Store(self.path)
            except (OSError, ValueError, sqlite3.Error) as exc:
                raise GeocoderUnavailable(f"gazetteer index unavailable: {exc}") from exc
        return self._store

    @property
    def city(self) -> str:
        """The city's name in results: the index's, else the one given."""
        return self.store.city or self._city

    # --- geopy's interface ------------------------------------------------------------------

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = True,
        limit: int | None = None,
        viewbox: Sequence[Any] | None = None,
        bounded: bool = False,
        **_ignored: Any,
    ) -> Location | list[Location] | None:
        """Locations for a typed address, corner, block or name, best first (geopy's
        `geocode`; Nominatim's viewbox and bounded honoured, other options ignored)."""
        text = " ".join(unicodedata.normalize("NFKC", str(query)).split())[:255]
        box = _box(viewbox) if bounded and viewbox else None
        key = ("geocode", text.casefold(), box)
        found = self.cache.get(key)
        if found is None:
            found = _guarded(lambda: tuple(r for r in self._search(text) if _inside(r, box)))
            self.cache.put(key, found)
        wanted = 1 if exactly_one else max(1, limit or 10)
        locations = [_location(raw) for raw in found[:wanted]]
        if exactly_one:
            return locations[0] if locations else None
        return locations

    def reverse(
        self, query: Any, *, exactly_one: bool = True, **_ignored: Any
    ) -> Location | list[Location] | None:
        """The address at a point (geopy's `reverse`): the nearest address point, else the
        interpolated house on the nearest centreline, else None."""
        point = Point(query)
        at = (point.latitude, point.longitude)
        key = ("reverse", round(at[0], 6), round(at[1], 6))
        found = self.cache.get(key)
        if found is None:
            found = _guarded(lambda: self._reverse(at))
            self.cache.put(key, found)
        locations = [_location(raw) for raw in found]
        if exactly_one:
            return locations[0] if locations else None
        return locations

    # --- searching --------------------------------------------------------------------------

    def _search(self, text: str) -> list[dict[str, Any]]:
        """Every reading of the text tried in turn; the first that finds something wins. A
        house's street alone (its number not on it) comes only after all other readings; a
        corner or block of streets that never meet is not found, never one of the streets."""
        last_resort: list[dict[str, Any]] = []
        streets_apart = False
        for reading in typed.parse(text, self.city):
            if isinstance(reading, typed.House):
                found = self._house(reading)
                if found and all(r["gazetteer"] == "street" for r in found):
                    last_resort = last_resort or found
                    continue
            elif isinstance(reading, typed.Block):
                found = self._block(reading)
                parts = (reading.street, reading.first, reading.second)
                streets_apart = streets_apart or (not found and self._all_streets(*parts))
            elif isinstance(reading, typed.Corner):
                found = self._corner(reading)
                parts = (reading.first, reading.second)
                streets_apart = streets_apart or (not found and self._all_streets(*parts))
            elif streets_apart:
                found = []
            else:
                found = self._name(reading.text)
            if found:
                return _unique(found)
        return _unique(last_resort)

    def _all_streets(self, *texts: str) -> bool:
        """Whether each text names a street of the index as a whole (not fuzzily)."""
        return all(self.store.resolve(text, loose=False)[0] for text in texts)

    def _house(self, house: typed.House) -> list[dict[str, Any]]:
        """A house: its address point, else its place in a centreline's range, else between
        its neighbours on its side; the street alone when the number is not on it."""
        streets, _ = self.store.resolve(house.street)
        found = []
        for row in streets:
            spot = self._locate(row, house.number, house.suffix)
            if spot is not None:
                (lat, lon), how, suffix = spot
                found.append(self._raw(lat, lon, how, row, f"{house.number}{suffix}"))
        return found or [self._street(row) for row in streets if row.lat is not None]

    def _locate(self, row: StreetRow, number: int, suffix: str) -> tuple[LatLon, str, str] | None:
        """Where house `number` is on a street, how it was found, and its suffix."""
        point = self.store.house(row.id, number, suffix)
        if point is not None:
            return (point[0], point[1]), "point", point[2]
        for segment in self.store.segments(row.id, number):
            for side, offset in ((segment.left, SIDE_OFFSET), (segment.right, -SIDE_OFFSET)):
                if side is not None and _holds(side, number):
                    first, last = side
                    fraction = 0.5 if first == last else (number - first) / (last - first)
                    return along(segment.line, fraction, offset), "interpolated", ""
        near = self.store.neighbours(row.id, number, NEIGHBOUR_GAP)
        if near is not None:
            (low, *a), (high, *b) = near
            t = (number - low) / (high - low)
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), "interpolated", ""
        return None

    def _corner(self, corner: typed.Corner) -> list[dict[str, Any]]:
        """Where the two streets typed meet."""
        found = []
        for a, b, lat, lon in self._meetings(corner.first, corner.second):
            found.append(self._raw(lat, lon, "intersection", name=f"{a.display} & {b.display}"))
        return found

    def _meetings(self, first: str, second: str) -> list[tuple[StreetRow, StreetRow, float, float]]:
        """(street, street, lat, lon) wherever streets named `first` and `second` meet."""
        ones, _ = self.store.resolve(first)
        twos, _ = self.store.resolve(second)
        return [
            (a, b, lat, lon)
            for a, b in itertools.product(ones, twos)
            if a.id != b.id
            for lat, lon in self.store.corners(a.id, b.id)
        ]

    def _block(self, block: typed.Block) -> list[dict[str, Any]]:
        """The middle of a street's block between two cross streets (the closest such pair
        of corners, where a street meets one more than once)."""
        ones = self._meetings(block.street, block.first)
        twos = self._meetings(block.street, block.second)
        pairs = [(x, y) for x in ones for y in twos if x[0].id == y[0].id]
        if not pairs:
            return []
        x, y = min(pairs, key=lambda p: metres(p[0][2:], p[1][2:]))
        lat, lon = midpoint(x[2:], y[2:])
        name = f"{x[0].display} between {x[1].display} and {y[1].display}"
        return [self._raw(lat, lon, "block", name=name)]

    def _name(self, text: str) -> list[dict[str, Any]]:
        """Places and streets of that name (a street at its middle): a place first when its
        whole name was typed, or the street only fuzzily."""
        places, whole = self.store.places(text)
        named = [self._raw(p.lat, p.lon, "place", name=p.name, kind=p.kind) for p in places]
        streets, fuzzy = self.store.resolve(text)
        ways = [self._street(row) for row in streets if row.lat is not None]
        # "Mission" is Mission Street before Mission Dolores Park; "the park" the park.
        return named + ways if whole or fuzzy or not ways else ways + named

    def _street(self, row: StreetRow) -> dict[str, Any]:
        """A street alone, at its middle."""
        assert row.lat is not None and row.lon is not None
        return self._raw(row.lat, row.lon, "street", row)

    def _reverse(self, at: LatLon) -> Found:
        """The address read at a point."""
        house = self.store.nearest_house(at, REVERSE_HOUSE)
        if house is not None:
            _, sid, number, suffix, lat, lon = house
            return (self._raw(lat, lon, "point", self.store.streets[sid], f"{number}{suffix}"),)
        best: tuple[float, Segment, float, int] | None = None
        for segment in self.store.near_segments(at, REVERSE_STREET):
            distance, fraction, side = nearest_on(segment.line, at)
            if distance <= REVERSE_STREET and (best is None or distance < best[0]):
                best = (distance, segment, fraction, side)
        if best is None:
            return ()
        _, segment, fraction, side = best
        row = self.store.streets[segment.street]
        there = _number_at(segment.left if side > 0 else segment.right, fraction)
        lat, lon = along(segment.line, fraction)
        if there is None:
            return (self._raw(lat, lon, "street", row),)
        return (self._raw(lat, lon, "interpolated", row, str(there)),)

    # --- results ----------------------------------------------------------------------------

    def _raw(
        self,
        lat: float,
        lon: float,
        how: str,
        row: StreetRow | None = None,
        house: str = "",
        name: str = "",
        kind: str = "",
    ) -> dict[str, Any]:
        """A result in Nominatim's shape."""
        address: dict[str, str] = {}
        if house:
            address["house_number"] = house
        if row is not None:
            address["road"] = row.display
            name = name or ("" if house else row.display)
        if self.city:
            address["city"] = self.city
        head = " ".join(p for p in (address.get("house_number"), address.get("road")) if p)
        shown = [p for p in (name if not head else "", head, self.city) if p]
        return {
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "display_name": ", ".join(shown),
            "name": name,
            "class": "place" if how != "street" else "highway",
            "type": {"point": "house", "interpolated": "house", "street": "road"}.get(
                how, kind or how
            ),
            "address": address,
            "gazetteer": how,
        }


def _guarded(search: Callable[[], Found]) -> Found:
    """A search's results; a broken index raises geopy's errors, never another."""
    try:
        return search()
    except GeocoderUnavailable:
        raise
    except Exception as exc:  # a broken index must not break a conversation
        raise GeocoderServiceError(f"gazetteer look-up failed: {type(exc).__name__}") from exc


def _holds(side: tuple[int, int], number: int) -> bool:
    """Whether a side's range holds the number, odd or even as its ends are."""
    low, high = sorted(side)
    if not low <= number <= high:
        return False
    return low % 2 != high % 2 or number % 2 == low % 2


def _number_at(side: tuple[int, int] | None, fraction: float) -> int | None:
    """The house number at `fraction` along a side's range, of the side's parity."""
    if side is None:
        return None
    first, last = side
    number = round(first + fraction * (last - first))
    if first % 2 == last % 2 and number % 2 != first % 2:
        number += 1 if last >= first else -1
    low, high = sorted(side)
    return min(high, max(low, number))


def _unique(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results without repeats of the same name at the same spot."""
    seen, kept = set(), []
    for raw in found:
        key = (raw["display_name"], raw["lat"], raw["lon"])
        if key not in seen:
            seen.add(key)
            kept.append(raw)
    return kept


def _box(viewbox: Sequence[Any]) -> tuple[float, float, float, float]:
    """(south, west, north, east) of geopy's viewbox: two points, or four numbers
    (west, south, east, north as Nominatim takes them)."""
    if len(viewbox) == 2:
        a, b = Point(viewbox[0]), Point(viewbox[1])
        return (
            min(a.latitude, b.latitude),
            min(a.longitude, b.longitude),
            max(a.latitude, b.latitude),
            max(a.longitude, b.longitude),
        )
    west, south, east, north = (float(v) for v in viewbox)
    return min(south, north), min(west, east), max(south, north), max(west, east)


def _inside(raw: dict[str, Any], box: tuple[float, float, float, float] | None) -> bool:
    """Whether a result lies in the box (anywhere, without one)."""
    if box is None:
        return True
    south, west, north, east = box
    return south <= float(raw["lat"]) <= north and west <= float(raw["lon"]) <= east


def _location(raw: dict[str, Any]) -> Location:
    """A result as geopy's Location."""
    return Location(raw["display_name"], (float(raw["lat"]), float(raw["lon"])), raw)
