"""A report's history (bot.report_history), written by the real jobs as the report's life moves:
filed, waiting for a number, delayed, given up, retried, refused, each real city status, erased;
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot import jobs, retention
from bot.db import session_scope
from bot.failures import retry
from bot.forget import forget_address
from bot.intake import conversation_for
from bot.models import Report, ReportEvent, ReportState
from bot.report_history import history, record
from bot.settings import get_settings
from bot.timeutil import utcnow
from tests.conftest import run_jobs
from tests.test_end_to_end import RESIDENT
from tests.test_filing_once import faults, the_report
from tests.test_jobs import _age, _confirm_pothole, phone, token_city

__all__ = ["faults", "phone", "token_city"]


def kinds(report_id: int) -> list[tuple[str, str | None]]:
    return [(event.kind, event.status) for event in history(report_id)]


def test_a_filed_report_and_its_real_status_changes(phone):
    _confirm_pothole(phone, "deep and wide")
    phone.text("yes")
    report = the_report()
    number = report.service_request_id
    assert kinds(report.id) == [("created", "pending"), ("submitted", "submitted")]
    assert history(report.id)[1].detail == f"request {number}"

    # The city's first answer, still "open" as filed, is its baseline: no step.
    entry = {"service_request_id": number, "status": "open", "status_notes": ""}
    assert not jobs.receive_status(report.id, entry)
    closed = entry | {"status": "Closed", "status_notes": "Filled.  " + "x" * 400}
    assert jobs.receive_status(report.id, closed)
    assert not jobs.receive_status(report.id, closed)  # the same answer again is no news
    assert jobs.receive_status(report.id, closed | {"status_notes": "Filled and sealed."})
    events = history(report.id)
    assert [(e.kind, e.status) for e in events] == [
        ("created", "pending"),
        ("submitted", "submitted"),
        ("status", "closed"),
        ("status", "closed"),
    ]
    assert events[2].detail.startswith("Filled. xxx") and len(events[2].detail) == 300
    assert events[3].detail == "Filled and sealed."
    assert [e.at for e in events] == sorted(e.at for e in events)
    # Nothing of the resident's: their words, their number.
    assert not any("deep and wide" in e.detail or RESIDENT[-4:] in e.detail for e in events)

    # Forgotten: the step is recorded, and the city's notes (which may quote them) go.
    assert forget_address(f"tel:{RESIDENT}", actor="cli:test") is not None
    events = history(report.id)
    assert [e.kind for e in events][-1] == "erased" and events[-1].detail == ""
    assert [e.detail for e in events if e.kind == "status"] == ["", ""]
    assert events[1].detail == f"request {number}"  # the number stays, as on the report


def test_a_token_then_its_number(phone, token_city):
    _confirm_pothole(phone)
    phone.text("yes")
    report = the_report()
    assert kinds(report.id) == [("created", "pending"), ("awaiting_number", "awaiting_number")]
    assert history(report.id)[1].detail == f"token {report.token}"
    run_jobs(include_delayed=True)
    assert kinds(report.id)[-1] == ("submitted", "submitted")


def test_delayed_once_given_up_retried_by_staff_then_filed(phone, faults, monkeypatch):
    monkeypatch.setenv("REPORT_GIVE_UP_HOURS", "1")
    get_settings.cache_clear()
    _confirm_pothole(phone)
    faults("500")
    phone.text("yes")
    run_jobs(include_delayed=True)  # more failed attempts: still one "delayed"
    report = the_report()
    assert report.state == "pending" and report.attempts >= 2
    assert kinds(report.id) == [("created", "pending"), ("delayed", "pending")]
    assert "500" in history(report.id)[1].detail

    _age(Report, hours=2)
    run_jobs(include_delayed=True)
    assert the_report().state == "failed"
    assert kinds(report.id)[-1] == ("failed", "failed")
    assert "500" in history(report.id)[-1].detail

    faults("none")
    assert retry(f"report:{report.id}")
    run_jobs(include_delayed=True)
    steps = kinds(report.id)
    assert steps[-2:] == [("retried", "pending"), ("submitted", "submitted")]
    assert steps.count(("delayed", "pending")) == 1
    assert history(report.id)[-2].detail == "by unknown"  # no one signed in: a script


def _report_of_own(service_code: str) -> int:
    """A confirmed report written as a turn writes it (its "created" step with it)."""
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550177")
        report = Report(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            service_code=service_code,
            description="my words",
            address="120 Main St",
        )
        session.add(report)
        session.flush()
        record(session, report.id, "created", ReportState.PENDING)
        return report.id


def test_a_report_the_city_refuses_records_the_citys_reason(env):
    report_id = _report_of_own("NOT-A-SERVICE")
    assert jobs.submit(report_id) == "rejected"
    events = history(report_id)
    assert [(e.kind, e.status) for e in events] == [
        ("created", "pending"),
        ("rejected", "rejected"),
    ]
    assert "NOT-A-SERVICE" in events[1].detail and "my words" not in events[1].detail


def test_an_unsent_report_dropped_on_erasure_takes_its_history(phone, faults):
    _confirm_pothole(phone)
    faults("500")
    phone.text("yes")
    report = the_report()
    assert len(history(report.id)) == 2
    assert forget_address(f"tel:{RESIDENT}", actor="cli:test").dropped == 1
    with session_scope() as session:
        assert session.get(Report, report.id) is None
        assert session.exec(select(ReportEvent)).all() == []


def test_the_retention_purge_records_the_erasure_once(phone):
    _confirm_pothole(phone)
    phone.text("yes")
    report = the_report()
    with session_scope() as session:
        row = session.get(Report, report.id)
        row.created_at = utcnow() - timedelta(days=get_settings().retention_days + 1)
    retention.purge()
    retention.purge()
    assert [k for k, _ in kinds(report.id)] == ["created", "submitted", "erased"]
