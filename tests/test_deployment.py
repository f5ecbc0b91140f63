"""The Procfile as it is, under honcho (a Procfile runner from PyPI), with production settings.

The release line is run first, as Heroku-style platforms do (`honcho run`), then
`honcho start web worker cityworker cron`: `honcho start` alone would run `release:` as one
more process, and honcho stops every process as soon as any one exits, so the service would
stop when the migration finished. The test checks /healthz and /readyz through gunicorn, a
signed Twilio SMS answered by the worker through the Twilio stand-in, and that SIGTERM to
honcho stops every process it started (honcho gives each process a session of its own, so the
check walks the process tree, not honcho's process group).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from honcho.environ import parse_procfile
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PG_ADMIN, PG_PREFIX, PUBLIC_BASE_URL, TWILIO_TOKEN, _pg_url, service_env
from tests.processes import ROOT, Proc, StackError, free_port, tail, wait_port
from tests.twilio_signing import sign
from tests.twilio_webhooks import sms_form

BIN = Path(sys.executable).parent
HONCHO = BIN / "honcho"
PROCFILE = ROOT / "Procfile"
# What runs all the time; `release` is the one-off step before them.
LONG_RUNNING = ("web", "worker", "cityworker", "cron")
# Generous bounds for a loaded machine (nothing is asserted about how long anything took).
START_SECONDS = 90
REPLY_SECONDS = 60
STOP_SECONDS = 30

pytestmark = [
    pytest.mark.skipif(not HONCHO.exists(), reason="honcho is not installed in this venv"),
    pytest.mark.skipif(
        (ROOT / ".env").exists(),
        reason="a .env file in the checkout: honcho and ENV=production would both read it",
    ),
]


def _secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def own_database():
    """An empty PostgreSQL database of this test's own (the release step migrates it)."""
    dbname = f"{PG_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    yield _pg_url(dbname)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


@pytest.fixture
def production_env(tmp_path, own_database, test_redis_url, sandbox, twilio_server, twilio_api):
    """What a production machine's environment holds: ENV=production and every secret it
    asks for, the test's own database and queue, the sandbox city and the Twilio stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE311_TEST")}
    env.update(service_env(sandbox, twilio_server.url))
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "ENV": "production",
            "DATABASE_URL": own_database,
            "REDIS_URL": test_redis_url,
            "QUEUE_NAME": f"intake311-deploy-{secrets.token_hex(4)}",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": "1",
            "TRUST_PROXY": "1",
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "LOOKUP_KEY": _secret(),
            "WEBCHAT_SECRET": _secret(),
            "ADMIN_TOKEN": _secret(),
            "METRICS_TOKEN": _secret(),
            "CONSOLE_SECRET_KEY": _secret(),
            "METRICS_DIR": str(tmp_path / "metrics"),
            "MEDIA_DIR": str(tmp_path / "media"),
            "TELEGRAM_BOT_TOKEN": "",
            # The keyword matcher: the embedding model's warm-up in each worker pool would
            # cost the shared test machine most of a minute and prove nothing about deploying.
            "UNDERSTANDING": "fuzzy",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _tree(root: int) -> dict[int, int]:
    """Every live descendant of `root` (pid -> its process group), read from /proc."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp
            parents[int(entry.name)] = (int(fields[1]), int(fields[2]))
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, pgrp) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = pgrp
                frontier.append(pid)
    return found


def _alive_in_groups(groups: set[int]) -> list[int]:
    """Processes (not zombies) still in any of these process groups."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups and fields[0] != "Z":
                alive.append(int(entry.name))
    return alive


def _wait(check, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise StackError(f"{what} within {seconds} s\n{tail(log, 80)}")


def test_procfile_runs_the_whole_service_under_honcho(tmp_path, production_env, twilio_api):
    procfile = parse_procfile(PROCFILE.read_text()).processes
    assert set(procfile) == {"release", *LONG_RUNNING}

    # The release step, as a platform runs it before starting the new processes.
    release = subprocess.run(
        [str(HONCHO), "-e", os.devnull, "run", "--", "sh", "-c", procfile["release"]],
        env=production_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert release.returncode == 0, release.stdout + release.stderr
    assert "database is up to date" in release.stdout

    # `-e /dev/null`: no .env file read; every setting comes from the environment.
    argv = [str(HONCHO), "-e", os.devnull, "--no-colour", "start", *LONG_RUNNING]
    honcho = Proc("honcho", argv, production_env, tmp_path).start()
    groups: set[int] = set()
    try:
        port = int(production_env["PORT"])
        wait_port(port, START_SECONDS, honcho.popen)
        base = f"http://127.0.0.1:{port}"
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

        def ready():
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base}/readyz", headers=proxied, timeout=5)
            return None

        def ready_200():
            response = ready()
            return response if response is not None and response.status_code == 200 else None

        readyz = _wait(ready_200, START_SECONDS, "/readyz never answered 200", honcho.log)
        assert readyz.json()["database"] == "ok" and readyz.json()["redis"] == "ok"
        assert httpx.get(f"{base}/healthz", headers=proxied, timeout=5).json() == {"ok": True}

        # Every Procfile process is up (none refused ENV=production and exited).
        tree = _tree(honcho.popen.pid)
        groups = set(tree.values()) - {os.getpgid(honcho.popen.pid)}
        assert len(groups) == len(LONG_RUNNING), tail(honcho.log, 80)

        # A resident's text, signed as Twilio signs it for our public address.
        sender = "+13125550177"
        form = sms_form("hi", sender=sender)
        signature = sign(PUBLIC_BASE_URL + "/webhooks/twilio", form, TWILIO_TOKEN)
        answer = httpx.post(
            f"{base}/webhooks/twilio",
            data=form,
            headers={**proxied, "X-Twilio-Signature": signature},
            timeout=15,
        )
        assert answer.status_code == 200, answer.text

        def replied():
            return [s for s in twilio_api.config["SENT"] if s["form"]["To"] == [sender]]

        sent = _wait(replied, REPLY_SECONDS, "the worker sent no reply", honcho.log)
        assert sent[0]["form"]["Body"][0].strip()
        assert sent[0]["form"]["From"] == [production_env["TWILIO_FROM_NUMBER"]]

        # /metrics, behind its token, sums every process's files under METRICS_DIR: the web's
        # webhook and the worker's send, counted in two process groups.
        def metrics() -> dict[str, float]:
            answer = httpx.get(
                f"{base}/metrics",
                headers={**proxied, "Authorization": f"Bearer {production_env['METRICS_TOKEN']}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            return {
                f"{sample.name}{sorted(sample.labels.items())}": sample.value
                for family in text_string_to_metric_families(answer.text)
                for sample in family.samples
            }

        assert httpx.get(f"{base}/metrics", headers=proxied, timeout=10).status_code == 401
        webhook = "intake311_webhooks_total[('channel', 'sms'), ('outcome', 'accepted')]"
        sent_sms = "intake311_messages_sent_total[('channel', 'sms')]"
        counted = _wait(
            lambda: (found := metrics()).get(sent_sms, 0) >= 1 and found,
            REPLY_SECONDS,
            "the worker's send was never counted in /metrics",
            honcho.log,
        )
        assert counted[webhook] == 1

        # A platform's stop: SIGTERM to the runner, which passes it to every process group.
        os.kill(honcho.popen.pid, signal.SIGTERM)
        honcho.popen.wait(timeout=STOP_SECONDS)
        log = honcho.log.read_text(errors="replace")
        assert "SIGKILL" not in log, tail(honcho.log, 80)  # each stopped within honcho's wait
        for name in LONG_RUNNING:
            assert f"{name}.1 stopped" in log, tail(honcho.log, 80)
        # Each stopped its own way, gracefully: gunicorn's master, rq's warm shutdown, the cron.
        for said in ("Shutting down: Master", "warm shut down requested", "shutdown complete"):
            assert said in log, tail(honcho.log, 80)
        # Nothing of theirs left behind (a moment for the last ones to be reaped).
        # honcho's own group too (it has a session of its own: its group is its pid).
        everything = groups | {honcho.popen.pid}
        deadline = time.monotonic() + 5
        while (leftover := _alive_in_groups(everything)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert leftover == [], f"orphans left running: {leftover}\n{tail(honcho.log, 80)}"
    finally:
        if honcho.alive and not groups:  # failed before they were counted: find them now
            groups = set(_tree(honcho.popen.pid).values()) - {os.getpgid(honcho.popen.pid)}
        honcho.stop()
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        shutil.rmtree(tmp_path / "metrics", ignore_errors=True)
