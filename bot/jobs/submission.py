"""submit and resolve_token: a confirmed report to the city, and its request number back."""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlmodel import Session

from bot import geocoding, queue
from bot.db import session_scope
from bot.jobs.common import (
    add_notice,
    backoff,
    due_after,
    language_of,
    open311_client,
    open311_profile,
)
from bot.models import Contact, Report
from bot.open311.client import Open311Error
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import notices

log = logging.getLogger(__name__)
PHONE_SCHEMES = ("tel", "whatsapp")  # contact addresses that are the resident's phone number

TOKEN_BACKOFF_BASE = 5


def submit(report_id: int) -> str:
    """File a pending report with the city; returns the report's new state."""
    report = _claimed(report_id, "pending", "submitting")
    if isinstance(report, str):
        return report
    settings = get_settings()
    fields, attributes = request_fields(report, settings), dict(report.attributes or {})
    client = open311_client(settings)
    try:
        answer = client.create_request(fields, attributes)
    except Open311Error as exc:
        return _submit_failed(report_id, exc)
    finally:
        client.close()
    number = answer.get("service_request_id")
    with session_scope() as session:
        report = session.get(Report, report_id)
        report.updated_at = utcnow()
        if number:
            notice = _mark_submitted(session, report, str(number))
        else:
            report.state = "awaiting_number"
            report.token = str(answer.get("token"))
            report.next_attempt_at = due_after(TOKEN_BACKOFF_BASE)
    if number:
        queue.enqueue("bot.jobs.deliver", notice.id)
        return "submitted"
    queue.enqueue("bot.jobs.resolve_token", report_id, delay=TOKEN_BACKOFF_BASE)
    return "awaiting_number"


def resolve_token(report_id: int) -> str:
    """Turn a report's token into the city's request number, polling with backoff."""
    report = _claimed(report_id, "awaiting_number", "awaiting_number")
    if isinstance(report, str):
        return report
    client = open311_client(get_settings())
    try:
        answer = client.token(report.token)
    except Open311Error as exc:
        log.warning("token of report %s not resolved: %s", report_id, exc)
        answer = None
    finally:
        client.close()
    number = (answer or {}).get("service_request_id")
    if not number:
        delay = backoff(report.attempts, base=TOKEN_BACKOFF_BASE)
        with session_scope() as session:
            session.get(Report, report_id).next_attempt_at = due_after(delay)
        queue.enqueue("bot.jobs.resolve_token", report_id, delay=delay)
        return "awaiting_number"
    with session_scope() as session:
        if not claim(session, report_id, "awaiting_number", "submitted"):
            return "submitted"
        notice = _mark_submitted(session, session.get(Report, report_id), str(number))
    queue.enqueue("bot.jobs.deliver", notice.id)
    return "submitted"


def claim(session: Session, report_id: int, from_state: str, to_state: str) -> bool:
    """Move a report between states only if it is still in `from_state` (one winner per race)."""
    result = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.state == from_state)
        .values(state=to_state, attempts=Report.attempts + 1, updated_at=utcnow())
    )
    return result.rowcount == 1


def _claimed(report_id: int, from_state: str, to_state: str) -> Report | str:
    """The report, claimed for this job; else the state that made the claim fail."""
    with session_scope() as session:
        claimed = claim(session, report_id, from_state, to_state)
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        return report if claimed else report.state


def request_fields(report: Report, settings: Settings) -> dict:
    """The POST requests fields we know for a report; the client applies the city's profile
    (which location fields it wants, the description's length limit).

    A city that needs coordinates gets the typed address looked up once more here, for the
    reports taken while the geocoder was down.
    """
    fields = {"service_code": report.service_code, "description": report.description}
    if report.lat is None and report.address and _needs_coordinates(settings):
        found = geocoding.lookup(report.address, settings)
        located = [p for p in found.places if p.lat is not None]
        if located:
            report.lat, report.lon = located[0].lat, located[0].lon
    if report.lat is not None and report.lon is not None:
        fields["lat"] = f"{report.lat:.6f}"
        fields["long"] = f"{report.lon:.6f}"
    if report.address:
        fields["address_string"] = report.address
    if report.contact_ok:  # only with the resident's consent
        fields.update(_contact_fields(report))
    return fields


def _contact_fields(report: Report) -> dict:
    """The resident's phone (their number on a phone channel, else one they typed) and email."""
    fields = {}
    with session_scope() as session:
        contact = session.get(Contact, report.contact_id)
        address = contact.address if contact else ""
    scheme, _, number = address.partition(":")
    phone = number if scheme in PHONE_SCHEMES else report.phone
    if phone:
        fields["phone"] = phone
    if report.email:
        fields["email"] = report.email
    return fields


def _needs_coordinates(settings: Settings) -> bool:
    return open311_profile(settings).location in ("both", "latlong")


def _mark_submitted(session: Session, report: Report, number: str):
    report.state = "submitted"
    report.service_request_id = number
    report.status = "open"
    report.next_attempt_at = None
    report.submitted_at = report.status_changed_at = utcnow()
    return add_notice(session, report, notices.report_filed(
        number, report.service_name, language_of(session, report, get_settings())
    ))


def _submit_failed(report_id: int, exc: Open311Error) -> str:
    """Decide what a failed POST means for the report and its resident; return the new state.

    - the city refused the report itself: failed, and the resident hears the city's reason;
    - the city may have stored it but we cannot read its answer: unconfirmed, for staff to check
      (sending it again could file it twice);
    - anything else (down, slow, our key or endpoint refused): pending, retried with backoff,
      and the resident hears once that it is saved. Our setup's errors are logged as errors and
      never texted to residents.
    """
    if exc.uncertain:
        state = "unconfirmed"
        log.error("report %s: the city's answer could not be read; it may be filed: %s",
                  report_id, exc)
    elif exc.operator_error:
        state = "pending"
        log.error("report %s: the city refused our credentials or endpoint: %s", report_id, exc)
    elif exc.retryable:
        state = "pending"
        log.warning("report %s not filed yet: %s", report_id, exc)
    else:
        state = "failed"
        log.warning("report %s refused by the city: %s", report_id, exc)
    notice = None
    with session_scope() as session:
        report = session.get(Report, report_id)
        report.state = state
        report.last_error = str(exc)[:2000]
        report.updated_at = utcnow()
        delay = backoff(report.attempts)
        if state == "failed":
            notice = add_notice(session, report, notices.report_rejected(
                _reason(exc), language_of(session, report, get_settings())
            ))
        else:
            if state == "pending":
                report.next_attempt_at = due_after(delay)
            if not report.delay_notice_sent:
                report.delay_notice_sent = True
                notice = add_notice(session, report, notices.report_delayed(
                    language_of(session, report, get_settings())
                ))
    if notice is not None:
        queue.enqueue("bot.jobs.deliver", notice.id)
    if state == "pending":
        queue.enqueue("bot.jobs.submit", report_id, delay=delay)
    return state


def _reason(exc: Open311Error) -> str:
    for error in exc.errors or ():
        if error.get("description"):
            return str(error["description"])
    return "the city's system refused it"
