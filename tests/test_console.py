"""The console channel: `intake311 chat` and `intake311 demo` as a newcomer runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from bot.cli.chat import ConsoleChat
from tests.conftest import run_jobs
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_console_chat_prints_each_reply_on_one_line(sqlite_env):
    lines: list[str] = []
    chat = ConsoleChat("ana", lines.append, one_line=True)
    chat.send("hi")
    assert chat.busy()
    run_jobs()
    assert not chat.busy()
    assert chat.print_new() == 1
    [menu] = lines
    assert "\n" not in menu and " / 1 Pothole in Street / " in menu

    chat.send("1")
    run_jobs()
    chat.print_new()
    assert "Where is it?" in lines[-1]
    assert chat.print_new() == 0  # nothing printed twice


def test_console_residents_are_separate(sqlite_env):
    said: dict[str, list[str]] = {"ana": [], "ben": []}
    ana = ConsoleChat("ana", said["ana"].append, one_line=True)
    ben = ConsoleChat("ben", said["ben"].append, one_line=True)
    ana.send("hi")
    run_jobs()
    ana.print_new()
    ben.print_new()
    assert len(said["ana"]) == 1 and said["ben"] == []


@pytest.fixture
def cli_env(tmp_path, sandbox, test_redis_url):
    """Environment for the CLI in a subprocess: its own database, Redis db and queue."""
    cli_redis_url = test_redis_url.rsplit("/", 1)[0] + "/1"
    conn = redis.Redis.from_url(cli_redis_url)
    conn.flushdb()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPEN311_", "GEOCODER", "TWILIO_", "CITY_", "DATABASE_URL"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        REDIS_URL=cli_redis_url,
        QUEUE_NAME=f"cli-{uuid.uuid4().hex[:8]}",
    )
    yield env
    conn.flushdb()


def _intake311(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def test_chat_reads_lines_and_prints_one_reply_per_line(cli_env, sandbox, tmp_path):
    cli_env.update(
        OPEN311_ENDPOINT=f"{sandbox.url}/open311/v2/",
        GEOCODER_DOMAIN=f"127.0.0.1:{sandbox.port}/nominatim",
        GEOCODER_SCHEME="http",
    )
    worker = subprocess.Popen(
        _intake311("worker"),
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = subprocess.run(
            _intake311("chat", "--name", "scripted", "--timeout", "20"),
            input="hi\n1\n120 Main St\n",
            env=cli_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "1 Pothole in Street" in lines[0]
    assert "Where is it?" in lines[1]
    assert lines[2].startswith("I found: 120 Main Street")


def test_demo_files_a_report_and_shows_its_status_update(cli_env, tmp_path):
    result = subprocess.run(
        _intake311(
            "demo",
            "--script",
            str(ROOT / "examples" / "pothole.txt"),
            "--sandbox-port",
            str(free_port()),
            "--web-port",
            str(free_port()),
        ),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The scripted resident walks the shorter flow: the sure address is not read back, the
    # optional questions come after 4 in the summary, and PRIVATE answers the consent question.
    assert "bot> Found: 120 Main Street, Springfield. Where is the pothole?" in out
    assert "I found:" not in out
    assert "4 to add details" in out and "bot> How deep is it" in out
    assert "PRIVATE sends it without your contact details." in out
    assert "bot> Thanks! Sending your report" in out
    assert "bot> Your Pothole in Street report was received by the city. Request number:" in out
    number = out.split("Request number: ")[1].split(".")[0]
    assert f"bot> Update on request {number} (Pothole in Street): closed." in out
    assert (tmp_path / "var" / "demo.log").exists()


def test_the_demo_reads_times_on_the_sandbox_towns_clock():
    """ "today 8am" in the demo is 8am in Springfield, whose requests the sandbox stamps -06:00."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.cli.demo import demo_env
    from sandbox.store import TOWN_TZ

    zone = ZoneInfo(demo_env(8410)["CITY_TIMEZONE"])
    assert zone.utcoffset(datetime(2026, 12, 5)) == TOWN_TZ.utcoffset(None)


def test_the_demo_geocodes_the_demo_town_with_no_outside_service():
    """`intake311 demo` looks addresses, corners and landmarks up in the demo town's file."""
    from bot.cli.demo import demo_env
    from bot.geocoding import lookup
    from bot.settings import Settings

    env = demo_env(8410)
    settings = Settings(
        _env_file=None,
        geocoder=env["GEOCODER"],
        gazetteer_file=env["GAZETTEER_FILE"],
        city_name=env["CITY_NAME"],
    )
    house = lookup("120 Main St", settings).places
    assert house[0].address == "120 Main Street, Springfield" and house[0].exact
    corner = lookup("Oak Ave & Cedar Dr", settings).places
    assert [(round(p.lat, 6), round(p.lon, 6)) for p in corner] == [(39.8036, -89.66)]
    assert lookup("the library", settings).places[0].lat == 39.7982
