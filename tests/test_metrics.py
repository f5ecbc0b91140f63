"""/metrics: real traffic through the webhooks and the jobs, counted and read back parsed.

The counters of this process's registry add up over the whole test run, so each test reads
the change across what it did. Multiprocess mode is read from files other processes wrote.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import jobs
from bot.db import session_scope
from bot.models import Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import get_settings
from tests.conftest import run_jobs
from tests.sandbox_city import own_city
from tests.test_end_to_end import RESIDENT, returning_resident
from tests.test_tracking import file_reports
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

ROOT = Path(__file__).resolve().parent.parent
PHONE_LIKE = re.compile(r"\d{7,}")


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of GET /metrics, by name and sorted labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_webhooks_turns_and_sends_are_counted(env, twilio_api):
    client = create_app({"TESTING": True}).test_client()
    before = scrape(client)
    returning_resident(f"tel:{RESIDENT}", "sms")

    form = sms_form("hello", RESIDENT)
    assert post_signed(client, "/webhooks/twilio", form).status_code == 200
    assert post_signed(client, "/webhooks/twilio", form).status_code == 200  # redelivered
    forged = client.post(
        "/webhooks/twilio", data=sms_form("hi"), headers={"X-Twilio-Signature": "x"}
    )
    assert forged.status_code == 403
    malformed = post_signed(client, "/webhooks/twilio", sms_form("hi", sender=""))
    assert malformed.status_code == 400
    waiting = scrape(client)
    assert waiting[("intake311_queue_depth", (("queue", "residents"),))] >= 1
    assert run_jobs() >= 1  # the turn (and its reply's delivery, in the same burst)
    after = scrape(client)

    webhooks = "intake311_webhooks_total"
    assert moved(before, after, webhooks, channel="sms", outcome="accepted") == 1
    assert moved(before, after, webhooks, channel="sms", outcome="duplicate") == 1
    assert moved(before, after, webhooks, channel="sms", outcome="forged") == 1
    assert moved(before, after, webhooks, channel="sms", outcome="malformed") == 1
    assert moved(before, after, "intake311_turn_seconds_count") == 1
    sent = len([s for s in twilio_api.config["SENT"] if s["form"]["To"] == [RESIDENT]])
    assert sent >= 1
    assert moved(before, after, "intake311_messages_sent_total", channel="sms") == sent
    for kind in ("residents", "notices", "city"):
        assert after[("intake311_queue_depth", (("queue", kind),))] == 0
    for kind in ("report", "send", "turn", "photo"):
        assert after[("intake311_dead_letters", (("kind", kind),))] == 0
    for _name, labels in after:
        for _label, value in labels:
            assert not PHONE_LIKE.search(value), value
            assert "hello" not in value


def test_open311_calls_and_errors_are_counted(sqlite_env):
    client = create_app({"TESTING": True}).test_client()
    before = scrape(client)
    with Open311Client(sqlite_env.open311_endpoint) as city:
        assert city.services()
    with (
        Open311Client("http://127.0.0.1:9/open311/v2/", timeout=2) as down,
        pytest.raises(Open311Error),
    ):
        down.services()
    after = scrape(client)
    seconds = "intake311_open311_call_seconds_count"
    assert moved(before, after, seconds, method="GET", endpoint="services") == 2
    assert moved(before, after, "intake311_open311_errors_total", kind="connect") == 1
    assert moved(before, after, "intake311_open311_errors_total", kind="timeout") == 0


def test_a_failed_send_is_a_dead_letter(sqlite_env, twilio_api):
    from sqlmodel import select

    from bot.models import Message, MessageStatus

    client = create_app({"TESTING": True}).test_client()
    returning_resident(f"tel:{RESIDENT}", "sms")
    assert post_signed(client, "/webhooks/twilio", sms_form("hello", RESIDENT)).status_code == 200
    run_jobs()
    with session_scope() as session:
        message = session.exec(select(Message).order_by(Message.id.desc())).first()
        message.status = MessageStatus.FAILED
    after = scrape(client)
    assert after[("intake311_dead_letters", (("kind", "send"),))] == 1


def record(folder: Path, group: str, channel: str, times: int) -> None:
    """In a process of its own: claim `group`'s folder and count `times` accepted webhooks."""
    code = textwrap.dedent(
        f"""
        from bot import metrics_dir
        metrics_dir.claim({group!r})
        from bot import metrics
        metrics.webhooks.labels({channel!r}, "accepted").inc({times})
        metrics.turn_seconds.observe(0.2)
        """
    )
    env = {"METRICS_DIR": str(folder), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_multiprocess_counts_are_summed_across_processes(sqlite_env, tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    record(folder, "web", "sms", 2)
    record(folder, "worker-residents", "sms", 3)
    monkeypatch.setenv("METRICS_DIR", str(folder))
    client = create_app({"TESTING": True}).test_client()

    after = scrape(client)
    webhooks = ("intake311_webhooks_total", (("channel", "sms"), ("outcome", "accepted")))
    assert after[webhooks] == 5
    assert after[("intake311_turn_seconds_count", ())] == 2
    assert after[("intake311_queue_depth", (("queue", "residents"),))] == 0

    # A group starting again empties its folder: the files of its dead processes are not summed.
    record(folder, "web", "sms", 1)
    assert scrape(client)[webhooks] == 4


def test_metrics_token_protects_the_page(sqlite_env, monkeypatch):
    token = "metrics-" + "k3y9" * 8
    monkeypatch.setenv("METRICS_TOKEN", token)
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert scrape(client, Authorization=f"Bearer {token}")
    get_settings.cache_clear()


def test_the_page_is_open_without_a_token(sqlite_env):
    client = create_app({"TESTING": True}).test_client()
    assert ("intake311_queue_depth", (("queue", "city"),)) in scrape(client)


@pytest.fixture
def city(env, tmp_path, monkeypatch):
    """A sandbox city of the test's own."""
    with own_city(tmp_path, monkeypatch) as counted:
        yield counted


def test_status_updates_told_are_counted(city):
    client = create_app({"TESTING": True}).test_client()
    ids = file_reports(city, 3)
    store = city.app.extensions["sandbox"].store
    with session_scope() as session:
        numbers = [session.get(Report, i).service_request_id for i in ids]
    for number in numbers[:2]:
        store.set_status(number, "closed", "Filled.")
    before = scrape(client)

    assert jobs.track() == 2
    after = scrape(client)
    assert moved(before, after, "intake311_status_updates_told_total") == 2
    assert after[("intake311_queue_depth", (("queue", "notices"),))] == 2
    assert (
        moved(
            before, after, "intake311_open311_call_seconds_count", method="GET", endpoint="requests"
        )
        >= 1
    )
