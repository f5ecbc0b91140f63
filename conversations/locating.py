"""Where it is, beyond one address read back: several places found offered as a numbered
choice, and places outside the city's limits refused with the city's own words.

The worker decides what is outside (bot/boundary.py); this module only chooses the words.
"""

from __future__ import annotations

import math

from . import prompts, texts
from .answers import number
from .language import Language
from .types import Context, Place, Reply

CHOICES = 3  # places offered at most (the worker asks the geocoder for as many)
SAME_PLACE = 25.0  # metres: places closer than this to one offered are that one, renamed


def distinct(places: tuple[Place, ...] | list[Place]) -> list[Place]:
    """The located places in the geocoder's order, up to CHOICES, without a second name for
    one already kept (the same address, or a point within SAME_PLACE of it)."""
    kept: list[Place] = []
    for place in places:
        if place.lat is None or place.lon is None:
            continue
        if any(p.address == place.address or _metres(p, place) < SAME_PLACE for p in kept):
            continue
        kept.append(Place(place.address, place.lat, place.lon))
    return kept[:CHOICES]


def _metres(a: Place, b: Place) -> float:
    """Metres between two located places (flat: they are in one city)."""
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    north = (a.lat - b.lat) * 111_320.0
    east = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(north, east)


def choices(places: list[Place], say: Language) -> Reply:
    """The places found, as a numbered choice."""
    return prompts.listing(say(texts.ADDRESS_CHOICES), [p.address for p in places], say)


def picked(text: str, places: list[Place]) -> Place | None:
    """The place a reply's number picks, or None when it is not one of theirs."""
    chosen = number(text)
    if chosen is None or not 1 <= chosen <= len(places):
        return None
    return places[chosen - 1]


def outside(context: Context, say: Language) -> Reply:
    """ "That is outside <city>." and where to go instead (the city's text, else a generic
    sentence in the resident's language); then the location is asked again."""
    city = context.city or say(texts.THE_CITY)
    told = say(texts.OUTSIDE_CITY).format(city=city)
    advice = context.outside_text.strip() or say(texts.OUTSIDE_CITY_SUGGEST).format(city=city)
    return Reply(f"{told} {advice}", expects="location")
