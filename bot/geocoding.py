"""Addresses to places through geopy (Nominatim's API), limited to the city's bounds."""

from __future__ import annotations

import functools
import logging
import os

from geopy.adapters import RequestsAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder

from bot.channels.fields import point
from bot.gazetteer.names import STREET_TYPES as _STREET_TYPES
from bot.gazetteer.names import words as _words
from bot.settings import Settings
from conversations import Geocoded, Place

log = logging.getLogger(__name__)
MAX_QUERY = 255  # characters of an address sent to the geocoder (no address is longer)


def lookup(query: str, settings: Settings) -> Geocoded:
    """Geocode `query`; Geocoded(failed=True) when the geocoder cannot be reached."""
    query = query.strip()
    if settings.geocoder == "none":
        return Geocoded(query, (Place(address=query),))
    bounds = settings.bounds()
    try:
        results = _geocoder(settings).geocode(
            query[:MAX_QUERY],
            exactly_one=False,
            limit=3,
            addressdetails=True,
            viewbox=bounds,
            bounded=bounds is not None,
        )
    except (GeopyError, ValueError) as exc:  # ValueError: geopy refuses the query or bounds
        log.warning("geocoder failed for a lookup: %s", type(exc).__name__)
        return Geocoded(query, failed=True)
    # The city's own gazetteer holds nothing but the city: its places are in it.
    city, bounded = settings.city_name, bounds is not None or settings.geocoder == "gazetteer"
    places = tuple(place_of(r.raw, query, city, bounded) for r in results or ())
    return Geocoded(query, places)


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
    type, or no type at all)."""
    named = street[:-1] if street[-1] in _STREET_TYPES else street
    if not named:
        return False
    for at, word in enumerate(typed):
        after = typed[at + 1 :]
        if word != house or after[: len(named)] != named:
            continue
        rest = after[len(named) :]
        if not rest or rest[0] not in _STREET_TYPES or rest[0] == street[-1]:
            return True
    return False


def is_exact(raw: dict, query: str, city: str = "", bounded: bool = False) -> bool:
    """Whether the result is the house the query typed: its house number followed by the
    very street (direction and type included; the type may be left out), in the city."""
    parts = raw.get("address")
    if not isinstance(parts, dict):
        return False
    house, street = (
        str(parts.get("house_number") or "").casefold(),
        _words(str(parts.get("road") or "")),
    )
    if not house or not street:
        return False
    if not _typed_before(_words(query), house, street):
        return False
    town = str(parts.get("city") or parts.get("town") or parts.get("village") or "")
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


def _nominatim(settings: Settings) -> Nominatim:
    # geopy retries slow calls twice through requests; we want one bounded try per turn.
    adapter = functools.partial(RequestsAdapter, max_retries=0)
    return Nominatim(
        domain=settings.geocoder_domain,
        scheme=settings.geocoder_scheme,
        user_agent=settings.geocoder_user_agent,
        timeout=settings.geocoder_timeout,
        adapter_factory=adapter,
    )


def _geocoder(settings: Settings) -> Geocoder:
    """The geocoder GEOCODER names: Nominatim's API, or the city's own gazetteer index."""
    if settings.geocoder == "gazetteer":
        return gazetteer(settings.gazetteer_file, settings.city_name)
    return _nominatim(settings)


_GAZETTEERS: dict[tuple[str, str], tuple[float, Geocoder]] = {}


def gazetteer(path: str, city: str = "") -> Geocoder:
    """The process's gazetteer over the index at `path`, opened again (its cache emptied)
    when a new load replaced the file."""
    from bot.gazetteer.geocoder import Gazetteer

    try:
        changed = os.stat(path).st_mtime
    except OSError:
        changed = -1.0
    known = _GAZETTEERS.get((path, city))
    if known is None or known[0] != changed:
        known = (changed, Gazetteer(path, city))
        _GAZETTEERS[path, city] = known
    return known[1]


def in_city(lat: float, lon: float, settings: Settings) -> bool:
    """Whether a point on the globe is within CITY_BOUNDS (everywhere, when unset)."""
    if point(lat, lon) is None:
        return False
    bounds = settings.bounds()
    if bounds is None:
        return True
    (south, west), (north, east) = bounds
    return south <= lat <= north and west <= lon <= east


def reverse(lat: float, lon: float, settings: Settings) -> str:
    """A short address for a shared pin, or "" when unknown, not a point on the globe (a
    latitude of 999, NaN, a string) or the geocoder is unavailable."""
    if settings.geocoder == "none":
        return ""
    found_point = point(lat, lon)
    if found_point is None:
        log.warning("reverse geocoding skipped: the pin is not a point on the globe")
        return ""
    try:
        found = _geocoder(settings).reverse(found_point, exactly_one=True, addressdetails=True)
    except (GeopyError, ValueError) as exc:  # geopy checks the point itself with ValueError
        log.warning("reverse geocoding failed: %s", type(exc).__name__)
        return ""
    return short_address(found.raw) if found else ""
