"""The reply budget belongs to the channel: SMS counts segments and cuts to fit them; a channel
with a length in characters (Telegram, web chat) keeps the resident's words whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conversations import Context, Geocode, Message, State, step
from conversations.segments import cost, measured_in, segments
from tests.conversations.corpus import geocode, make_context

LONG = (
    "There is a very deep pothole in the right lane just past the bus stop, about two feet "
    "wide, and cars keep swerving into the bike lane to avoid it, which is dangerous for "
    "the kids who ride to the school on the corner every morning around eight"
)


def summary_after(context: Context) -> str:
    """The summary's text for a pothole whose description is LONG."""
    state, at = State(consent=True), datetime(2026, 12, 5, 15, tzinfo=UTC)
    replies = []
    for text in ("pothole", "120 Main St", LONG, "1"):
        events = [Message(text, at)]
        replies = []
        while events:
            turn = step(state, events.pop(), context)
            state, replies = turn.state, replies + list(turn.replies)
            events += [geocode(a.query) for a in turn.actions if isinstance(a, Geocode)]
    return "\n".join(reply.text for reply in replies)


def test_sms_cuts_a_long_description_in_the_summary_and_other_channels_keep_it():
    on_sms = summary_after(make_context())
    on_chat = summary_after(replace(make_context(), message_chars=4096))
    assert LONG[:40] in on_sms and LONG not in on_sms and segments(on_sms) <= 3
    assert LONG in on_chat


def test_cost_counts_segments_on_sms_and_messages_elsewhere():
    text = "x" * 500
    assert cost(text) == segments(text) == 4
    with measured_in(4096):
        assert cost(text) == 1 and cost("x" * 5000) == 2
    assert cost(text) == 4  # the measure is the step's only
