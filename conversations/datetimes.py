"""Reading a moment from a short answer ("yesterday 5pm", "2 hours ago", "11/20 3:30pm").

Everything is read on the city's wall clock relative to when the message arrived: a time alone
is the nearest such time (today, yesterday or tomorrow; a tie goes to the past), a date without
a year the nearest such date, a day without a time is noon (today: the moment of the message),
and parts of the day stand for a typical hour. Dates are month/day as written in the US
(day/month when only that reads as a date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .numbers import word_number

NOON = time(12)
# A part of the day: the hour it stands for, and when it begins (see _on_day).
PARTS = {
    "morning": (time(9), time(5)),
    "afternoon": (time(15), time(12)),
    "evening": (time(19), time(17)),
    "night": (time(22), time(20)),
}
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY = (
    r"(?P<weekday>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?"
    r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_AMOUNT = (
    r"(?P<amount>\d+(?:\.\d+)?|half an?|an?|a couple(?: of)?|couple(?: of)?|[a-z]+(?:[- ][a-z]+)?)"
)
_UNITS = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}  # the unit's first letter: minutes

_AGO = re.compile(
    rf"\b{_AMOUNT}\s*(?P<unit>minutes?|mins?|hours?|hrs?|h|days?|weeks?|wks?)\s+ago\b"
)
_NOW = re.compile(r"\b(?:right |just )?now\b")
_DATES = (
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?:t(?=\d))?"),
    re.compile(r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?\b"),
    re.compile(rf"\b{_MONTH}\s*{_DAY}(?:\s+(?P<year>\d{{4}}))?\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:\s+(?P<year>\d{{4}}))?\b"),
)
_DAY_WORDS = (
    (re.compile(r"\b(?:the )?day before yesterday\b"), -2, None),
    (re.compile(r"\blast night\b"), -1, "night"),
    (re.compile(r"\btonight\b"), 0, "night"),
    (re.compile(r"\byesterday\b"), -1, None),
    (re.compile(r"\btoday\b"), 0, None),
    (re.compile(r"\btomorrow\b"), 1, None),
)
_WEEKDAY_WORD = re.compile(rf"\b(?:(?P<which>last|this|next|on)\s+)?{_WEEKDAY}\b")
_PART = re.compile(
    r"\b(?:(?P<which>this|last|in the)\s+)?(?P<part>morning|afternoon|evening|night)\b"
)
_CLOCKS = (
    re.compile(r"\b(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?:\s*(?P<half>am|pm)|(?P<h>a|p))\b"),
    re.compile(r"\b(?P<hour>\d{1,2}):(?P<minute>\d{2})\b"),
    re.compile(r"\b(?P<word>noon|midday|midnight)\b"),
)
_FILLERS = frozenset(
    {
        "at",
        "on",
        "around",
        "about",
        "approx",
        "approximately",
        "roughly",
        "ish",
        "the",
        "it",
        "was",
        "since",
        "sometime",
        "maybe",
        "or",
        "so",
        "@",
        "-",
        "in",
    }
)


@dataclass
class _Found:
    """The pieces found in an answer: a day, a clock time and a part of the day."""

    day: date | None = None
    clock: time | None = None
    part: str | None = None
    clash: bool = False  # two days or two times: unclear

    def set_day(self, day: date | None) -> None:
        """Keep the day, marking a clash if one was already found (or it is not a date)."""
        self.clash = self.clash or self.day is not None or day is None
        self.day = day

    def set_clock(self, clock: time | None) -> None:
        """Keep the time, marking a clash if one was already found (or it is not a time)."""
        self.clash = self.clash or self.clock is not None or clock is None
        self.clock = clock


def zone_of(name: str) -> tzinfo:
    """The IANA zone of that name, UTC when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_datetime(text: str, at: datetime, timezone: str) -> datetime | None:
    """The moment the text names, in the city's zone, read relative to `at`; None if unclear."""
    zone = zone_of(timezone)
    now = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    now = now.replace(second=0, microsecond=0)
    text = _normal(text)
    ago = _AGO.search(text)
    if ago:
        rest = text[: ago.start()] + " " + text[ago.end() :]
        return _ago(ago, now, zone) if _only_fillers(rest) else None
    found_now = _NOW.search(text)
    if found_now:
        rest = text[: found_now.start()] + " " + text[found_now.end() :]
        return now if _only_fillers(rest) else None
    found, rest = _pieces(text, now.date())
    if found.clash or not _only_fillers(rest):
        return None
    return _moment(found, now, zone)


# Rough answers people give, said the way the parser reads them.
_ROUGH = (
    (re.compile(r"\blast week\b"), "a week ago"),
    (re.compile(r"\b(?:a )?couple (?:of )?days ago\b"), "2 days ago"),
    (re.compile(r"\b(?:a )?few days ago\b"), "3 days ago"),
    (re.compile(r"\bthe other day\b"), "2 days ago"),
    (re.compile(r"\bearlier today\b"), "today"),
)


def in_english(text: str, phrases: Mapping[str, str]) -> str:
    """The text with a language's date phrases ("ayer", "hôm qua") replaced by English ones."""
    said = " ".join(text.casefold().split())
    for phrase in sorted(phrases, key=len, reverse=True):
        if any("\u3400" <= c <= "\u9fff" for c in phrase):
            said = said.replace(phrase, f" {phrases[phrase]} ")
        else:
            said = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", phrases[phrase], said)
    return " ".join(said.split())


def _normal(text: str) -> str:
    """Lowercased, a.m./p.m. written am/pm, punctuation that carries nothing made spaces."""
    text = text.casefold()
    for rough, plain in _ROUGH:
        text = rough.sub(plain, text)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"[,!?;()~\"]|-ish\b", " ", text)
    text = re.sub(r"\.(?=\s|$)", " ", text)
    return " ".join(text.split())


def _only_fillers(rest: str) -> bool:
    """Whether what is left of the answer says nothing more."""
    return all(word in _FILLERS for word in rest.split())


def _cut(pattern: re.Pattern, text: str) -> tuple[list[re.Match], str]:
    """Every match of the pattern, and the text with them blanked out."""
    matches = list(pattern.finditer(text))
    for match in reversed(matches):
        text = text[: match.start()] + " " + text[match.end() :]
    return matches, text


def _pieces(text: str, today: date) -> tuple[_Found, str]:
    """The day, time and part of the day the text names, and the words left over."""
    found = _Found()
    for pattern in _DATES:
        matches, text = _cut(pattern, text)
        for match in matches:
            found.set_day(_date(match, today))
    for pattern, offset, part in _DAY_WORDS:
        matches, text = _cut(pattern, text)
        for _match in matches:
            found.set_day(today + timedelta(days=offset))
            found.part = part or found.part
    matches, text = _cut(_WEEKDAY_WORD, text)
    for match in matches:
        found.set_day(_weekday(match, today))
    for pattern in _CLOCKS:
        matches, text = _cut(pattern, text)
        for match in matches:
            found.set_clock(_clock(match))
    matches, text = _cut(_PART, text)
    for match in matches:
        found.clash = found.clash or (found.part is not None and found.part != match["part"])
        found.part = match["part"]
        if match["which"] == "last":
            found.set_day(today - timedelta(days=1))
    return found, text


def _date(match: re.Match, today: date) -> date | None:
    """The date a date match names; without a year, the nearest such date to today."""
    month = match["month"]
    month = int(month) if month.isdigit() else _MONTHS.index(month[:3]) + 1
    day = int(match["day"])
    if month > 12 >= day:  # 20/11 can only be day/month
        month, day = day, month
    if match["year"]:
        year = int(match["year"])
        return _valid(year + 2000 if year < 100 else year, month, day)
    years = (today.year - 1, today.year, today.year + 1)
    candidates = [c for c in (_valid(year, month, day) for year in years) if c is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (abs((c - today).days), c))


def _valid(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _weekday(match: re.Match, today: date) -> date:
    """The day a weekday names: the latest one (LAST: before today, THIS/NEXT: ahead)."""
    wanted = _WEEKDAYS.index(match["weekday"][:3])
    back = (today.weekday() - wanted) % 7
    ahead = (wanted - today.weekday()) % 7
    which = match["which"]
    if which == "last":
        return today - timedelta(days=back or 7)
    if which == "next":
        return today + timedelta(days=ahead or 7)
    if which == "this":
        return today + timedelta(days=ahead)
    return today - timedelta(days=back)


def _clock(match: re.Match) -> time | None:
    """The time of day a clock match names, None when it is not a real time."""
    if match.groupdict().get("word"):
        return time(0) if match["word"] == "midnight" else NOON
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = match.groupdict().get("half") or match.groupdict().get("h")
    if minute > 59:
        return None
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    return time(hour, minute) if hour <= 23 else None


def _ago(match: re.Match, now: datetime, zone: tzinfo) -> datetime | None:
    """The moment an "N units ago" match names (days and weeks on the wall clock)."""
    amount = match["amount"]
    count: float | None
    if amount[0].isdigit():
        count = float(amount)
    elif amount.startswith("half"):
        count = 0.5
    elif amount in ("a", "an"):
        count = 1
    else:
        count = word_number(amount.removesuffix(" of"))
    if count is None:
        return None
    unit = match["unit"][0]
    minutes = count * _UNITS[unit]
    if unit in "dw" and count == int(count):
        days = timedelta(days=int(minutes // _UNITS["d"]))
        return _local(now.date() - days, time(now.hour, now.minute), zone)
    moment = now.astimezone(UTC) - timedelta(minutes=minutes)
    return moment.astimezone(zone).replace(second=0, microsecond=0)


def _moment(found: _Found, now: datetime, zone: tzinfo) -> datetime | None:
    """Put the pieces together into one moment on the city's wall clock."""
    today = now.date()
    if found.clock is not None:
        if found.day is not None:
            return _local(found.day, found.clock, zone)
        near = [_local(today + timedelta(days=d), found.clock, zone) for d in (-1, 0, 1)]
        return min(near, key=lambda moment: (abs(moment - now), moment))
    if found.part is not None:
        return _on_day(found.day or today, found.part, now, zone)
    if found.day is not None:
        return now if found.day == today else _local(found.day, NOON, zone)
    return None


def _on_day(day: date, part: str, now: datetime, zone: tzinfo) -> datetime:
    """A part of a day; today's part already begun but not at its hour yet means now."""
    hour, begins = PARTS[part]
    moment = _local(day, hour, zone)
    if day == now.date() and moment > now >= _local(day, begins, zone):
        return now
    return moment


def _local(day: date, clock: time, zone: tzinfo) -> datetime:
    """That wall-clock time in the zone; a time skipped by a DST change moves forward."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).astimezone(zone)
