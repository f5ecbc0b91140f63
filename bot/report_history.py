"""A report's history for staff: filed, each city status, failed, retried (ReportEvent rows).

A minimal version for the staff console; the report history work (issue 20) records the steps.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.db import session_scope
from bot.models import ReportEvent

MAX_DETAIL_CHARS = 300


def record(
    session: Session, report_id: int, kind: str, status: str | None = None, detail: str = ""
) -> None:
    """Add one step of the report's history to `session` (committed with the change)."""
    session.add(
        ReportEvent(
            report_id=report_id,
            kind=kind[:32],
            status=status[:32] if status else None,
            detail=detail[:MAX_DETAIL_CHARS],
        )
    )


def history(report_id: int) -> list[ReportEvent]:
    """The report's steps, oldest first."""
    with session_scope() as session:
        return list(
            session.exec(
                select(ReportEvent)
                .where(ReportEvent.report_id == report_id)
                .order_by(col(ReportEvent.at), col(ReportEvent.id))
            ).all()
        )
