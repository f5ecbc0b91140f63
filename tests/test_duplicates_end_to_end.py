"""A second resident reporting the same pothole is offered the first report, follows it instead
of filing, and hears of its change with the first: signed Twilio webhooks, the real engine and
worker, the sandbox city, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.models import Follow, OpenRequest, Report
from bot.settings import get_settings
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone, set_city_status
from webhooks import create_app


@pytest.fixture(autouse=True)
def duplicates_on(monkeypatch):
    """The check for duplicates on (tests/conftest.py turns it off for the other tests); first,
    so the settings `env` gives have it."""
    monkeypatch.setenv("DUPLICATE_SERVICES_OFF", "")
    get_settings.cache_clear()


def report_pothole(phone: Phone) -> list[str]:
    """Say hi, pick the pothole, give 120 Main Street and a description, answer where; the
    texts of the last step."""
    phone.text("hi")
    phone.text("1")
    phone.text("120 main st")
    phone.text("Deep hole in the right lane")
    return phone.text("crosswalk")


@pytest.fixture
def phones(env, twilio_api):
    client = create_app({"TESTING": True}).test_client()
    return Phone(client, twilio_api, "+13125550142"), Phone(client, twilio_api, "+13125550143")


def test_a_second_resident_follows_the_first_report_and_hears_its_change(phones):
    first, second = phones
    [summary] = report_pothole(first)
    assert summary.startswith("Ready to send:")
    first.text("YES")
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        number = report.service_request_id
        assert session.exec(select(OpenRequest.ours)).all() == [True]

    [offer] = report_pothole(second)
    assert offer.startswith("This may already be reported.")
    assert "\n1 120 Main Street (" in offer and ": open\n2 None of these" in offer
    [following] = second.text("1")
    assert number in following
    with session_scope() as session:
        assert len(session.exec(select(Report)).all()) == 1  # nothing filed twice
        [follow] = session.exec(select(Follow)).all()
        assert (follow.service_request_id, follow.last_status, follow.active) == (
            number,
            "open",
            True,
        )

    set_city_status(number, "closed", "Patched by the streets crew.")
    assert jobs.track() == 1
    run_jobs()
    [told_first] = first.inbox()
    [told_second] = second.inbox()
    assert "Patched by the streets crew." in told_first
    assert number in told_second and "closed" in told_second
    assert "Patched" not in told_second  # the city's notes are the reporter's
    assert jobs.track() == 0
    run_jobs()
    assert first.inbox() == [] and second.inbox() == []
