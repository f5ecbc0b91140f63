"""Reports with answers filed end to end against the sandbox city in each of its modes.

JSON, XML-only and token-only servers, and the quirks real servers have (errors with HTTP 200,
slow answers, dropped empty fields, paging, mySociety's update feed), each from the resident's
signed text to the city and back, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.failures import list_failures
from bot.models import Report
from bot.settings import get_settings
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.conftest import run_jobs, settle_posts
from tests.test_end_to_end import SAVED, Phone
from webhooks import create_app

# What residents and cities see, end to end: PostgreSQL adds nothing here that the storage,
# job and guarantee modules do not already prove on it.
pytestmark = pytest.mark.sqlite_only

ILLEGAL_DUMPING = "002"


@pytest.fixture
def city(env, tmp_path, monkeypatch, twilio_api):
    """Start a sandbox city with the given switches and point the bot at it with `profile`."""
    servers = []

    def start(profile: str = "sandbox", **switches):
        app = create_sandbox_app(str(tmp_path / f"city{len(servers)}.sqlite3"), **switches)
        server = serve(app)
        servers.append(server)
        monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
        monkeypatch.setenv("OPEN311_PROFILE", profile)
        get_settings.cache_clear()
        return app, Phone(create_app({"TESTING": True}).test_client(), twilio_api)

    yield start
    for server in servers:
        server.stop()


def file_dumping_report(phone: Phone) -> list[str]:
    """A resident reports dumped furniture and bags, answering both questions (the optional
    one after 4 in the summary); the last texts."""
    [what] = phone.text("someone dumped a couch and trash bags at 120 Main St last night")
    assert what.startswith("Found: 120 Main Street, Springfield. What was dumped?")
    assert "1 Furniture" in what
    [offered] = phone.text("1 and 4")
    assert offered.startswith("Ready to send:\n1 Illegal Dumping") and "4 to add details" in offered
    [how_much] = phone.text("4")
    assert how_much.startswith("How much is there?") and "SKIP" in how_much
    [summary] = phone.text("3")
    assert summary.startswith("Ready to send:\n1 Illegal Dumping")
    assert "4 to add details" not in summary
    return phone.text("yes")


def filed_answers(app, report: Report) -> dict:
    return app.extensions["sandbox"].store.private(report.service_request_id)["attributes"]


def the_report() -> Report:
    with session_scope() as session:
        return session.exec(select(Report)).one()


def close_in_city(number: str, notes: str) -> None:
    base = get_settings().open311_endpoint.split("/open311/")[0]
    httpx.post(
        f"{base}/admin/requests/{number}/status",
        data={"status": "closed", "status_notes": notes},
        timeout=5,
    ).raise_for_status()


@pytest.mark.parametrize("profile, formats", [("sandbox", "json,xml"), ("sandbox_xml", "xml")])
def test_report_with_answers_filed_in_json_and_xml(city, profile, formats):
    app, phone = city(profile, formats=formats)
    texts = file_dumping_report(phone)
    report = the_report()
    assert report.state == "submitted"
    assert f"Request number: {report.service_request_id}" in texts[-1]
    assert report.attributes == {"DUMPED": ["FURNITURE", "BAGS"], "AMOUNT": "LARGE"}
    assert filed_answers(app, report) == {"DUMPED": ["FURNITURE", "BAGS"], "AMOUNT": "LARGE"}

    close_in_city(report.service_request_id, "Hauled away.")
    assert jobs.track() == 1
    run_jobs()
    [update] = phone.inbox()
    assert update.endswith("closed. Hauled away.")


def test_token_only_city_files_with_answers_and_the_number_follows(city):
    app, phone = city("sandbox", token_mode=True, token_delay=0.0)
    texts = file_dumping_report(phone)
    assert texts == [
        "Thanks! Sending your report to the city now. We'll text you the request number."
    ]
    assert the_report().state == "awaiting_number"
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "submitted"
    [filed] = phone.inbox()
    assert f"Request number: {report.service_request_id}" in filed
    assert filed_answers(app, report)["DUMPED"] == ["FURNITURE", "BAGS"]


def test_city_answering_errors_with_200_is_understood(city, monkeypatch):
    app, phone = city("sandbox", errors_with_200=True, require_jurisdiction="springfield.gov")
    monkeypatch.setenv("OPEN311_JURISDICTION_ID", "springfield.gov")
    get_settings.cache_clear()
    phone.text("hi")  # the catalogue is fetched with the right jurisdiction
    monkeypatch.setenv("OPEN311_JURISDICTION_ID", "wrong.example")
    get_settings.cache_clear()
    phone.text("1")
    phone.text("120 Main St")
    phone.text("deep hole near the curb")
    [summary] = phone.text("4")
    assert summary.startswith("Ready to send:\n1 Pothole in Street")
    texts = phone.text("yes")
    # A wrong jurisdiction is our setup, not the resident's report: it waits for staff.
    assert texts[-1] == SAVED
    report = the_report()
    assert (
        report.state == "failed" and "jurisdiction_id wrong.example not found" in report.last_error
    )
    [failure] = list_failures()
    assert failure.name == f"report:{report.id}" and "wrong.example" in failure.error


def test_slow_city_delays_the_report_then_files_it(city, monkeypatch):
    app, phone = city("sandbox")
    phone.text("someone dumped a couch and trash bags at 120 Main St last night")
    [summary] = phone.text("1")
    assert summary.startswith("Ready to send:\n1 Illegal Dumping")
    # The city slows past our timeout just as the resident confirms.
    app.extensions["sandbox"].slow = 2.0
    monkeypatch.setenv("OPEN311_TIMEOUT", "0.5")
    get_settings.cache_clear()
    texts = phone.text("yes")
    assert texts[-1].startswith("The city's system is not answering. Your report is saved")
    assert the_report().state == "pending"

    app.extensions["sandbox"].slow = 0.0
    settle_posts()
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "submitted"
    assert report.service_request_id in phone.inbox()[-1]


def test_status_feed_of_updates_is_followed(city, tmp_path, monkeypatch):
    profile = Path(tmp_path / "feed.toml")
    profile.write_text('name = "feed"\nformat = "json"\nupdates = true\n')
    app, phone = city(str(profile), updates=True, drop_empty=True)
    file_dumping_report(phone)
    report = the_report()
    close_in_city(report.service_request_id, "Crew removed the items.")
    assert jobs.track() == 1
    assert jobs.track() == 0  # read again: same update, no second text
    run_jobs()
    [update] = phone.inbox()
    assert update.endswith("closed. Crew removed the items.")


def test_paged_city_is_tracked_across_pages(city, monkeypatch, tmp_path):
    profile = Path(tmp_path / "paged.toml")
    profile.write_text('name = "paged"\nformat = "json"\nbatch_size = 50\npage_size = 2\n')
    app, phone = city(str(profile), page_size=2)
    numbers = []
    for n in range(3):
        phone.number, phone.read, phone.returning = f"+1312555020{n}", 0, True
        file_dumping_report(phone)
    with session_scope() as session:
        numbers = [r.service_request_id for r in session.exec(select(Report)).all()]
    for number in numbers:
        close_in_city(number, "Done.")
    assert jobs.track() == 3
