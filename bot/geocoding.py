"""Addresses to places through geopy (Nominatim's API), limited to the city's bounds."""

from __future__ import annotations

import functools
import logging
import re

from geopy.adapters import RequestsAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from bot.settings import Settings
from conversations import Geocoded, Place

log = logging.getLogger(__name__)


def lookup(query: str, settings: Settings) -> Geocoded:
    """Geocode `query`; Geocoded(failed=True) when the geocoder cannot be reached."""
    query = query.strip()
    if settings.geocoder == "none":
        return Geocoded(query, (Place(address=query),))
    bounds = settings.bounds()
    try:
        results = _nominatim(settings).geocode(
            query,
            exactly_one=False,
            limit=3,
            addressdetails=True,
            viewbox=bounds,
            bounded=bounds is not None,
        )
    except GeopyError as exc:
        log.warning("geocoder failed for a lookup: %s", type(exc).__name__)
        return Geocoded(query, failed=True)
    city, bounded = settings.city_name, bounds is not None
    places = tuple(place_of(r.raw, query, city, bounded) for r in results or ())
    return Geocoded(query, places)


_HOUSE_NUMBER = re.compile(r"\b\d+[a-z]?\b", re.IGNORECASE)
# Words of a street's name that do not tell one street from another.
_STREET_WORDS_TEXT = """
street st avenue ave road rd boulevard blvd drive dr lane ln way court ct place pl terrace
parkway pkwy highway hwy north south east west n s e w the
"""
_STREET_WORDS = frozenset(_STREET_WORDS_TEXT.split())


def place_of(raw: dict, query: str, city: str = "", bounded: bool = False) -> Place:
    """A Nominatim result as a place; exact when it is the house number and street typed, in
    the city (inside CITY_BOUNDS when those bound the search, else named as the city)."""
    return Place(
        address=short_address(raw),
        lat=float(raw["lat"]),
        lon=float(raw["lon"]),
        exact=is_exact(raw, query, city, bounded),
    )


def is_exact(raw: dict, query: str, city: str = "", bounded: bool = False) -> bool:
    """Whether the result has the house number the query typed, on a street it named."""
    parts = raw.get("address") or {}
    house, road = str(parts.get("house_number") or ""), str(parts.get("road") or "")
    typed = {number.casefold() for number in _HOUSE_NUMBER.findall(query)}
    if not house or not road or house.casefold() not in typed:
        return False
    said = set(re.findall(r"\w+", query.casefold()))
    names = set(re.findall(r"\w+", road.casefold())) - _STREET_WORDS
    if not names or not names <= said:
        return False
    town = parts.get("city") or parts.get("town") or parts.get("village") or ""
    return bounded or bool(city) and str(town).casefold() == city.casefold()


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


def reverse(lat: float, lon: float, settings: Settings) -> str:
    """A short address for a shared pin, or "" when unknown or the geocoder is unavailable."""
    if settings.geocoder == "none":
        return ""
    try:
        found = _nominatim(settings).reverse((lat, lon), exactly_one=True, addressdetails=True)
    except GeopyError as exc:
        log.warning("reverse geocoding failed: %s", type(exc).__name__)
        return ""
    return short_address(found.raw) if found else ""
