"""Dates shown to residents: written the way their language writes them (Babel's locale data),
on the city's calendar.

A day is enough everywhere a date is shown (the day a report was filed, the day the city
expects to finish): servers fill the time of an expected date arbitrarily (the hour of filing
plus a delay, 23:59, midnight UTC), so a time of day would be noise, not news.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton

from .datetimes import zone_of
from .language import Language

DAY_SKELETON = "MMMd"  # "Dec 5", "5 dic", "12月5日", "5 thg 12", "Dis 5"
# Babel's spaces that GSM-7 lacks (an SMS with one costs twice the segments).
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " "})


def day(moment: datetime, say: Language, zone: str | tzinfo | None = None) -> str:
    """The moment's day, short with the month's name, in the language (on `zone`'s calendar)."""
    local = _in_zone(moment, zone)
    text = format_skeleton(DAY_SKELETON, local, tzinfo=local.tzinfo, locale=locale_of(say.code))
    return text.translate(_SPACES)


@lru_cache(maxsize=32)
def locale_of(code: str) -> Locale:
    """Babel's locale for a language code ("tl" is Filipino), English when Babel has none."""
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _in_zone(moment: datetime, zone: str | tzinfo | None) -> datetime:
    """The moment on the zone's clock (its own when no zone is given; UTC when naive)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if zone is None:
        return aware
    return aware.astimezone(zone_of(zone) if isinstance(zone, str) else zone)
