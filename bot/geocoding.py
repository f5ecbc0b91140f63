"""Addresses to places through geopy (Nominatim's API), limited to the city's bounds."""

from __future__ import annotations

import logging
import os

from geopy.exc import GeopyError
from geopy.geocoders.base import Geocoder

from bot import boundary, geocode_cache, geocode_corners, geocoders
from bot.channels.fields import point
from bot.gazetteer.names import STREET_TYPES as _STREET_TYPES
from bot.gazetteer.names import words as _words
from bot.settings import Settings
from conversations import Geocoded, Place

log = logging.getLogger(__name__)
MAX_QUERY = 255  # characters of an address sent to the geocoder (no address is longer)
CANDIDATES = 3  # places asked of the geocoder, offered as a numbered choice when they differ


def lookup(query: str, settings: Settings) -> Geocoded:
    """Geocode `query`; Geocoded(failed=True) when the geocoder cannot be reached. A provider's
    answers are kept for GEOCODE_CACHE_SECONDS."""
    query = query.strip()
    if settings.geocoder == "none":
        return Geocoded(query, (Place(address=query),))
    kept = geocode_cache.cached_lookup(query, settings)
    if kept is not None:
        return kept
    found = _lookup(query, settings)
    geocode_cache.keep_lookup(query, found, settings)
    return found


def _lookup(query: str, settings: Settings) -> Geocoded:
    bounds = settings.bounds()
    service = settings.geocoder
    try:
        results = _geocoder(settings).geocode(
            query[:MAX_QUERY],
            exactly_one=False,
            **geocoders.search_options(service, bounds, CANDIDATES),
        )
    except (GeopyError, ValueError) as exc:  # ValueError: geopy refuses the query or bounds
        log.warning("geocoder failed for a lookup: %s", type(exc).__name__)
        return Geocoded(query, failed=True)
    except Exception as exc:  # noqa: BLE001  a provider's odd answer never breaks a turn
        log.warning("geocoder answered oddly: %s", type(exc).__name__)
        return Geocoded(query, failed=True)
    # The city's own gazetteer holds nothing but the city: its places are in it.
    city, bounded = settings.city_name, bounds is not None or service == "gazetteer"
    try:
        places = [
            place_of(geocoders.nominatim_shaped(service, r), query, city, bounded)
            for r in results or ()
        ]
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("geocoder result unreadable: %s", type(exc).__name__)
        return Geocoded(query, failed=True)
    inside = [p for p in places if p.lat is None or boundary.contains(p.lat, p.lon, settings)]
    outside = [p for p in places if p not in inside]
    if not inside and not outside and geocoders.family(service) == "nominatim":
        # Nominatim's search finds no corner nor block: the streets are looked up instead.
        corner = geocode_corners.lookup_corner(query, settings, _geocoder(settings))
        if corner is not None and (corner.failed or corner.places or corner.outside):
            return corner
    if not inside and not outside and bounds is not None and service != "gazetteer":
        outside = _beyond(query, settings)
    return Geocoded(query, tuple(inside), outside=tuple(outside))


def _beyond(query: str, settings: Settings) -> list[Place]:
    """Where the query is when the search bounded to the city found nothing: looked up once
    more without the bounds, so a place outside is told as such (none when it fails)."""
    service = settings.geocoder
    try:
        results = _geocoder(settings).geocode(
            query[:MAX_QUERY], exactly_one=False, **geocoders.search_options(service, None, 1)
        )
        places = [place_of(geocoders.nominatim_shaped(service, r), query) for r in results or ()]
    except Exception as exc:  # noqa: BLE001  only a courtesy: the answer stays "not found"
        log.warning("geocoder failed beyond the city: %s", type(exc).__name__)
        return []
    return [p for p in places if not boundary.contains(p.lat, p.lon, settings)]


def place_of(raw: dict, query: str, city: str = "", bounded: bool = False) -> Place:
    """A Nominatim result as a place; exact when it is the house number and street typed, in
    the city (inside CITY_BOUNDS when those bound the search, else named as the city)."""
    return Place(
        address=short_address(raw),
        lat=float(raw["lat"]),
        lon=float(raw["lon"]),
        exact=is_exact(raw, query, city, bounded),
    )


def _typed_before(typed: list[str], house: str, street: list[str]) -> bool:
    """Whether the typed words hold the house number followed by the street's name (and its
    type, or no type at all), and nothing after it."""
    named = street[:-1] if street[-1] in _STREET_TYPES else street
    if not named:
        return False
    for at, word in enumerate(typed):
        after = typed[at + 1 :]
        if word != house or after[: len(named)] != named:
            continue
        rest = after[len(named) :]
        if rest and rest[0] == street[-1] and named != street:  # its type
            rest = rest[1:]
        if not rest:
            return True
    return False


_UNIT_WORDS = frozenset(
    [
        "apt",
        "apartment",
        "unit",
        "suite",
        "ste",
        "fl",
        "floor",
        "rm",
        "room",
        "bldg",
        "building",
        "no",
        "number",
    ]
)
_COUNTRY = frozenset(["usa", "us", "united", "states", "of", "america", "canada", "uk"])
_STATES = frozenset(
    [
        "alabama",
        "alaska",
        "arizona",
        "arkansas",
        "california",
        "colorado",
        "connecticut",
        "delaware",
        "florida",
        "georgia",
        "hawaii",
        "idaho",
        "illinois",
        "indiana",
        "iowa",
        "kansas",
        "kentucky",
        "louisiana",
        "maine",
        "maryland",
        "massachusetts",
        "michigan",
        "minnesota",
        "mississippi",
        "missouri",
        "montana",
        "nebraska",
        "nevada",
        "hampshire",
        "jersey",
        "mexico",
        "york",
        "carolina",
        "dakota",
        "ohio",
        "oklahoma",
        "oregon",
        "pennsylvania",
        "rhode",
        "island",
        "tennessee",
        "texas",
        "utah",
        "vermont",
        "virginia",
        "washington",
        "west",
        "wisconsin",
        "wyoming",
        "new",
        "north",
        "south",
        "district",
        "columbia",
        "ontario",
        "quebec",
        "alberta",
        "manitoba",
        "saskatchewan",
        "nova",
        "scotia",
        "brunswick",
    ]
)


def _only_the_city(part: str, city: str) -> bool:
    """Whether a comma-separated part of a typed address holds nothing but the city, state,
    postcode, country or a unit ("Springfield", "IL 62701", "Apt 3")."""
    said = _words(part)
    city_words = set(_words(city))
    unit = False
    for word in said:
        if unit:  # the unit's own number or letter
            unit = False
            continue
        if word in _UNIT_WORDS:
            unit = True
        elif not (
            word in city_words
            or word in _STATES
            or word in _COUNTRY
            or (len(word) == 2 and word.isalpha())  # a state's or province's code
            or (word.isdigit() and len(word) in (4, 5, 9))  # a postcode (ZIP+4 in parts)
            or (word.isalnum() and len(word) <= 3 and any(c.isdigit() for c in word))  # "3B"
        ):
            return False
    return True


def _address_part(query: str, city: str) -> tuple[str, bool]:
    """The typed address without its unit, city, state or postcode, and whether the rest
    after its commas is only those (not, say, another town's name)."""
    from bot.gazetteer.query import clean

    parts = [p.strip() for p in query.split(",") if p.strip()]
    if len(parts) > 1 and parts[0].isdigit():  # "120, Main St"
        parts = [f"{parts[0]} {parts[1]}", *parts[2:]]
    if not parts:
        return "", True
    return clean(parts[0], city), all(_only_the_city(p, city) for p in parts[1:])


def is_exact(raw: dict, query: str, city: str = "", bounded: bool = False) -> bool:
    """Whether the result is the house the query typed: its house number followed by the
    very street (direction and type included; the type may be left out), in the city, with
    no other words after it than the city, state, postcode or a unit."""
    parts = raw.get("address")
    if not isinstance(parts, dict):
        return False
    house, street = (
        str(parts.get("house_number") or "").casefold(),
        _words(str(parts.get("road") or "")),
    )
    if not house or not street:
        return False
    town = str(parts.get("city") or parts.get("town") or parts.get("village") or "")
    head, rest_is_city = _address_part(query, city or town)
    if not rest_is_city or not _typed_before(_words(head), house, street):
        return False
    if town and city:
        return town.casefold() == city.casefold()
    return bounded


def short_address(raw: dict) -> str:
    """A short, SMS-friendly address ('120 Main Street, Springfield') from a Nominatim result."""
    parts = raw.get("address") or {}
    street = " ".join(p for p in (parts.get("house_number"), parts.get("road")) if p)
    name = raw.get("name") or ""
    place = parts.get("city") or parts.get("town") or parts.get("village") or ""
    head = street or name
    if head:
        return ", ".join(p for p in (head, place) if p)
    return ", ".join(raw.get("display_name", "").split(", ")[:3])


def _geocoder(settings: Settings) -> Geocoder:
    """The geocoder GEOCODER names: a geopy service, or the city's own gazetteer index."""
    if settings.geocoder == "gazetteer":
        return gazetteer(settings.gazetteer_file, settings.city_name)
    return geocoders.build(settings)


_GAZETTEERS: dict[tuple[str, str], tuple[tuple[int, int, int], Geocoder]] = {}


def gazetteer(path: str, city: str = "") -> Geocoder:
    """The process's gazetteer over the index at `path`, opened again (its cache emptied)
    when a new load replaced the file: another inode, mtime or size (a copy keeping the old
    mtime, a filesystem of coarse mtimes)."""
    from bot.gazetteer.geocoder import Gazetteer

    try:
        found = os.stat(path)
        changed = (found.st_ino, found.st_mtime_ns, found.st_size)
    except OSError:
        changed = (-1, -1, -1)
    known = _GAZETTEERS.get((path, city))
    if known is None or known[0] != changed:
        known = (changed, Gazetteer(path, city))
        _GAZETTEERS[path, city] = known
    return known[1]


def in_city(lat: float, lon: float, settings: Settings) -> bool:
    """Whether a point on the globe is within CITY_BOUNDS and CITY_BOUNDARY_FILE (everywhere,
    when neither is set)."""
    if point(lat, lon) is None:
        return False
    return boundary.contains(lat, lon, settings)


def reverse(lat: float, lon: float, settings: Settings) -> str:
    """A short address for a shared pin, or "" when unknown, not a point on the globe (a
    latitude of 999, NaN, a string) or the geocoder is unavailable."""
    if settings.geocoder == "none":
        return ""
    found_point = point(lat, lon)
    if found_point is None:
        log.warning("reverse geocoding skipped: the pin is not a point on the globe")
        return ""
    kept = geocode_cache.cached_reverse(found_point[0], found_point[1], settings)
    if kept is not None:
        return kept
    try:
        geocoder = _geocoder(settings)
        nominatim = geocoders.family(settings.geocoder) in ("nominatim", "gazetteer")
        options = {"addressdetails": True} if nominatim else {}
        found = geocoder.reverse(found_point, exactly_one=True, **options)
        shaped = geocoders.nominatim_shaped(settings.geocoder, found) if found else None
        address = short_address(shaped) if shaped else ""
        geocode_cache.keep_reverse(found_point[0], found_point[1], address, settings)
        return address
    except (GeopyError, ValueError) as exc:  # geopy checks the point itself with ValueError
        log.warning("reverse geocoding failed: %s", type(exc).__name__)
        return ""
    except Exception as exc:  # noqa: BLE001  a provider's odd answer never breaks a turn
        log.warning("reverse geocoding answered oddly: %s", type(exc).__name__)
        return ""
