"""The worker's jobs against real Redis, databases and the sandbox: recovery, tokens, races."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.models import Message, Report
from bot.queue import get_queue
from bot.settings import get_settings
from bot.timeutil import utcnow
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone, answer_pothole_questions
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app


@pytest.fixture
def phone(env, twilio_api):
    return Phone(create_app({"TESTING": True}).test_client(), twilio_api)


def _confirm_pothole(phone, description: str = "deep and wide") -> None:
    phone.text(f"pothole at 120 Main St, {description}")  # a sure address: not read back
    answer_pothole_questions(phone)


def _age(model, hours: float = 2, **where) -> None:
    """Make rows look untouched for `hours`, as if their queued jobs had been lost long ago."""
    past = utcnow() - timedelta(hours=hours)
    with session_scope() as session:
        for row in session.exec(select(model).filter_by(**where)).all():
            row.updated_at = past
            if hasattr(row, "created_at"):
                row.created_at = past
            if getattr(row, "next_attempt_at", None) is not None:
                row.next_attempt_at = past


def test_redis_flush_loses_no_message(phone, redis_conn):
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    redis_conn.flushdb()  # the queued turn is gone; the message is in the database
    assert get_queue().count == 0
    assert jobs.reconcile() == 0  # a fresh message may still be on its way through the queue

    _age(Message, direction="in")
    assert jobs.reconcile() == 1
    run_jobs()
    [menu] = phone.inbox()
    assert "1 Pothole in Street" in menu


def test_redis_flush_loses_no_reply(phone, redis_conn):
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    with session_scope() as session:
        conversation_id = session.exec(select(Message.conversation_id)).one()
    jobs.run_turn(conversation_id)  # the turn ran; its deliver job is queued...
    redis_conn.flushdb()  # ...and lost
    _age(Message, direction="out")
    assert jobs.reconcile() == 1
    run_jobs()
    assert "1 Pothole in Street" in phone.inbox()[0]


def test_reconcile_requeues_a_report_whose_retry_was_lost(phone, redis_conn, monkeypatch):
    _confirm_pothole(phone)
    endpoint = get_settings().open311_endpoint
    monkeypatch.setenv("OPEN311_ENDPOINT", "http://127.0.0.1:9/open311/v2/")
    get_settings.cache_clear()
    phone.text("yes")
    redis_conn.flushdb()
    assert jobs.reconcile() == 0  # its retry is not due yet

    _age(Report)
    monkeypatch.setenv("OPEN311_ENDPOINT", endpoint)
    get_settings.cache_clear()
    assert jobs.reconcile() == 1
    run_jobs()
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    assert report.state == "submitted" and report.service_request_id


def test_a_filing_whose_worker_died_is_put_back_in_line(phone, redis_conn):
    _confirm_pothole(phone)
    post_signed(phone.client, "/webhooks/twilio", sms_form("yes", phone.number))
    with session_scope() as session:
        conversation_id = session.exec(select(Message.conversation_id)).first()
    jobs.run_turn(conversation_id)
    with session_scope() as session:
        report = session.exec(select(Report)).one()
        report.state = "submitting"  # as a worker killed in the middle of the POST leaves it
    redis_conn.flushdb()
    assert jobs.reconcile() == 0  # it may still be in flight

    _age(Report)
    jobs.reconcile()
    run_jobs()
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    assert report.state == "submitted"


def test_one_message_that_fails_does_not_block_the_next(phone, monkeypatch):
    import bot.jobs.turns as turns

    real_step = turns.step

    def step_that_trips_on_boom(state, event, context):
        if getattr(event, "text", "") == "boom":
            raise RuntimeError("engine bug")
        return real_step(state, event, context)

    monkeypatch.setattr(turns, "step", step_that_trips_on_boom)
    assert phone.text("boom") == []
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu
    with session_scope() as session:
        statuses = session.exec(
            select(Message.text, Message.status).where(Message.direction == "in")
        ).all()
    assert sorted(statuses) == [("boom", "failed"), ("hi", "processed")]


def test_a_report_is_filed_once_even_if_its_job_runs_twice(phone):
    marker = f"marker {uuid.uuid4().hex}"
    _confirm_pothole(phone, marker)
    post_signed(phone.client, "/webhooks/twilio", sms_form("yes", phone.number))
    with session_scope() as session:
        conversation_id = session.exec(select(Message.conversation_id)).first()
    get_queue().enqueue("bot.jobs.run_turn", conversation_id)  # a redundant turn job
    run_jobs()
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    get_queue("city").enqueue("bot.jobs.submit", report.id)  # and a redundant submission
    run_jobs()
    assert jobs.submit(report.id) == "submitted"

    everything = httpx.get(get_settings().open311_endpoint + "requests.json", timeout=5).json()
    assert len([r for r in everything if marker in (r.get("description") or "")]) == 1
    assert len([t for t in phone.inbox() if "Request number" in t]) == 1


@pytest.fixture
def token_city(tmp_path, monkeypatch):
    """A city that answers a new request with a token only (as Chicago's does)."""
    server = serve(
        create_sandbox_app(str(tmp_path / "t.sqlite3"), token_mode=True, token_delay=0.0)
    )
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    get_settings.cache_clear()
    yield server
    server.stop()


def test_token_only_answer_is_resolved_by_a_later_job(phone, token_city):
    _confirm_pothole(phone)
    texts = phone.text("yes")
    assert texts == [
        "Thanks! Sending your report to the city now. We'll text you the request number."
    ]
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    assert report.state == "awaiting_number" and report.token
    assert len(get_queue("city").scheduled_job_registry.get_job_ids()) == 1

    run_jobs(include_delayed=True)
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    assert report.state == "submitted" and report.service_request_id
    [filed] = phone.inbox()
    assert f"Request number: {report.service_request_id}" in filed


def test_deliver_ignores_unknown_and_inbound_ids(env):
    assert jobs.deliver(123456) == 0


def test_backoff_doubles_and_is_capped():
    assert [jobs.backoff(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert jobs.backoff(50) == 3600


def test_stop_and_start_words_switch_messages_off_and_on(phone):
    assert phone.text("STOP") == []
    assert phone.text("hi") == []
    assert phone.text("START") == []
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu
    with session_scope() as session:
        statuses = session.exec(select(Message.status).where(Message.direction == "in")).all()
    assert set(statuses) == {"processed"}


def _filed_report(phone) -> Report:
    """File a pothole report from the phone, read its texts, and return it."""
    _confirm_pothole(phone)
    phone.text("yes")
    phone.inbox()
    with session_scope() as session:
        return session.exec(select(Report)).one()


def test_two_status_checks_at_once_text_the_resident_once(phone):
    report = _filed_report(phone)
    entry = {
        "service_request_id": report.service_request_id,
        "status": "closed",
        "status_notes": "Filled.",
    }
    results = [jobs.receive_status(report.id, entry), jobs.receive_status(report.id, entry)]
    assert results == [True, False]
    run_jobs()
    assert len(phone.inbox()) == 1
    # New notes on the same status are news; notes going away are too.
    assert jobs.receive_status(report.id, entry | {"status_notes": "Filled and sealed."})
    assert jobs.receive_status(report.id, entry | {"status_notes": None})
    assert not jobs.receive_status(report.id, entry | {"status_notes": ""})


def test_a_status_check_already_running_is_not_doubled(phone, redis_conn):
    from bot.jobs.common import redis_lock

    lock = redis_lock("track", wait=None)
    assert lock.acquire(blocking=False)
    try:
        assert jobs.track() == 0
    finally:
        lock.release()


def test_a_new_expected_date_is_news_but_the_same_date_spelled_otherwise_is_not(phone):
    report = _filed_report(phone)
    entry = {
        "service_request_id": report.service_request_id,
        "status": "open",
        "expected_datetime": "2026-11-25T17:00:00-06:00",
    }
    assert not jobs.receive_status(report.id, entry | {"expected_datetime": None})  # baseline
    assert jobs.receive_status(report.id, entry)
    assert not jobs.receive_status(report.id, entry | {"expected_datetime": "2026-11-25T23:00:00Z"})
    run_jobs()
    [text] = phone.inbox()
    assert text.endswith("open. Expected by Nov 25.")
