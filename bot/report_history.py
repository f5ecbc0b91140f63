"""A report's history for staff: one ReportEvent row per step of its life, written in the same
transaction as the step (created, submitted, awaiting_number, delayed, rejected, failed,
unconfirmed, status, retried, erased).

`detail` holds only what is ours or the city's: the request number, the city's token, its
status notes or refusal, our error. Never the resident's words, phone or address; and since
the city's notes or refusal may quote them, those details are blanked when the report's
personal data is (`erased`).
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import Session, select

from bot.db import session_scope
from bot.models import ReportEvent

DETAIL_LIMIT = 300  # characters of a detail kept
# Kinds whose detail is only ours (a number, a token, who retried): kept after an erasure.
KEPT_DETAIL = ("created", "submitted", "awaiting_number", "retried", "erased")


def record(
    session: Session, report_id: int, kind: str, status: str | None = None, detail: str = ""
) -> None:
    """Add one step of a report's history to `session` (committed with the change it records)."""
    detail = " ".join(str(detail or "").split())
    if len(detail) > DETAIL_LIMIT:
        detail = detail[: DETAIL_LIMIT - 1] + "…"
    session.add(
        ReportEvent(
            report_id=report_id,
            kind=kind[:32],
            status=str(status)[:32] if status is not None else None,
            detail=detail,
        )
    )


def history(report_id: int) -> list[ReportEvent]:
    """The report's history, oldest first."""
    with session_scope() as session:
        events = list(
            session.exec(
                select(ReportEvent)
                .where(ReportEvent.report_id == report_id)
                .order_by(ReportEvent.at, ReportEvent.id)
            ).all()
        )
        for event in events:
            session.expunge(event)
        return events


def erased(session: Session, report_id: int) -> None:
    """The report's personal data went: recorded, and the city's notes and errors in its
    history (which may quote the resident) go too."""
    session.execute(
        update(ReportEvent)
        .where(ReportEvent.report_id == report_id, ReportEvent.kind.not_in(KEPT_DETAIL))
        .values(detail="")
        .execution_options(synchronize_session=False)
    )
    record(session, report_id, "erased")


def forget(session: Session, report_id: int) -> None:
    """Delete the report's history, before the report row itself is deleted (foreign key)."""
    session.flush()  # events added in this transaction are deleted too
    session.execute(
        delete(ReportEvent)
        .where(ReportEvent.report_id == report_id)
        .execution_options(synchronize_session=False)
    )
