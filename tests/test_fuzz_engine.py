"""Fuzzing the conversation engine's `step()` (issue #15): whole conversations of hostile and
ordinary messages, pins, photos (and where they were taken), timeouts and answers to the
engine's own actions (addresses found or not, statuses with hostile notes, report lists), on SMS
and on channels that count characters, with the sandbox city's catalogue and every built-in
language.

Properties: step() never raises; its state survives JSON (as the database keeps it) and reads
back the same; its replies are text; each step is handled within tests.fuzzing.SLOWEST_ALLOWED.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from conversations import (
    FindNearby,
    Geocode,
    Geocoded,
    LookupStatus,
    Message,
    Nearby,
    NearbyRequest,
    Place,
    Reply,
    State,
    StatusFound,
    step,
)
from conversations.types import ListReports, ReportLine, ReportsListed, TimedOut
from tests.conversations.corpus import make_context
from tests.fuzzing import figures, fuzz_settings, hostile_text, said

START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
CONTEXT = replace(make_context(), nearby_off=frozenset())  # open requests nearby checked

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
places = st.builds(
    Place,
    address=hostile_text(max_size=40),
    lat=st.one_of(st.none(), latitudes),
    lon=st.one_of(st.none(), longitudes),
    exact=st.booleans(),
)
messages = st.builds(
    lambda text, pin, media, taken: (text, pin, media, taken),
    said(),
    st.one_of(st.none(), st.none(), places),
    st.lists(st.sampled_from(["telegram-file:abc", "https://x.test/1.jpg"]), max_size=2),
    st.one_of(st.none(), st.none(), places),  # where a photo was taken (its GPS)
)
nearby_requests = st.builds(
    NearbyRequest,
    number=hostile_text(max_size=12),
    service_name=hostile_text(max_size=20),
    address=hostile_text(max_size=40),
    status=hostile_text(max_size=12),
    opened=st.one_of(st.none(), st.just(START)),
)
report_lines = st.builds(
    ReportLine,
    number=hostile_text(max_size=12),
    service_name=hostile_text(max_size=20),
    status=hostile_text(max_size=12),
    filed_at=st.one_of(st.none(), st.just(START)),
)


def _answer(action, draw):
    """The worker's answer to one of the engine's actions, drawn (or None: not answered)."""
    if isinstance(action, Geocode):
        found = draw(st.lists(places, max_size=3))
        return Geocoded(action.query, tuple(found), failed=draw(st.booleans()))
    if isinstance(action, LookupStatus):
        return StatusFound(
            action.number,
            status=draw(st.one_of(st.none(), hostile_text(max_size=12))),
            notes=draw(hostile_text(max_size=200)),
            service_name=draw(hostile_text(max_size=20)),
            failed=draw(st.booleans()),
            own=draw(st.booleans()),
        )
    if isinstance(action, ListReports):
        return ReportsListed(tuple(draw(st.lists(report_lines, max_size=4))))
    if isinstance(action, FindNearby):
        found = tuple(draw(st.lists(nearby_requests, max_size=4)))
        return Nearby(action.service_code, action.lat, action.lon, found)
    return None


def test_fuzz_step():
    with figures("engine: step(), one input a step") as kept:

        @fuzz_settings(250)
        @given(data=st.data(), chars=st.sampled_from([None, None, 2000, 4096]))
        def one(data, chars):
            context = replace(CONTEXT, message_chars=chars)
            state, at = State(), START
            pending: list = []
            for _ in range(data.draw(st.integers(1, 10))):
                if pending and data.draw(st.integers(0, 3)):
                    event = _answer(pending.pop(0), data.draw)
                    if event is None:
                        continue
                elif data.draw(st.integers(0, 12)) == 0:
                    at += timedelta(hours=1)
                    event = TimedOut(at)
                else:
                    at += timedelta(seconds=45)
                    text, pin, media, taken = data.draw(messages)
                    event = Message(
                        text, at, location=pin, media=tuple(media), photo_location=taken
                    )
                with kept.trying():
                    turn = step(state, event, context)
                    stored = json.loads(json.dumps(turn.state.to_dict()))
                    assert State.from_dict(stored).to_dict() == stored
                    for reply in turn.replies:
                        assert isinstance(reply, Reply) and isinstance(reply.text, str)
                        assert all(isinstance(option, str) for option in reply.options)
                kept.outcome(turn.state.name)
                state = State.from_dict(stored)
                pending.extend(turn.actions)

        one()
