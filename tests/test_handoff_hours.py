"""HANDOFF_HOURS read and checked (bot/handoff_hours.py), the setting refused when unreadable,
and an agent's reply on Messenger after its 24-hour window (the HUMAN_AGENT tag)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.channels import messenger
from bot.channels.base import Outgoing, SendError
from bot.handoff_hours import parse_hours
from bot.payloads import OutboundPayload
from bot.settings import Settings

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
CHICAGO = "America/Chicago"


def test_weekday_hours_in_the_citys_zone():
    hours = parse_hours("Mon-Fri 08:00-17:00")
    assert hours.open_at(MONDAY_9, "UTC")
    assert not hours.open_at(MONDAY_9, CHICAGO)  # 03:00 in Chicago
    assert hours.open_at(MONDAY_9 + timedelta(hours=6), CHICAGO)  # 09:00 there
    assert not hours.open_at(MONDAY_9 + timedelta(days=5), "UTC")  # Saturday
    assert not hours.open_at(MONDAY_9.replace(hour=17), "UTC")  # the end is not in
    assert hours.mode(MONDAY_9, "UTC") == "open"
    assert hours.mode(MONDAY_9.replace(hour=18), "UTC") == "closed"


def test_several_ranges_a_single_day_and_every_day():
    hours = parse_hours("Mon-Fri 08:00-12:00, Mon-Fri 13:00-17:00; Sat 09:00-12:00")
    assert not hours.open_at(MONDAY_9.replace(hour=12, minute=30), "UTC")  # lunch
    assert hours.open_at(MONDAY_9.replace(hour=13), "UTC")
    assert hours.open_at(MONDAY_9 + timedelta(days=5), "UTC")  # Saturday 09:00
    assert not hours.open_at(MONDAY_9 + timedelta(days=6), "UTC")  # Sunday
    daily = parse_hours("07:00-19:00")
    assert all(daily.open_at(MONDAY_9 + timedelta(days=d), "UTC") for d in range(7))
    weekend = parse_hours("Sat-Sun 10:00-14:00")  # a run that wraps past Sunday is allowed too
    assert parse_hours("Fri-Mon 10:00-14:00").open_at(MONDAY_9.replace(hour=10), "UTC")
    assert not weekend.open_at(MONDAY_9.replace(hour=10), "UTC")


def test_empty_is_always_and_off_is_never():
    assert parse_hours("").mode(MONDAY_9, "UTC") == "open"
    assert parse_hours(" OFF ").mode(MONDAY_9, "UTC") == "off"


@pytest.mark.parametrize(
    "written", ["Mon-Fri", "Mon-Fri 17:00-08:00", "Funday 08:00-17:00", "Mon 25:00-26:00", "9-5"]
)
def test_unreadable_hours_are_refused_at_start(written):
    with pytest.raises(ValueError, match="HANDOFF_HOURS"):
        parse_hours(written)
    with pytest.raises(ValidationError):
        Settings(handoff_hours=written)


def test_an_agents_reply_after_the_window_goes_with_the_human_agent_tag():
    settings = Settings()
    late = datetime.now(UTC) - timedelta(hours=30)
    agent = Outgoing(1, "messenger:1", "hi", OutboundPayload(agent=True), last_inbound_at=late)
    assert messenger.envelope(agent, settings) == {
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
    }
    bot = Outgoing(2, "messenger:1", "hi", OutboundPayload(), last_inbound_at=late)
    with pytest.raises(SendError):
        messenger.envelope(bot, settings)  # the bot's own reply may not go
    assert OutboundPayload.from_dict(OutboundPayload(agent=True).to_dict()).agent


def test_handoff_is_off_until_a_city_sets_its_hours(monkeypatch):
    monkeypatch.delenv("HANDOFF_HOURS", raising=False)
    assert parse_hours(Settings().handoff_hours).mode(MONDAY_9, "UTC") == "off"


def test_the_demo_turns_handoff_on():
    from bot.cli.demo import demo_env

    assert parse_hours(demo_env(8410)["HANDOFF_HOURS"]).mode(MONDAY_9, "UTC") == "open"


@pytest.mark.parametrize("days", [8, None])
def test_an_agents_reply_past_seven_days_is_refused_saying_why(days):
    last = None if days is None else datetime.now(UTC) - timedelta(days=days)
    late = Outgoing(1, "messenger:1", "hi", OutboundPayload(agent=True), last_inbound_at=last)
    with pytest.raises(SendError, match="7-day HUMAN_AGENT") as refused:
        messenger.envelope(late, Settings())
    assert not refused.value.retryable
    six = datetime.now(UTC) - timedelta(days=6, hours=23)
    ok = Outgoing(2, "messenger:1", "hi", OutboundPayload(agent=True), last_inbound_at=six)
    assert messenger.envelope(ok, Settings())["tag"] == "HUMAN_AGENT"
