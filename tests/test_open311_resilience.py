"""What residents experience when a city's server misbehaves in the ways real ones do."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot import jobs
from bot.catalog import fetch_catalog, store_catalog, to_services
from bot.db import session_scope
from bot.failures import list_failures, retry, retry_all
from bot.open311.client import Open311Client
from bot.queue import get_queue
from bot.settings import Settings, get_settings
from sandbox.server import serve
from tests.conftest import run_jobs, settle_posts
from tests.test_end_to_end import SAVED
from tests.test_open311_client import Canned
from tests.test_open311_end_to_end import city, close_in_city, file_dumping_report, the_report

__all__ = ["city"]  # the fixture, shared with the end-to-end file


def set_notes(number: str, notes: str) -> None:
    base = get_settings().open311_endpoint.split("/open311/")[0]
    httpx.post(
        f"{base}/admin/requests/{number}/status",
        data={"status": "open", "status_notes": notes},
        timeout=5,
    ).raise_for_status()


def test_each_update_in_the_feed_is_told_once(city, tmp_path):
    profile = Path(tmp_path / "feed.toml")
    profile.write_text('name = "feed"\nformat = "json"\nupdates = true\n')
    app, phone = city(str(profile), updates=True)
    file_dumping_report(phone)
    number = the_report().service_request_id
    set_notes(number, "Crew assigned.")
    set_notes(number, "Waiting for a truck.")
    assert [jobs.track(), jobs.track(), jobs.track()] == [2, 0, 0]
    run_jobs()
    texts = phone.inbox()
    assert len(texts) == 2 and texts[-1].endswith("open. Waiting for a truck.")


def _file_against_garbled_city(phone, monkeypatch) -> list[str]:
    """File a report with a city whose answer to the POST cannot be read."""
    garbled = serve(Canned("201 Created", b"<html>ok</html"))
    real = get_settings().open311_endpoint
    try:
        endpoint = f"{garbled.url}/open311/v2/"
        with Open311Client(real) as client, session_scope() as session:
            store_catalog(session, endpoint, fetch_catalog(client))
        monkeypatch.setenv("OPEN311_ENDPOINT", endpoint)
        get_settings.cache_clear()
        return file_dumping_report(phone)
    finally:
        garbled.stop()
        monkeypatch.setenv("OPEN311_ENDPOINT", real)
        get_settings.cache_clear()


def test_an_answer_we_cannot_read_is_looked_for_before_filing_again(city, monkeypatch):
    app, phone = city("sandbox")
    texts = _file_against_garbled_city(phone, monkeypatch)
    assert texts[-1] == SAVED
    report = the_report()
    assert report.state == "pending" and report.check_before_post
    assert "not valid" in report.last_error
    # The garbled city stored nothing: the search finds nothing, and the report is filed once.
    settle_posts()
    run_jobs(include_delayed=True)
    report = the_report()
    assert report.state == "submitted" and not report.check_before_post
    with Open311Client(get_settings().open311_endpoint) as client:
        found = client.requests_query(service_code=report.service_code)
    assert [r["service_request_id"] for r in found if report.marker in r["description"]] == [
        report.service_request_id
    ]
    assert "Request number" in phone.inbox()[-1]


def test_where_the_city_cannot_be_searched_a_lost_answer_waits_for_staff(
    city, monkeypatch, tmp_path
):
    profile = Path(tmp_path / "blind.toml")
    profile.write_text('name = "blind"\nformat = "json"\nmarker_search = false\n')
    app, phone = city(str(profile))
    texts = _file_against_garbled_city(phone, monkeypatch)
    assert texts[-1] == SAVED
    report = the_report()  # no second POST: staff decide
    assert report.state == "unconfirmed" and "not valid" in report.last_error
    assert get_queue("city").scheduled_job_registry.get_job_ids() == []
    assert [f.name for f in list_failures()] == [f"report:{report.id}"]
    assert jobs.reconcile() == 0
    assert retry(f"report:{report.id}")  # staff checked the city: file it
    run_jobs()
    assert the_report().state == "submitted"


def test_a_wrong_api_key_fails_at_once_for_staff_without_blaming_the_resident(city, monkeypatch):
    app, phone = city("sandbox", api_key="the-right-key")
    monkeypatch.setenv("OPEN311_API_KEY", "an-old-key")
    get_settings.cache_clear()
    texts = file_dumping_report(phone)
    assert texts[-1] == SAVED
    assert "api_key" not in " ".join(texts)
    report = the_report()
    assert report.state == "failed" and "api_key" in report.last_error
    assert get_queue("city").scheduled_job_registry.get_job_ids() == []  # no blind retries

    monkeypatch.setenv("OPEN311_API_KEY", "the-right-key")
    get_settings.cache_clear()
    assert retry_all() == [f"report:{report.id}"]
    run_jobs()
    assert the_report().state == "submitted"
    assert "Request number" in phone.inbox()[-1]
    assert list_failures() == []


def test_a_city_that_needs_coordinates_gets_them_even_if_the_geocoder_was_down(
    city, tmp_path, monkeypatch
):
    profile = Path(tmp_path / "both.toml")
    profile.write_text('name = "both"\nformat = "json"\nlocation = "both"\n')
    app, phone = city(str(profile))
    geocoder = get_settings().geocoder_domain
    monkeypatch.setenv("GEOCODER_DOMAIN", "127.0.0.1:9")
    get_settings.cache_clear()
    # The address is taken as typed, then the required question; the optional one is not asked.
    [what] = phone.text("someone dumped a couch and trash bags at 120 Main St last night")
    assert what.startswith("I can't check addresses right now") and "What was dumped?" in what
    [summary] = phone.text("1")
    assert summary.startswith("Ready to send:\n1 Illegal Dumping\n2 120 Main St\n3 ")
    monkeypatch.setenv("GEOCODER_DOMAIN", geocoder)
    get_settings.cache_clear()
    phone.text("yes")
    report = the_report()
    assert report.state == "submitted"
    with Open311Client(get_settings().open311_endpoint) as client:
        got = client.request(report.service_request_id)
    assert got["lat"] == pytest.approx(39.8, abs=0.01)  # the city got coordinates


def test_an_empty_catalogue_answer_does_not_wipe_the_cached_one(env):
    with session_scope() as session:
        store_catalog(
            session, "http://city.test/", [{"service_code": "001", "service_name": "Pothole"}]
        )
        kept = store_catalog(session, "http://city.test/", [])
    assert [s.code for s in to_services(kept)] == ["001"]


def test_a_wrong_profile_is_refused_when_the_settings_load():
    with pytest.raises(ValueError, match="profile"):
        Settings(_env_file=None, open311_profile="atlantis")


def test_status_checks_go_on_past_a_batch_the_city_refuses(city, monkeypatch, tmp_path):
    app, phone = city("sandbox")
    file_dumping_report(phone)
    number = the_report().service_request_id
    close_in_city(number, "Done.")
    with session_scope() as session:
        report = the_report()
        from bot.models import Report

        ghost = Report(
            conversation_id=report.conversation_id,
            contact_id=report.contact_id,
            service_code="002",
            state="submitted",
            city_status="open",
            service_request_id="bad id/../x",
        )
        session.add(ghost)
    monkeypatch.setenv("OPEN311_BATCH_SIZE", "1")
    get_settings.cache_clear()
    assert jobs.track() == 1
