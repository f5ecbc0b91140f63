"""The day's figures for staff (the console, `intake311 figures`): reports by channel, service
and hour, how many conversations that began a report ended with one, and how long it took.

A day is a calendar day in CITY_TIMEZONE. Counts are aggregated in the database; the medians
are taken in Python over one value per report of the day. Figures come from what is kept:
the messages of residents who were erased (DELETE MY DATA, STOP, RETENTION_DAYS) are gone, so
a past day's conversation figures can only shrink with time, and a conversation still going
on counts on the day of its latest message.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, func, select

from bot.db import session_scope
from bot.models import Contact, Conversation, Direction, Message, Report
from bot.settings import get_settings
from conversations import State
from conversations.engine import REPORT_STATES
from conversations.states import StateName

# How far before the day a report's messages are counted from, at most (a conversation's
# earlier chat, STATUS questions of last week, is not what the report took).
REPORT_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class DayFigures:
    """One day's figures (see `day_figures` for what each counts)."""

    day: date
    reports: int  # reports created that day
    by_channel: dict[str, int]
    by_service: dict[str, int]  # by service name (code when no name)
    conversations_started: int  # conversations in which the resident began a report that day
    completed: int  # of those, the ones that ended with a report
    completion_rate: float | None  # completed / started, None when none started
    median_messages_per_report: float | None  # the resident's messages it took per report
    median_seconds_to_number: float | None  # report created -> the city's request number
    by_hour: list[int]  # 24 entries: reports created per local hour

    def to_dict(self) -> dict:
        """A JSON-safe copy (the day as YYYY-MM-DD)."""
        return {**asdict(self), "day": self.day.isoformat()}


def hour_bounds(day: date, zone: ZoneInfo) -> list[datetime]:
    """The 25 instants (UTC) that start each local hour of `day` and end the last one.

    On a day the clocks go forward the skipped hour is empty (its bounds are equal); on a day
    they go back the repeated hour counts in the one hour of that name.
    """
    starts = [datetime.combine(day, time(hour), zone) for hour in range(24)]
    starts.append(datetime.combine(day + timedelta(days=1), time(0), zone))
    return [moment.astimezone(ZoneInfo("UTC")) for moment in starts]


def day_figures(day: date | None = None) -> DayFigures:
    """The figures of `day` in CITY_TIMEZONE (None: today there).

    - reports, by_channel (the resident's channel), by_service, by_hour: reports created in
      the day (the resident confirmed them), whatever became of them.
    - conversations_started: conversations with a message from the resident in the day that
      either got a report created in the day (completed), or, having had their latest message
      from the resident in the day, are still left mid-report: in one of the engine's report
      states (service to confirm, or the offer of duplicates), offered to resume, or holding a
      paused report (a time-out keeps one worth finishing). Greetings, STATUS, MY REPORTS,
      LANGUAGE and a report abandoned before anything was filled in are not reports begun.
    - completion_rate: completed / conversations_started.
    - median_messages_per_report: per report of the day, the resident's messages in its
      conversation after the previous report there (and no earlier than REPORT_WINDOW before
      the day) up to its creation; reports whose messages are no longer kept are left out.
    - median_seconds_to_number: per report of the day that has its request number, from its
      creation to when the number came (Report.submitted_at).
    """
    zone = ZoneInfo(get_settings().city_timezone)
    day = day or datetime.now(zone).date()
    bounds = hour_bounds(day, zone)
    start, end = bounds[0], bounds[-1]
    made = and_(Report.created_at >= start, Report.created_at < end)
    with session_scope() as session:
        by_hour = _by_hour(session, made, bounds)
        by_channel = dict(
            session.execute(
                select(Contact.channel, func.count(Report.id))
                .join(Contact, Contact.id == Report.contact_id)
                .where(made)
                .group_by(Contact.channel)
            ).all()
        )
        by_service: dict[str, int] = {}
        for code, name, count in session.execute(
            select(Report.service_code, Report.service_name, func.count(Report.id))
            .where(made)
            .group_by(Report.service_code, Report.service_name)
        ).all():
            key = name or code
            by_service[key] = by_service.get(key, 0) + count
        completed, started = _conversations(session, made, start, end)
        messages = _messages_per_report(session, made, start - REPORT_WINDOW)
        waits = [
            (submitted - created).total_seconds()
            for created, submitted in session.execute(
                select(Report.created_at, Report.submitted_at).where(
                    made, Report.submitted_at.is_not(None)
                )
            ).all()
        ]
    return DayFigures(
        day=day,
        reports=sum(by_hour),
        by_channel=dict(sorted(by_channel.items(), key=lambda item: (-item[1], item[0]))),
        by_service=dict(sorted(by_service.items(), key=lambda item: (-item[1], item[0]))),
        conversations_started=started,
        completed=completed,
        completion_rate=completed / started if started else None,
        median_messages_per_report=_median([m for m in messages if m > 0]),
        median_seconds_to_number=_median([max(0.0, w) for w in waits]),
        by_hour=by_hour,
    )


def _by_hour(session: Session, made, bounds: list[datetime]) -> list[int]:
    """Reports created in each local hour, counted in one query."""
    columns = [
        func.count(case((and_(Report.created_at >= a, Report.created_at < b), Report.id)))
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    return [int(n or 0) for n in session.execute(select(*columns).where(made)).one()]


def _conversations(session: Session, made, start: datetime, end: datetime) -> tuple[int, int]:
    """(completed, started): see `day_figures`."""
    inbound = and_(Message.direction == Direction.IN, Message.created_at >= start)
    spoke = select(Message.conversation_id).where(inbound, Message.created_at < end)
    reported = select(Report.conversation_id).where(made)
    completed = session.execute(
        select(func.count(func.distinct(Report.conversation_id))).where(
            made, Report.conversation_id.in_(spoke)
        )
    ).scalar_one()
    later = exists().where(
        Message.conversation_id == Conversation.id,
        Message.direction == Direction.IN,
        Message.created_at >= end,
    )
    states = session.exec(
        select(Conversation.state).where(
            Conversation.id.in_(spoke), Conversation.id.not_in(reported), ~later
        )
    ).all()
    left_mid_report = sum(mid_report(state) for state in states)
    return completed, completed + left_mid_report


def mid_report(stored: dict | None) -> bool:
    """Whether a stored conversation state holds a report begun and not filed."""
    state = State.from_dict(stored)
    return (
        state.name in REPORT_STATES
        or state.name == StateName.RESUME
        or state.draft.held is not None
    )


def _messages_per_report(session: Session, made, since: datetime) -> list[int]:
    """The resident's messages each report of the day took (see `day_figures`)."""
    earlier = aliased(Report)
    previous = (
        select(func.max(earlier.created_at))
        .where(
            earlier.conversation_id == Report.conversation_id,
            earlier.created_at < Report.created_at,
        )
        .correlate(Report)
        .scalar_subquery()
    )
    taken = (
        select(func.count(Message.id))
        .where(
            Message.conversation_id == Report.conversation_id,
            Message.direction == Direction.IN,
            Message.created_at <= Report.created_at,
            Message.created_at >= since,
            or_(previous.is_(None), Message.created_at > previous),
        )
        .correlate(Report)
        .scalar_subquery()
    )
    return [int(n or 0) for n in session.execute(select(taken).where(made)).scalars().all()]


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None
