"""The day's figures (bot.figures) over real rows, on SQLite and PostgreSQL: a known day gives
exactly its numbers, a report at 23:30 local counts on that local day, an empty day is zeros;
and `intake311 figures`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db import session_scope
from bot.figures import day_figures, hour_bounds, mid_report
from bot.models import Contact, Conversation, Direction, Message, MessageStatus, Report
from bot.settings import get_settings
from conversations import State
from conversations.states import StateName
from conversations.types import Snapshot

ZONE = ZoneInfo("America/Chicago")
DAY = date(2026, 3, 10)  # CDT, UTC-5


@pytest.fixture
def chicago(env, monkeypatch):
    monkeypatch.setenv("CITY_TIMEZONE", "America/Chicago")
    get_settings.cache_clear()
    yield get_settings()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local time of the city, as the aware UTC instant it is stored as."""
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


class Resident:
    """One resident's contact and conversation, with messages and reports written as rows."""

    count = 0

    def __init__(self, session, channel: str = "sms", state: State | None = None):
        Resident.count += 1
        self.session = session
        contact = Contact(address_key=f"figures-{Resident.count}", channel=channel)
        session.add(contact)
        session.flush()
        self.contact = contact
        self.conversation = Conversation(contact_id=contact.id, state=(state or State()).to_dict())
        session.add(self.conversation)
        session.flush()

    def says(self, when: datetime, out_too: bool = True) -> None:
        for direction in (Direction.IN, Direction.OUT) if out_too else (Direction.IN,):
            self.session.add(
                Message(
                    conversation_id=self.conversation.id,
                    contact_id=self.contact.id,
                    channel=self.contact.channel,
                    direction=direction,
                    text="…",
                    status=MessageStatus.PROCESSED,
                    created_at=when if direction == Direction.IN else when + timedelta(seconds=1),
                )
            )

    def reports(self, when: datetime, code: str, name: str = "", number_after: float | None = None):
        self.session.add(
            Report(
                conversation_id=self.conversation.id,
                contact_id=self.contact.id,
                service_code=code,
                service_name=name,
                created_at=when,
                submitted_at=when + timedelta(seconds=number_after)
                if number_after is not None
                else None,
            )
        )


def a_known_day() -> None:
    with session_scope() as session:
        a = Resident(session)  # two reports in a row
        for minute in (0, 1, 2):
            a.says(at(DAY, 9, minute))
        a.reports(at(DAY, 9, 3), "POTHOLE", "Pothole in Street", number_after=60)
        a.says(at(DAY, 10, 0))
        a.says(at(DAY, 10, 1))
        a.reports(at(DAY, 10, 2), "GRAFFITI", "", number_after=120)

        b = Resident(session, channel="telegram")  # late at night: still that local day
        b.says(at(DAY, 9) - timedelta(days=3))  # long before: not what the report took
        b.says(at(DAY, 23, 20))
        b.reports(at(DAY, 23, 30), "POTHOLE", "Pothole in Street")

        c = Resident(session, state=State(name=StateName.SERVICE))  # began, left mid-report
        c.says(at(DAY, 12))
        paused = State()
        paused.draft.held = Snapshot(StateName.LOCATION)
        d = Resident(session, state=paused)  # timed out, its report kept for later
        d.says(at(DAY, 15))

        e = Resident(session)  # only said hello (or asked STATUS): idle
        e.says(at(DAY, 13))
        f = Resident(session, state=State(name=StateName.SERVICE))  # went on the next day
        f.says(at(DAY, 14))
        f.says(at(DAY + timedelta(days=1), 8))

        g = Resident(session)  # the evening before, local (already DAY in UTC)
        g.says(at(DAY - timedelta(days=1), 23, 58))
        g.reports(at(DAY - timedelta(days=1), 23, 59), "POTHOLE", "Pothole in Street", 30)


def test_a_known_day_gives_exactly_its_figures(chicago):
    a_known_day()
    found = day_figures(DAY)
    assert found.day == DAY
    assert found.reports == 3
    assert found.by_channel == {"sms": 2, "telegram": 1}
    assert found.by_service == {"Pothole in Street": 2, "GRAFFITI": 1}
    assert found.conversations_started == 4  # a, b (completed), c, d (left mid-report)
    assert found.completed == 2
    assert found.completion_rate == pytest.approx(0.5)
    assert found.median_messages_per_report == 2.0  # 3, 2 and 1 messages
    assert found.median_seconds_to_number == 90.0  # 60 and 120 seconds; b has no number yet
    expected_hours = [0] * 24
    expected_hours[9] = expected_hours[10] = expected_hours[23] = 1
    assert found.by_hour == expected_hours

    # The evening before holds g's report (stored on DAY's UTC date), and nothing of b's.
    before = day_figures(DAY - timedelta(days=1))
    assert before.reports == 1 and before.by_hour[23] == 1
    assert before.median_seconds_to_number == 30.0
    assert before.completed == before.conversations_started == 1


def test_an_empty_day_is_zeros_and_nones(chicago):
    a_known_day()
    found = day_figures(date(2026, 1, 1))
    assert (found.reports, found.conversations_started, found.completed) == (0, 0, 0)
    assert found.by_channel == {} and found.by_service == {}
    assert found.completion_rate is None
    assert found.median_messages_per_report is None
    assert found.median_seconds_to_number is None
    assert found.by_hour == [0] * 24


def test_today_is_the_citys_today(chicago):
    assert day_figures().day == datetime.now(ZONE).date()


def test_hours_on_the_days_the_clocks_change():
    spring = hour_bounds(date(2026, 3, 8), ZONE)
    assert len(spring) == 25 and spring[2] == spring[3]  # 02:00 never happens
    assert spring[-1] - spring[0] == timedelta(hours=23)
    autumn = hour_bounds(date(2026, 11, 1), ZONE)
    assert autumn[2] - autumn[1] == timedelta(hours=2)  # 01:00 twice, one bucket
    assert autumn[-1] - autumn[0] == timedelta(hours=25)


def test_what_counts_as_a_report_begun():
    assert not mid_report(State().to_dict())
    assert not mid_report(None)
    assert not mid_report(State(name=StateName.LANGUAGE).to_dict())
    assert mid_report(State(name=StateName.CONFIRM).to_dict())
    assert mid_report(State(name=StateName.RESUME).to_dict())


def test_the_figures_command(chicago):
    a_known_day()
    result = CliRunner().invoke(main, ["figures", "--day", DAY.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["day"] == "2026-03-10" and found["reports"] == 3
    assert found["completion_rate"] == 0.5 and found["by_hour"][23] == 1

    text = CliRunner().invoke(main, ["figures", "--day", DAY.isoformat()])
    assert text.exit_code == 0
    assert "3 report(s)" in text.output and "completion 50%" in text.output
    assert "request number: 90 s" in text.output  # the median wait for it

    wrong = CliRunner().invoke(main, ["figures", "--day", "10/03/2026"])
    assert wrong.exit_code == 2 and "YYYY-MM-DD" in wrong.output
