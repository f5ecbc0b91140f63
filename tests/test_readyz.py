"""/readyz: ready when the database and Redis answer, 503 naming the one that does not."""

from __future__ import annotations

import socket
import threading
import time

import psycopg
import pytest

from bot import readiness
from bot.db import dispose_engines, get_engine, session_scope
from bot.intake import conversation_for
from bot.models import CatalogCache, Report, ReportState
from bot.settings import get_settings
from webhooks import create_app


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe():
    started = time.monotonic()
    response = create_app({"TESTING": True}).test_client().get("/readyz")
    return response, time.monotonic() - started


def test_ready_when_database_and_redis_answer(env):
    response, took = probe()
    assert response.status_code == 200
    assert response.get_json() == {
        "ok": True,
        "database": "ok",
        "redis": "ok",
        "open311": "unknown",  # nothing asked of the city yet
    }
    assert took < 2


def test_the_city_is_ok_once_its_catalogue_was_fetched(env):
    with session_scope() as session:
        session.add(CatalogCache(endpoint=env.open311_endpoint, services=[]))
    assert probe()[0].get_json()["open311"] == "ok"


def test_the_city_failing_is_reported_but_never_makes_the_process_unready(env):
    with session_scope() as session:
        session.add(CatalogCache(endpoint=env.open311_endpoint, services=[]))
        conversation = conversation_for(session, "sms", "tel:+13125550123")
        session.add(
            Report(
                contact_id=conversation.contact_id,
                conversation_id=conversation.id,
                service_code="001",
                description="Deep hole",
                state=ReportState.PENDING,
                attempts=2,
                last_error="HTTP 503 from https://city.example/open311?api_key=SECRETKEY",
            )
        )
    response, _ = probe()
    assert response.status_code == 200
    state = response.get_json()["open311"]
    assert state.startswith("failing: 1 report(s)")
    assert "SECRETKEY" not in response.get_data(as_text=True)


def test_redis_down_is_503_naming_redis(env, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    get_settings.cache_clear()
    response, took = probe()
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False
    assert body["database"] == "ok"
    assert body["redis"].startswith("failing: cannot be reached")
    assert took < 3


def test_database_down_is_503_naming_the_database_and_never_its_url(env, monkeypatch):
    url = f"postgresql://intake:hunter2-db-password@127.0.0.1:{closed_port()}/intake311"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    response, took = probe()
    assert response.status_code == 503
    body = response.get_json()
    assert body == {
        "ok": False,
        "database": body["database"],
        "redis": "ok",
        "open311": "unknown",
    }
    assert body["database"].startswith("failing: cannot be reached")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "127.0.0.1" not in text and "Traceback" not in text
    assert took < 3


def test_a_redis_that_never_answers_is_given_up_after_2_seconds(env, monkeypatch):
    with socket.socket() as silent:  # the kernel accepts connections; nothing ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        get_settings.cache_clear()
        response, took = probe()
        again, took_again = probe()  # the first still waits: not asked again
    assert response.status_code == again.status_code == 503
    assert response.get_json()["redis"] == "failing: no answer within 2 s"
    assert again.get_json()["redis"].startswith("failing: no answer")
    assert took < 3 and took_again < 3


def test_a_pooled_connection_the_database_dropped_is_not_a_503(env):
    if get_engine().dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to drop")
    app = create_app({"TESTING": True})  # its engines use a pooled connection unpinged
    dispose_engines()
    assert app.test_client().get("/readyz").status_code == 200  # a connection in the pool
    url = get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        dropped = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert dropped >= 1
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["database"] == "ok"


def _hung(release: threading.Event):
    """A probe's work that hangs until released, counting the threads it ran on."""
    started: list[str] = []

    def work() -> readiness.Probe:
        started.append(threading.current_thread().name)
        release.wait(10)
        return readiness.Probe(True)

    return work, started


def test_probes_that_overlap_share_one_thread_while_it_hangs():
    release = threading.Event()
    work, started = _hung(release)
    try:
        answers = []
        callers = [
            threading.Thread(
                target=lambda: answers.append(readiness.within("hangs", 0.3, work, lambda why: why))
            )
            for _ in range(6)
        ]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(5)
        assert len(started) == 1 and len(answers) == 6
        assert all(answer == "no answer within 0.3 s" for answer in answers)
    finally:
        release.set()


def test_a_hung_probe_is_tried_afresh_later_and_its_recovery_seen(monkeypatch):
    monkeypatch.setattr(readiness, "RETRY_HUNG_AFTER", 0.2)
    release = threading.Event()
    work, started = _hung(release)
    try:
        assert readiness.within("recovers", 0.1, work, lambda why: None) is None
        time.sleep(0.3)
        recovered = readiness.within("recovers", 1, lambda: "answered", lambda why: None)
        assert recovered == "answered" and len(started) == 1  # a fresh try, not the hung one
    finally:
        release.set()


def test_a_database_and_redis_both_silent_cost_one_deadline(env, monkeypatch):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        if get_settings().database_url.startswith("postgresql"):
            monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://u:p@127.0.0.1:{port}/x")
        get_settings.cache_clear()
        dispose_engines()
        response, took = probe()
    assert response.status_code == 503
    assert took < 2.8  # the two probes at once, not one after the other
