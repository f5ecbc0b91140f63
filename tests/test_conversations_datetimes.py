"""Reading a moment on the city's wall clock, relative to when the message arrived."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.datetimes import parse_datetime, zone_of

CHICAGO = "America/Chicago"
# Saturday 21 November 2026, 9:10 in Chicago (CST, -06:00).
SATURDAY = datetime(2026, 11, 21, 15, 10, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", "2026-11-21T09:10:00-06:00"),  # seconds dropped
        ("right now", "2026-11-21T09:10:00-06:00"),
        ("today", "2026-11-21T09:10:00-06:00"),
        ("this morning", "2026-11-21T09:00:00-06:00"),
        ("this afternoon", "2026-11-21T15:00:00-06:00"),
        ("tonight", "2026-11-21T22:00:00-06:00"),
        ("yesterday", "2026-11-20T12:00:00-06:00"),
        ("yesterday 5pm", "2026-11-20T17:00:00-06:00"),
        ("Yesterday at 5 p.m.", "2026-11-20T17:00:00-06:00"),
        ("5pm yesterday", "2026-11-20T17:00:00-06:00"),
        ("yesterday evening", "2026-11-20T19:00:00-06:00"),
        ("the day before yesterday", "2026-11-19T12:00:00-06:00"),
        ("tomorrow 7am", "2026-11-22T07:00:00-06:00"),
        ("5pm", "2026-11-21T17:00:00-06:00"),  # the nearest 5pm
        ("5:30 pm", "2026-11-21T17:30:00-06:00"),
        ("8p", "2026-11-21T20:00:00-06:00"),  # 11 hours ahead is nearer than 13 back
        ("11pm", "2026-11-20T23:00:00-06:00"),  # last night's 11pm is nearer than tonight's
        ("17:30", "2026-11-21T17:30:00-06:00"),
        ("noon", "2026-11-21T12:00:00-06:00"),
        ("around 7am-ish", "2026-11-21T07:00:00-06:00"),
        ("last night", "2026-11-20T22:00:00-06:00"),
        ("2 hours ago", "2026-11-21T07:10:00-06:00"),
        ("it was about 2 hours ago", "2026-11-21T07:10:00-06:00"),
        ("an hour ago", "2026-11-21T08:10:00-06:00"),
        ("half an hour ago", "2026-11-21T08:40:00-06:00"),
        ("a couple of hours ago", "2026-11-21T07:10:00-06:00"),
        ("30 mins ago", "2026-11-21T08:40:00-06:00"),
        ("two days ago", "2026-11-19T09:10:00-06:00"),
        ("a week ago", "2026-11-14T09:10:00-06:00"),
        ("11/20", "2026-11-20T12:00:00-06:00"),
        ("11/20 3:30pm", "2026-11-20T15:30:00-06:00"),
        ("11/20/25 3pm", "2025-11-20T15:00:00-06:00"),
        ("20/11", "2026-11-20T12:00:00-06:00"),  # only readable as day/month
        ("11/21", "2026-11-21T09:10:00-06:00"),  # today without a time: now
        ("2026-11-20 14:00", "2026-11-20T14:00:00-06:00"),
        ("2026-11-20T14:00", "2026-11-20T14:00:00-06:00"),
        ("Nov 20", "2026-11-20T12:00:00-06:00"),
        ("november 20th at 3pm", "2026-11-20T15:00:00-06:00"),
        ("20th of Nov, 3pm", "2026-11-20T15:00:00-06:00"),
        ("jan 3", "2027-01-03T12:00:00-06:00"),  # the nearest January 3rd
        ("12/30", "2026-12-30T12:00:00-06:00"),
        ("6/1", "2026-06-01T12:00:00-05:00"),  # summer time in June
        ("monday", "2026-11-16T12:00:00-06:00"),
        ("Saturday", "2026-11-21T09:10:00-06:00"),  # today
        ("last saturday", "2026-11-14T12:00:00-06:00"),
        ("next friday 8am", "2026-11-27T08:00:00-06:00"),
        ("friday night", "2026-11-20T22:00:00-06:00"),
    ],
)
def test_parse_datetime_in_chicago(text, expected):
    assert parse_datetime(text, SATURDAY, CHICAGO).isoformat() == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "blue",
        "5",
        "at 5",
        "whenever",
        "13/40",
        "2/30",
        "25:00",
        "13pm",
        "5:75pm",
        "5pm 6pm",
        "yesterday today",
        "2 hours ago yesterday",
        "yesterday 5pm or so blue",
        "a while ago",
        "since forever",
    ],
)
def test_unclear_moments_are_none(text):
    assert parse_datetime(text, SATURDAY, CHICAGO) is None


# Sunday 8 March 2026: Chicago's clocks went from 2:00 CST to 3:00 CDT; 10:00 CDT now.
SPRING_FORWARD = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
# Sunday 1 November 2026: 2:00 CDT became 1:00 CST; 10:00 CST now.
FALL_BACK = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "at", "expected"),
    [
        ("now", SPRING_FORWARD, "2026-03-08T10:00:00-05:00"),
        ("yesterday 5pm", SPRING_FORWARD, "2026-03-07T17:00:00-06:00"),
        ("1 day ago", SPRING_FORWARD, "2026-03-07T10:00:00-06:00"),  # same wall-clock time
        ("24 hours ago", SPRING_FORWARD, "2026-03-07T09:00:00-06:00"),  # a real 24 hours
        ("8 hours ago", SPRING_FORWARD, "2026-03-08T01:00:00-06:00"),  # 2:00-3:00 never was
        ("3/8 2:30am", SPRING_FORWARD, "2026-03-08T03:30:00-05:00"),  # no 2:30 that night
        ("3/8 1:30am", SPRING_FORWARD, "2026-03-08T01:30:00-06:00"),
        ("yesterday 5pm", FALL_BACK, "2026-10-31T17:00:00-05:00"),
        ("11/1 1:30am", FALL_BACK, "2026-11-01T01:30:00-05:00"),  # the first 1:30
        ("11 hours ago", FALL_BACK, "2026-11-01T00:00:00-05:00"),
        ("now", FALL_BACK, "2026-11-01T10:00:00-06:00"),
    ],
)
def test_daylight_saving_edges_in_chicago(text, at, expected):
    assert parse_datetime(text, at, CHICAGO).isoformat() == expected


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("today", "Europe/Berlin", "2026-11-21T16:10:00+01:00"),
        ("yesterday 5pm", "Europe/Berlin", "2026-11-20T17:00:00+01:00"),
        ("6/1 9am", "Europe/Berlin", "2026-06-01T09:00:00+02:00"),
        ("today", "Australia/Sydney", "2026-11-22T02:10:00+11:00"),  # already Sunday there
        ("yesterday 5pm", "Australia/Sydney", "2026-11-21T17:00:00+11:00"),
        ("11pm", "Australia/Sydney", "2026-11-21T23:00:00+11:00"),
        ("last night", "Australia/Sydney", "2026-11-21T22:00:00+11:00"),
        ("6/1 9am", "Australia/Sydney", "2026-06-01T09:00:00+10:00"),
        ("today 5pm", "Asia/Kolkata", "2026-11-21T17:00:00+05:30"),
        ("now", "UTC", "2026-11-21T15:10:00+00:00"),
        ("now", "Not/AZone", "2026-11-21T15:10:00+00:00"),  # an unknown zone reads as UTC
    ],
)
def test_other_time_zones(text, zone, expected):
    assert parse_datetime(text, SATURDAY, zone).isoformat() == expected


def test_a_naive_time_is_taken_as_utc():
    naive = datetime(2026, 11, 21, 15, 10)
    assert parse_datetime("now", naive, CHICAGO).isoformat() == "2026-11-21T09:10:00-06:00"


def test_zone_of_falls_back_to_utc():
    assert zone_of("America/Chicago").key == "America/Chicago"
    assert zone_of("") is UTC and zone_of("Mars/Olympus") is UTC
