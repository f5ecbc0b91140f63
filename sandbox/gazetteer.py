"""The sandbox's demo town: streets with house-number ranges, landmarks, and lookups on them."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

GAZETTEER_PATH = Path(__file__).with_name("gazetteer.json")

# Street-type abbreviations and their full forms (lower case, as normalised).
SUFFIXES = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "avn": "avenue",
    "rd": "road",
    "blvd": "boulevard",
    "blv": "boulevard",
    "boul": "boulevard",
    "dr": "drive",
    "drv": "drive",
    "ln": "lane",
    "ter": "terrace",
    "terr": "terrace",
    "pkwy": "parkway",
    "ct": "court",
    "pl": "place",
    "hwy": "highway",
    "sq": "square",
}
_HOUSE = re.compile(r"^(\d+)[a-z]?\s+(.+)$")


def normalize(text: str) -> str:
    """Lower case, punctuation dropped, spaces collapsed, street suffixes spelled out."""
    text = re.sub(r"[^\w\s]", " ", text.lower().replace("'", ""))
    words = [SUFFIXES.get(w, w) for w in text.split()]
    return " ".join(words)


@dataclass
class Street:
    """A straight street segment whose house numbers run evenly from `first` to `last`."""

    name: str
    osm_id: int
    start: tuple[float, float]
    end: tuple[float, float]
    first: int
    last: int
    postcode: str
    suburb: str
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = normalize(self.name)

    def point_at(self, number: int) -> tuple[float, float]:
        """The interpolated (lat, lon) of house `number`."""
        t = (number - self.first) / (self.last - self.first)
        return (
            self.start[0] + t * (self.end[0] - self.start[0]),
            self.start[1] + t * (self.end[1] - self.start[1]),
        )

    def nearest(self, lat: float, lon: float) -> tuple[float, int]:
        """Distance in metres from (lat, lon) to the street, and the house number there."""
        ky = 111_320.0
        kx = ky * math.cos(math.radians(lat))
        ax, ay = self.start[1] * kx, self.start[0] * ky
        bx, by = self.end[1] * kx, self.end[0] * ky
        px, py = lon * kx, lat * ky
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        dist = math.hypot(ax + t * dx - px, ay + t * dy - py)
        return dist, round(self.first + t * (self.last - self.first))

    def bbox(self) -> tuple[float, float, float, float]:
        """(min lat, max lat, min lon, max lon)."""
        lats, lons = (self.start[0], self.end[0]), (self.start[1], self.end[1])
        return min(lats), max(lats), min(lons), max(lons)


@dataclass
class Place:
    """One geocoding result, before it is shaped as Nominatim JSON."""

    lat: float
    lon: float
    osm_type: str
    osm_id: int
    category: str
    type: str
    place_rank: int
    addresstype: str
    name: str
    address: dict
    bbox: tuple[float, float, float, float]
    importance: float


class Gazetteer:
    """The demo town's streets and landmarks, searchable by free text and by position."""

    def __init__(self, data: dict):
        self.town = {k: v for k, v in data["town"].items() if k != "aliases"}
        self.town_words = {normalize(a) for a in data["town"].get("aliases", [])}
        self.town_words.add(normalize(self.town["city"]))
        self.streets = [
            Street(
                s["name"],
                s["osm_id"],
                tuple(s["from"]),
                tuple(s["to"]),
                s["first"],
                s["last"],
                s["postcode"],
                s["suburb"],
            )
            for s in data["streets"]
        ]
        self.landmarks = data.get("landmarks", [])

    @classmethod
    def load(cls, path: str | Path | None = None) -> Gazetteer:
        """Read a gazetteer file (the bundled demo town by default)."""
        return cls(json.loads(Path(path or GAZETTEER_PATH).read_text(encoding="utf-8")))

    def _address(self, road: str, suburb: str, postcode: str, **extra: str) -> dict:
        out = dict(extra)
        out.update({"road": road, "suburb": suburb})
        out.update({"city": self.town["city"], "county": self.town["county"]})
        out.update({"state": self.town["state"], "ISO3166-2-lvl4": self.town["ISO3166-2-lvl4"]})
        out.update({"postcode": postcode, "country": self.town["country"]})
        out["country_code"] = self.town["country_code"]
        return out

    def _strip_town(self, text: str) -> str:
        """`text` without trailing town, state, country or postcode parts."""
        parts = [p.strip() for p in text.split(",")]
        kept = [p for p in parts if p and normalize(p) not in self.town_words]
        text = normalize(" ".join(kept))
        words = text.split()
        while words and (words[-1] in self.town_words or re.fullmatch(r"\d{5}", words[-1])):
            words.pop()
        joined = " ".join(words)
        for alias in sorted(self.town_words, key=len, reverse=True):
            if " " in alias and joined.endswith(" " + alias):
                joined = joined[: -len(alias) - 1]
        return joined

    def _find_street(self, text: str) -> Street | None:
        for street in self.streets:
            if text == street.key:
                return street
        bare = [s for s in self.streets if text == s.key.rsplit(" ", 1)[0]]
        return bare[0] if len(bare) == 1 else None

    def search(self, query: str) -> list[Place]:
        """Places matching a free-text query: a house, a street or a landmark."""
        text = self._strip_town(query)
        if not text:
            return []
        for landmark in self.landmarks:
            names = [landmark["name"], *landmark.get("aliases", [])]
            if text in {normalize(n) for n in names}:
                return [self._landmark(landmark)]
        match = _HOUSE.match(text)
        if match:
            number, rest = int(match.group(1)), match.group(2)
            street = self._find_street(rest)
            low, high = sorted((street.first, street.last)) if street else (0, 0)
            if street and low <= number <= high:
                return [self._house(street, number)]
            if street:
                return [self._street(street)]
            return []
        street = self._find_street(text)
        return [self._street(street)] if street else []

    def reverse(self, lat: float, lon: float, max_metres: float = 300.0) -> Place | None:
        """The nearest house on the nearest street, or None when nothing is near."""
        best = min(((s.nearest(lat, lon), s) for s in self.streets), key=lambda x: x[0][0])
        (dist, number), street = best
        if dist > max_metres:
            return None
        return self._house(street, number)

    def _house(self, street: Street, number: int) -> Place:
        lat, lon = street.point_at(number)
        address = self._address(
            street.name, street.suburb, street.postcode, house_number=str(number)
        )
        return Place(
            lat,
            lon,
            "way",
            street.osm_id + 900_000_000,
            "place",
            "house",
            30,
            "place",
            "",
            address,
            (lat - 0.00005, lat + 0.00005, lon - 0.00005, lon + 0.00005),
            0.00001,
        )

    def _street(self, street: Street) -> Place:
        lat, lon = street.point_at((street.first + street.last) // 2)
        address = self._address(street.name, street.suburb, street.postcode)
        return Place(
            lat,
            lon,
            "way",
            street.osm_id,
            "highway",
            "residential",
            26,
            "road",
            street.name,
            address,
            street.bbox(),
            0.0533,
        )

    def _landmark(self, item: dict) -> Place:
        extra = {item["class"]: item["name"]}
        if item.get("house_number"):
            extra["house_number"] = item["house_number"]
        address = self._address(item["road"], item["suburb"], item["postcode"], **extra)
        # Nominatim lists the named object first in the address.
        address = {**extra, **address}
        e = item.get("extent", 0.0003)
        lat, lon = item["lat"], item["lon"]
        return Place(
            lat,
            lon,
            item["osm_type"],
            item["osm_id"],
            item["class"],
            item["type"],
            30,
            item["class"],
            item["name"],
            address,
            (lat - e, lat + e, lon - e, lon + e),
            0.2501,
        )


_DEFAULT: Gazetteer | None = None


def default_gazetteer() -> Gazetteer:
    """The bundled demo town, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Gazetteer.load()
    return _DEFAULT
