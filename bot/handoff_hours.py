"""HANDOFF_HOURS: when staff are in to answer residents who ask for a person.

Written as ranges separated by ";" or ",", each "DAYS HH:MM-HH:MM" in the city's time zone
(CITY_TIMEZONE): "Mon-Fri 08:00-17:00; Sat 09:00-12:00". DAYS is a day ("Mon"), a run of days
("Mon-Fri", "Fri-Mon") or left out (every day); a range ends after it starts (no overnight
ranges: write two). Empty: staff are always in. "off": no handoff at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF, OPEN, CLOSED = "off", "open", "closed"  # conversations.engine's Context.handoff values
_RANGE = re.compile(
    r"(?:(?P<first>[a-z]{3})[a-z]*(?:\s*-\s*(?P<last>[a-z]{3})[a-z]*)?\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
)


@dataclass(frozen=True)
class Span:
    """Days of the week (0 Monday) and the time of day staff are in on each."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class Hours:
    """Staff hours: `off` (no handoff), or spans (none: always in)."""

    spans: tuple[Span, ...] = ()
    off: bool = False

    def open_at(self, when: datetime, zone: str) -> bool:
        """Whether staff are in at `when` (aware) in the city's zone."""
        if self.off:
            return False
        if not self.spans:
            return True
        local = when.astimezone(ZoneInfo(zone))
        now = local.time().replace(tzinfo=None)
        return any(
            local.weekday() in span.days and span.start <= now < span.end for span in self.spans
        )

    def mode(self, when: datetime, zone: str) -> str:
        """The engine's Context.handoff at `when`: "off", "open" or "closed"."""
        if self.off:
            return OFF
        return OPEN if self.open_at(when, zone) else CLOSED


def parse_hours(text: str) -> Hours:
    """Read HANDOFF_HOURS; ValueError saying what is wrong."""
    written = " ".join(text.strip().casefold().split())
    if written == OFF:
        return Hours(off=True)
    if not written:
        return Hours()
    spans = []
    for part in re.split(r"[;,]", written):
        part = part.strip()
        if not part:
            continue
        found = _RANGE.fullmatch(part)
        if found is None:
            raise ValueError(f"HANDOFF_HOURS: {part!r} is not like 'Mon-Fri 08:00-17:00'")
        spans.append(_span(found, part))
    return Hours(tuple(spans))


def _span(found: re.Match, part: str) -> Span:
    start, end = _time(found["start"], part), _time(found["end"], part)
    if end <= start:
        raise ValueError(f"HANDOFF_HOURS: {part!r} ends before it starts (write two ranges)")
    first = _day(found["first"], part) if found["first"] else 0
    last = _day(found["last"], part) if found["last"] else (first if found["first"] else 6)
    days = {(first + i) % 7 for i in range((last - first) % 7 + 1)}
    return Span(frozenset(days), start, end)


def _day(name: str, part: str) -> int:
    if name not in DAYS:
        raise ValueError(f"HANDOFF_HOURS: {part!r}: {name!r} is not a day (Mon ... Sun)")
    return DAYS.index(name)


def _time(value: str, part: str) -> time:
    hours, minutes = (int(n) for n in value.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"HANDOFF_HOURS: {part!r}: {value} is not a time of day")
    return time(hours, minutes)
