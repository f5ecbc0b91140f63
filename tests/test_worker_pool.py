"""What a worker process keeps between jobs, and the pool that runs jobs without a fork each.

A turn that never calls the city builds no Open311 client, and the ones that do share one per
process; the service catalogue is read once per process and again only when a process stores a
new one (its version stamp in Redis); and `intake311 worker --processes N` forks its workers once,
replaces one whose job is stuck past its timeout and releases that turn for one retry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import bot.catalog as catalog
import bot.jobs.common as common
from bot.jobs.refresh import refresh_catalog
from bot.queue import enqueue, get_queue, get_redis
from bot.settings import get_settings
from bot.worker import Pool, run_burst
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import phone
from tests.test_limits_timeouts import SLOW, configure, slow_engine, the_message
from tests.twilio_webhooks import post_signed, sms_form

__all__ = ["phone", "slow_engine"]


@pytest.fixture
def clients_made(monkeypatch) -> list:
    """Every Open311 client a job builds, from now on (the process's kept ones forgotten)."""
    made: list = []
    real = common.open311_client

    def counted(settings):
        made.append(real(settings))
        return made[-1]

    monkeypatch.setattr(common, "_city_clients", {})
    monkeypatch.setattr(common, "open311_client", counted)
    return made


def test_a_turn_that_does_not_call_the_city_builds_no_client(phone, clients_made):
    [menu] = phone.text("hi")  # the first turn fetches the catalogue: a client
    assert "1 Pothole in Street" in menu and len(clients_made) == 1
    clients_made.clear()
    common._city_clients.clear()
    [again] = phone.text("hi")
    assert "1 Pothole in Street" in again
    assert clients_made == []


def test_the_city_calls_of_a_process_share_one_client(phone, clients_made):
    phone.text("hi")
    phone.text("1")
    phone.text("120 main st")
    phone.text("Deep hole in the right lane")
    phone.text("crosswalk")
    [thanks, filed] = phone.text("YES")  # the catalogue, the filing: one client
    assert "Request number" in filed
    assert len(clients_made) == 1
    assert not clients_made[0]._http.is_closed


def test_a_process_reads_the_catalogue_from_its_own_copy_while_the_stamp_holds(phone, monkeypatch):
    phone.text("hi")  # fetched and stored
    phone.text("hi")  # read and kept
    settings = get_settings()

    def no_database():
        raise AssertionError("the database was read")

    monkeypatch.setattr(catalog, "session_scope", no_database)
    services = catalog.load_services(
        lambda: pytest.fail("a client was asked for"), settings.open311_endpoint, 3600
    )
    assert "Pothole in Street" in [s.name for s in services]


def test_a_catalogue_refreshed_by_another_process_is_read_at_the_next_turn(phone):
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu
    settings = get_settings()
    endpoint = settings.open311_endpoint
    kept = catalog.load_services(lambda: None, endpoint, 3600)
    renamed = [
        {"service_code": s.code, "service_name": f"Renamed {s.name}", "group": s.group}
        for s in kept
    ]
    # Another process stores a new catalogue (what refresh_catalog does).
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from bot.catalog import save_catalog;"
            "save_catalog(sys.argv[1], json.loads(sys.argv[2]))",
            endpoint,
            json.dumps(renamed),
        ],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        check=True,
        timeout=60,
    )
    [menu] = phone.text("hi")
    assert "Renamed Pothole in Street" in menu


def test_the_refresh_job_gives_the_catalogue_a_new_stamp(phone):
    phone.text("hi")
    before = get_redis().get(catalog.VERSION_KEY)
    assert before is not None
    assert refresh_catalog() > 0
    assert get_redis().get(catalog.VERSION_KEY) not in (None, before)


def test_a_pooled_worker_stuck_past_its_timeout_is_replaced_and_its_turn_set_aside(
    phone, monkeypatch, slow_engine
):
    """A job stuck where rq's alarm cannot reach it (C code): the supervisor kills its worker,
    releases the turn for one retry (killed again), then sets the message aside; new workers
    take over, and the resident's next text is answered."""
    configure(monkeypatch, lock_timeout="10", job_timeout="1", understanding="fuzzy")
    slow_engine["stuck"] = True
    post_signed(phone.client, "/webhooks/twilio", sms_form(SLOW, phone.number))
    pool = Pool(("residents", "city"), processes=1, burst=True)
    pool.check_every, pool.hard_kill_after = 0.1, 0.5
    started: list[int] = []
    real_start = pool._start

    def start(slot):
        real_start(slot)
        started.append(slot.pid)

    monkeypatch.setattr(pool, "_start", start)
    pool.run()
    message = the_message(SLOW)
    assert (message.status, message.error_code, message.attempts) == ("failed", "TurnTimeout", 2)
    assert len(set(started)) == 3  # the first worker, and one after each kill
    lock = f"intake311:lock:conversation:{message.conversation_id}"
    assert not get_redis().exists(lock)  # released with its dead holder
    [menu] = phone.text("hi")
    assert "Pothole in Street" in menu
    assert texts.TOO_MANY not in menu


def test_a_pool_in_burst_runs_what_is_queued_in_its_workers_and_stops(phone, monkeypatch):
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    pool = Pool(("residents", "city"), processes=2, burst=True)
    pool.check_every = 0.1
    pool.run()
    assert all(slot.pid == 0 for slot in pool.slots)
    [menu] = phone.inbox()
    assert "Pothole in Street" in menu
    assert run_jobs() == 0  # nothing was left for this process


def test_a_filing_notice_goes_ahead_of_the_turns_waiting(phone):
    """The resident who said YES waits for the request number: its text is queued ahead of
    the turns other residents have waiting, as a turn's own replies are."""
    phone.text("hi")
    phone.text("1")
    phone.text("120 main st")
    phone.text("Deep hole in the right lane")
    phone.text("crosswalk")
    post_signed(phone.client, "/webhooks/twilio", sms_form("YES", phone.number))
    run_burst(("residents",))  # the turn and its "Thanks!"; the filing waits on the city's
    residents = get_queue("residents")
    for other in (101, 102, 103):
        enqueue("bot.jobs.run_turn", other)
    run_burst(("city",))  # filed: the notice with the number is queued
    first = residents.jobs[0]
    assert first.func_name == "bot.jobs.deliver"
    assert [job.func_name for job in residents.jobs[1:]] == ["bot.jobs.run_turn"] * 3
    run_jobs()
    assert "Request number" in phone.inbox()[-1]
