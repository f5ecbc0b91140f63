"""Shared fixtures: real Redis, SQLite and PostgreSQL, the sandbox city, Twilio and Telegram fakes.

Outside services run on loopback: the Open311 sandbox (sandbox) also serves a
Nominatim-compatible geocoder, tests/fakes/twilio_api.py speaks Twilio's Messages API and
tests/fakes/telegram_api.py Telegram's Bot API.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading

import psycopg
import pytest
from rq import Queue
from rq.job import Job
from sqlmodel import SQLModel

from bot import db as bot_db
from bot import models  # noqa: F401  every table registered, for TABLES
from bot import queue as bot_queue
from bot.migrate import upgrade
from bot.settings import get_settings
from bot.worker import run_burst
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.fakes.telegram_api import create_telegram_api_app, reset_telegram_api
from tests.fakes.twilio_api import create_twilio_api_app, reset_twilio_api
from tests.fuzzing import (  # noqa: F401  the fuzzers' figures, printed at the end of the run
    pytest_configure,
    pytest_terminal_summary,
    pytest_unconfigure,
)
from tests.processes import RedisServer

# Each test run (and each pytest-xdist worker) has a redis-server and a PostgreSQL database of its
# own, so two checkouts, or CI and a developer, can test on one machine at once.
# INTAKE311_TEST_REDIS_URL uses an existing Redis instead (its database is flushed);
# INTAKE311_TEST_PG ("host=... port=... user=... dbname=...") another PostgreSQL server.
# A geocoder's answers kept in Redis (bot/geocode_cache.py) would carry one test's sandbox into
# the next: off unless a test turns it on (tests/test_geocode_cache.py).
os.environ.setdefault("GEOCODE_CACHE_SECONDS", "0")
# Many tests file a second report at the place of their first: the check for duplicates (an
# offer before the summary) is off unless a test turns it on (tests/test_duplicates*.py).
os.environ.setdefault("DUPLICATE_SERVICES_OFF", "*")
PG_ADMIN = os.environ.get("INTAKE311_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_PREFIX = "intake311_test_"
# Every table of ours (a new one is emptied between tests without being named here).
TABLES = ", ".join(sorted(SQLModel.metadata.tables))

TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
TWILIO_FROM = "+13125550100"
PUBLIC_BASE_URL = "https://intake.example.org"
TELEGRAM_TOKEN = "6000000001:AAF-test_token_0123456789abcdefghijk"
TELEGRAM_SECRET = "test-telegram-secret_0123456789"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    bot_db.dispose_engines()
    return path


@pytest.fixture(scope="session")
def test_redis_url(tmp_path_factory):
    """The run's own redis-server (or INTAKE311_TEST_REDIS_URL), stopped at the end."""
    given = os.environ.get("INTAKE311_TEST_REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


def _pg_url(dbname: str) -> str:
    params = dict(part.split("=", 1) for part in PG_ADMIN.split())
    user, host, port = params.get("user", "postgres"), params["host"], params.get("port", "5432")
    return f"postgresql+psycopg://{user}@{host}:{port}/{dbname}"


def _drop_abandoned(conn: psycopg.Connection) -> None:
    """Drop the databases of earlier runs on this machine whose process is gone (a killed run)."""
    names = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (PG_PREFIX + "%",)
    ).fetchall()
    for (name,) in names:
        pid = name.removeprefix(PG_PREFIX).split("_")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_ready():
    """A PostgreSQL database of this run's own, made and migrated once, dropped at the end."""
    dbname = f"{PG_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        _drop_abandoned(conn)
        conn.execute(f"CREATE DATABASE {dbname}")
    url = _pg_url(dbname)
    upgrade(url)
    bot_db.dispose_engines()
    yield url
    bot_db.dispose_engines()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def _fresh_postgres(url: str) -> str:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The Open311 sandbox city (and its geocoder) on loopback, for the whole session."""
    path = tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"
    server = serve(create_sandbox_app(str(path)))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def twilio_server():
    """The Twilio Messages API stand-in on loopback."""
    server = serve(create_twilio_api_app(TWILIO_SID, TWILIO_TOKEN))
    yield server
    server.stop()


@pytest.fixture
def twilio_api(twilio_server):
    """The Twilio stand-in's Flask app, emptied for this test."""
    reset_twilio_api(twilio_server._server.app)
    return twilio_server._server.app


@pytest.fixture(scope="session")
def telegram_server():
    """The Telegram Bot API stand-in on loopback."""
    server = serve(create_telegram_api_app(TELEGRAM_TOKEN))
    yield server
    server.stop()


@pytest.fixture
def telegram_api(telegram_server):
    """The Bot API stand-in's Flask app, emptied for this test."""
    reset_telegram_api(telegram_server._server.app)
    return telegram_server._server.app


@pytest.fixture
def redis_conn(test_redis_url):
    """The real Redis, the run's own, flushed before and after the test."""
    conn = bot_queue.get_redis(test_redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


def service_env(sandbox, twilio_url: str) -> dict[str, str]:
    """Settings that point a process at the loopback city, geocoder and Twilio stand-in."""
    return {
        "OPEN311_ENDPOINT": f"{sandbox.url}/open311/v2/",
        "OPEN311_API_KEY": "",
        "GEOCODER": "nominatim",
        "GEOCODER_DOMAIN": f"127.0.0.1:{sandbox.port}/nominatim",
        "GEOCODER_SCHEME": "http",
        "GEOCODER_TIMEOUT": "3",
        "CITY_NAME": "Springfield",
        "CITY_BOUNDS": "",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "TWILIO_API_BASE": twilio_url,
        # The stand-in redirects a MediaUrl to its "CDN": the same server by its other name.
        "TWILIO_MEDIA_HOSTS": "localhost:" + twilio_url.rsplit(":", 1)[1],
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        # The stand-in is paced like a Messaging Service of 100 messages a second (bot.pacing).
        "SMS_SENDS_PER_SECOND": "100",
    }


def _configure(
    monkeypatch, database_url: str, redis_url: str, sandbox, twilio_server, telegram_server
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": "intake311-test",
        **service_env(sandbox, twilio_server.url),
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE": telegram_server.url,
        # Not paced: the tests of pacing (tests/test_pacing.py) set their own rates.
        "SMS_SENDS_PER_SECOND": "0",
        "TELEGRAM_SENDS_PER_SECOND": "0",
        "TELEGRAM_CHAT_SENDS_PER_SECOND": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture
def services(test_redis_url, redis_conn, sandbox, twilio_server, telegram_server) -> dict:
    """What a configured process talks to: the run's Redis (flushed) and the loopback fakes."""
    return {
        "redis_url": test_redis_url,
        "sandbox": sandbox,
        "twilio_server": twilio_server,
        "telegram_server": telegram_server,
    }


def _sqlite_copy(tmp_path, sqlite_template) -> str:
    path = tmp_path / "intake311.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def pytest_generate_tests(metafunc):
    """`env` on SQLite and PostgreSQL in turn, or on SQLite alone in modules marked sqlite_only."""
    if "env" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        databases = ["sqlite"] if sqlite_only else ["sqlite", "postgresql"]
        metafunc.parametrize("env", databases, indirect=True)


@pytest.fixture
def env(request, monkeypatch, tmp_path, sqlite_template, services):
    """A configured process on SQLite or PostgreSQL (see pytest_generate_tests): settings,
    database, Redis."""
    if request.param == "sqlite":
        url = _sqlite_copy(tmp_path, sqlite_template)
    else:
        url = _fresh_postgres(request.getfixturevalue("postgres_ready"))
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    _configure(monkeypatch, url, **services)
    yield get_settings()
    bot_db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def sqlite_env(monkeypatch, tmp_path, sqlite_template, services):
    """A configured process on SQLite only, for tests where the database does not matter."""
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    _configure(monkeypatch, _sqlite_copy(tmp_path, sqlite_template), **services)
    yield get_settings()
    bot_db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def servers():
    """Every sandbox a module starts (append them), stopped together at the module's end (a
    stop takes 0.5 s)."""
    running: list = []
    yield running
    stopping = [threading.Thread(target=s.stop) for s in running]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


def run_jobs(include_delayed: bool = False, rounds: int = 20) -> int:
    """Run queued jobs (both queues) in this process until they are empty; return how many ran.

    With include_delayed, jobs scheduled for later (retries) are released first, as
    rq's scheduler would once their time came.
    """
    queues = [bot_queue.get_queue(kind) for kind in bot_queue.KINDS]
    ran = 0
    for _ in range(rounds):
        if include_delayed:
            for queue in queues:
                release_delayed(queue)
        waiting = sum(queue.count for queue in queues)
        if waiting == 0:
            return ran
        ran += waiting
        run_burst()
    return ran


def settle_posts(seconds: float = 3600) -> None:
    """Move every report's last POST `seconds` into the past, as if the wait before a search
    for it (bot.jobs.submission.settle_seconds) had passed."""
    from datetime import timedelta

    from sqlmodel import select

    from bot.models import Report

    with bot_db.session_scope() as session:
        for report in session.exec(select(Report).where(Report.last_posted_at.is_not(None))):
            report.last_posted_at -= timedelta(seconds=seconds)


def release_delayed(queue: Queue) -> int:
    """Move every scheduled job onto its queue now."""
    registry = queue.scheduled_job_registry
    ids = registry.get_job_ids()
    for job_id in ids:
        job = Job.fetch(job_id, connection=queue.connection)
        registry.remove(job)
        queue.enqueue_job(job)
    return len(ids)


# --- X (tests/fakes/x_api.py) ---------------------------------------------------------------------

X_CONSUMER = ("xTestConsumerKey0123456789", "x-test-consumer-secret-0123456789abcdefgh")
X_TOKEN = ("3001234567-xTestAccessToken0123456789", "x-test-access-secret-0123456789abcdefgh")


@pytest.fixture(scope="session")
def x_server():
    """The X API stand-in on loopback."""
    from tests.fakes.x_api import create_x_api_app

    server = serve(create_x_api_app(X_CONSUMER, X_TOKEN))
    yield server
    server.stop()


@pytest.fixture
def x_api(x_server, monkeypatch):
    """The X stand-in's Flask app, emptied for this test, and the X settings pointing at it
    (on top of `env` or `sqlite_env` when a test asks for one of those first)."""
    from tests.fakes.x_api import reset_x_api

    reset_x_api(x_server._server.app)
    for key, value in {
        "X_CONSUMER_KEY": X_CONSUMER[0],
        "X_CONSUMER_SECRET": X_CONSUMER[1],
        "X_ACCESS_TOKEN": X_TOKEN[0],
        "X_ACCESS_TOKEN_SECRET": X_TOKEN[1],
        "X_API_BASE": x_server.url,
        "X_SENDS_PER_SECOND": "0",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return x_server._server.app
