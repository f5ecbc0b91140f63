"""A report reaches the city once, even when the city's answer is lost or a worker dies mid-POST.

The city is the bundled sandbox with its fault switch (POST /admin/faults): "timeout" stores the
request and then answers too late, as a slow city behind a proxy does.
"""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.jobs.submission import new_marker, request_fields
from bot.models import Report
from bot.open311.client import Open311Client, Open311Error
from bot.open311.encode import request_form
from bot.open311.profile import Profile
from bot.settings import get_settings
from tests.conftest import run_jobs, settle_posts
from tests.test_jobs import _age, _confirm_pothole, phone

__all__ = ["phone"]


@pytest.fixture
def faults(sandbox):
    """Set the sandbox city's fault; cleared after the test."""

    def set_fault(mode: str, **options) -> None:
        httpx.post(
            f"{sandbox.url}/admin/faults", json={"mode": mode, **options}, timeout=5
        ).raise_for_status()

    yield set_fault
    set_fault("none")


def the_report() -> Report:
    with session_scope() as session:
        return session.exec(select(Report)).one()


def city_requests_with(marker: str) -> list[str]:
    with Open311Client(get_settings().open311_endpoint) as client:
        found = client.requests_query()
    return [r["service_request_id"] for r in found if marker in (r.get("description") or "")]


def test_a_post_whose_answer_was_lost_is_found_not_filed_again(phone, faults, monkeypatch):
    monkeypatch.setenv("OPEN311_TIMEOUT", "0.5")
    get_settings.cache_clear()
    _confirm_pothole(phone)
    faults("timeout", delay=2)
    texts = phone.text("yes")
    assert texts[-1].startswith("The city's system is not answering. Your report is saved")
    report = the_report()
    assert report.state == "pending" and report.check_before_post
    assert len(city_requests_with(report.marker)) == 1  # the city did file it

    faults("none")
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "submitted" and not report.check_before_post
    assert city_requests_with(report.marker) == [report.service_request_id]
    assert f"Request number: {report.service_request_id}" in phone.inbox()[-1]


def test_a_filing_whose_worker_died_after_the_post_is_found_not_refiled(phone, redis_conn):
    _confirm_pothole(phone)
    phone.text("yes")
    report = the_report()
    number = report.service_request_id
    # As a worker killed between the city's answer and our commit leaves it:
    with session_scope() as session:
        row = session.get(Report, report.id)
        row.state, row.service_request_id, row.check_before_post = "submitting", None, True
        row.city_status = None
    assert jobs.reconcile() == 0  # it may still be in flight
    _age(Report)
    assert jobs.reconcile() >= 1
    run_jobs()
    report = the_report()
    assert report.state == "submitted" and report.service_request_id == number
    assert city_requests_with(report.marker) == [number]


def test_a_search_that_fails_does_not_post_blind(phone, faults):
    _confirm_pothole(phone)
    faults("500")
    phone.text("yes")
    report = the_report()
    assert report.state == "pending" and not report.check_before_post  # the city answered
    with session_scope() as session:
        session.get(Report, report.id).check_before_post = True  # as after a lost answer
    run_jobs(include_delayed=True)  # the search itself fails: still pending, nothing posted
    report = the_report()
    assert report.state == "pending" and report.check_before_post
    faults("none")
    assert city_requests_with(report.marker) == []
    run_jobs(include_delayed=True)  # found nothing, but too soon after the POST to trust it
    assert the_report().state == "pending"
    settle_posts()
    run_jobs(include_delayed=True)
    assert the_report().state == "submitted"
    assert len(city_requests_with(report.marker)) == 1


def test_errors_in_a_200_answer_are_retried_and_the_resident_told_once(phone, faults):
    _confirm_pothole(phone)
    faults("errors200")
    texts = phone.text("yes")
    run_jobs(include_delayed=True)
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "pending" and report.attempts >= 2
    faults("none")
    run_jobs(include_delayed=True)
    texts += phone.inbox()
    assert sum("Your report is saved" in t for t in texts) == 1
    assert "Request number" in texts[-1]
    assert len(city_requests_with(the_report().marker)) == 1


def test_a_long_outage_gives_the_report_up_for_staff(phone, faults, monkeypatch):
    monkeypatch.setenv("REPORT_GIVE_UP_HOURS", "1")
    get_settings.cache_clear()
    _confirm_pothole(phone)
    faults("500")
    phone.text("yes")
    assert the_report().state == "pending"
    _age(Report, hours=2)
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "failed" and "500" in report.last_error
    assert jobs.reconcile() == 0  # a dead letter waits for staff, not for the reconciler


def test_the_marker_survives_a_city_that_cuts_descriptions():
    marker = new_marker()
    profile = Profile(name="short", description_limit=40)
    form = dict(
        request_form(
            {
                "service_code": "1",
                "description": "word " * 30,
                "marker": marker,
                "lat": "1",
                "long": "2",
            },
            None,
            profile,
        )
    )
    assert len(form["description"]) <= 40
    assert form["description"].endswith(f"[ref {marker}]")
    assert form["device_id"] == marker


def test_request_fields_carry_the_marker(sqlite_env):
    report = Report(
        conversation_id=1, contact_id=1, service_code="1", description="hole", marker="311-AAAAAAAA"
    )
    assert request_fields(report, sqlite_env)["marker"] == "311-AAAAAAAA"


def test_a_post_that_times_out_is_uncertain_but_a_refused_connection_is_not(sandbox, faults):
    faults("timeout", delay=2)
    report = {"service_code": "001", "description": "x", "lat": "39.8", "long": "-89.6"}
    client = Open311Client(f"{sandbox.url}/open311/v2/", timeout=0.5)
    with client, pytest.raises(Open311Error) as timed_out:
        client.create_request(report)
    assert timed_out.value.uncertain
    client = Open311Client("http://127.0.0.1:9/open311/v2/", timeout=0.5)
    with client, pytest.raises(Open311Error) as refused:
        client.create_request(report)
    assert refused.value.retryable and not refused.value.uncertain


def _with_city_answering(canned, monkeypatch):
    """Point the settings at a stand-in that answers every call the same way."""
    from sandbox.server import serve

    server = serve(canned)
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    get_settings.cache_clear()
    return server


def test_a_search_the_city_refuses_never_rejects_the_report(phone, monkeypatch):
    from tests.test_open311_client import Canned

    _confirm_pothole(phone)
    phone.text("yes")
    report = the_report()
    with session_scope() as session:  # as after a POST whose answer was lost
        row = session.get(Report, report.id)
        row.state, row.service_request_id, row.check_before_post = "pending", None, True
    canned = Canned(
        "400 Bad Request", b'[{"code": 400, "description": "start_date is not supported"}]'
    )
    server = _with_city_answering(canned, monkeypatch)
    try:
        assert jobs.submit(report.id) == "pending"
    finally:
        server.stop()
    assert [c["method"] for c in canned.calls] == ["GET"]  # searched; nothing posted blind
    assert the_report().check_before_post
    assert not any("start_date" in text for text in phone.inbox())  # not the resident's problem


def test_a_gateway_timeout_to_a_post_is_uncertain(monkeypatch, sqlite_env):
    from tests.test_open311_client import Canned

    for status in ("502 Bad Gateway", "504 Gateway Timeout"):
        server = _with_city_answering(
            Canned(status, b"<html>gateway</html>", "text/html"), monkeypatch
        )
        client = Open311Client(get_settings().open311_endpoint)
        try:
            with client, pytest.raises(Open311Error) as info:
                client.create_request(
                    {"service_code": "001", "description": "x", "lat": "39.8", "long": "-89.6"}
                )
        finally:
            server.stop()
        assert info.value.uncertain, status


def test_a_filing_handed_to_another_attempt_drops_its_result(phone):
    from bot.jobs.submission import _still_ours

    _confirm_pothole(phone)
    phone.text("yes")
    report = the_report()
    with session_scope() as session:
        session.get(Report, report.id).state = "submitting"
    with session_scope() as session:
        assert not _still_ours(session, report.id, report.attempts - 1)  # a stale claim
        assert _still_ours(session, report.id, report.attempts)
