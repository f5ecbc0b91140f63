"""The engine's actions, carried out for a turn: addresses looked up, requests' statuses asked of
the city, the resident's reports listed, confirmed reports stored for filing."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.jobs.common import expected_at
from bot.models import Conversation, Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import get_settings
from conversations import FileReport, StatusFound
from conversations.types import ReportLine, ReportsListed

MY_REPORTS_SHOWN = 3


def new_report(conversation: Conversation, action: FileReport) -> Report:
    """A confirmed report as a pending Report of the conversation (the caller queues submit)."""
    return Report(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        service_code=action.service_code,
        service_name=action.service_name,
        description=action.description,
        address=action.address,
        lat=action.lat,
        lon=action.lon,
        attributes=dict(action.attributes),
        media=list(action.media),
        phone=action.phone or None,
        email=action.email or None,
        contact_ok=action.contact_ok,
    )


def list_reports(session: Session, contact_id: int) -> ReportsListed:
    """The resident's latest reports, newest first, for MY REPORTS (the engine shows the day
    each was filed on the city's calendar)."""
    reports = session.exec(
        select(Report)
        .where(Report.contact_id == contact_id)
        .order_by(Report.id.desc())
        .limit(MY_REPORTS_SHOWN)
    ).all()
    return ReportsListed(
        tuple(
            ReportLine(
                number=report.service_request_id or "",
                service_name=report.service_name,
                status=report.status or "",
                filed_at=report.created_at,
            )
            for report in reports
        )
    )


def lookup_status(
    client: Open311Client,
    number: str,
    session: Session | None = None,
    contact_id: int | None = None,
) -> StatusFound:
    """Ask the city about request `number` for a resident's STATUS command; one the city says
    it does not have is looked for among the contact's filed reports (a city may hide new
    requests until its staff moderate them)."""
    try:
        found = client.request(number)
    except Open311Error:
        return StatusFound(number, failed=True)
    if not found:
        own = session is not None and filed_by(session, contact_id, number)
        return StatusFound(number, own=own)
    return StatusFound(
        number,
        status=str(found.get("status") or "open"),
        notes=str(found.get("status_notes") or ""),
        service_name=str(found.get("service_name") or ""),
        expected=expected_at(found.get("expected_datetime"), get_settings()),
    )


def filed_by(session: Session, contact_id: int | None, number: str) -> bool:
    """Whether the contact has a report the city numbered `number`."""
    return (
        session.exec(
            select(Report.id).where(
                Report.contact_id == contact_id, Report.service_request_id == number
            )
        ).first()
        is not None
    )
