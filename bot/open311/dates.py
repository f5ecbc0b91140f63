"""GeoReport v2 dates: w3c ISO 8601 in answers, and the form each server wants in queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_datetime(text: object, naive_zone: tzinfo = UTC) -> datetime | None:
    """An answer's date as an aware datetime with its own zone; None if absent, unreadable or
    out of range.

    A date without a zone (which the spec forbids but servers send) is taken in `naive_zone`:
    UTC unless the caller knows better (an expected date is the city's own day).
    """
    if isinstance(text, datetime):
        return _in_range(text if text.tzinfo else text.replace(tzinfo=naive_zone))
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    value = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", value) if "T" in value else value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return _in_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=naive_zone))


def _in_range(moment: datetime) -> datetime | None:
    """`moment`, or None when it cannot be told in UTC (year 1 or 9999 with an offset)."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment


def format_datetime(value: datetime, style: str = "iso") -> str:
    """`value` (aware) for a query: "iso" keeps its offset (Z for UTC), "no_z" drops the zone."""
    if value.tzinfo is None:
        raise ValueError("Open311 dates must be timezone-aware datetimes")
    value = value.replace(microsecond=0)
    if style == "no_z":
        return value.replace(tzinfo=None).isoformat()
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
