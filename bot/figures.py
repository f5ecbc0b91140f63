"""The day's figures for staff: reports by channel and service, completion, time to a number.

A minimal version for the staff console; the figures work (issue 20) owns the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median

from sqlmodel import col, select

from bot.db import session_scope
from bot.models import Contact, Conversation, Direction, Message, Report


@dataclass(frozen=True)
class DayFigures:
    """One day's figures (UTC day)."""

    day: date
    reports: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)
    conversations_started: int = 0
    completed: int = 0
    completion_rate: float | None = None
    median_messages_per_report: float | None = None
    median_seconds_to_number: float | None = None
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)


def day_figures(day: date) -> DayFigures:
    """The figures of `day` (00:00 to 24:00 UTC)."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    by_channel: dict[str, int] = {}
    by_service: dict[str, int] = {}
    by_hour = [0] * 24
    to_number: list[float] = []
    messages: list[int] = []
    with session_scope() as session:
        reports = session.exec(
            select(Report, Contact.channel)
            .join(Contact, col(Contact.id) == col(Report.contact_id))
            .where(Report.created_at >= start, Report.created_at < end)
        ).all()
        for report, channel in reports:
            by_channel[channel] = by_channel.get(channel, 0) + 1
            name = report.service_name or report.service_code
            by_service[name] = by_service.get(name, 0) + 1
            by_hour[report.created_at.astimezone(UTC).hour] += 1
            if report.submitted_at is not None:
                to_number.append((report.submitted_at - report.created_at).total_seconds())
            messages.append(
                len(
                    session.exec(
                        select(Message.id).where(
                            Message.conversation_id == report.conversation_id,
                            Message.direction == Direction.IN,
                            Message.created_at >= start,
                            Message.created_at <= report.created_at,
                        )
                    ).all()
                )
            )
        started = len(
            session.exec(
                select(Conversation.id).where(
                    Conversation.created_at >= start, Conversation.created_at < end
                )
            ).all()
        )
    # A conversation completed: it ended in a report that day.
    completed = len({r.conversation_id for r, _ in reports})
    return DayFigures(
        day=day,
        reports=len(reports),
        by_channel=dict(sorted(by_channel.items())),
        by_service=dict(sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0]))),
        conversations_started=started,
        completed=completed,
        completion_rate=min(1.0, completed / started) if started else None,
        median_messages_per_report=median(messages) if messages else None,
        median_seconds_to_number=median(to_number) if to_number else None,
        by_hour=by_hour,
    )
