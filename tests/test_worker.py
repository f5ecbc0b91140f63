"""The worker process: what it loads, that it never migrates, and that it obeys rq's commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from rq import Worker
from rq.command import send_shutdown_command

from bot.queue import get_queue
from bot.worker import PUBSUB_WAIT, BurstWorker, ForkingWorker, InProcessWorker, run_burst
from tests.conftest import run_jobs

HEAVY = ("bot.cli.demo", "sandbox.cli", "bot.cli.telegram", "bot.jobs", "alembic", "telegram")
HEAVY += ("twilio", "bot.channels.registry")


def test_the_worker_command_loads_neither_the_jobs_nor_the_rest_of_the_cli():
    # Its start too (logging, the production checks): those load no channel's library.
    probe = (
        "import json, sys; from bot.cli import main, _start; import bot.worker;"
        "cmd = main.get_command(None, 'worker'); _start('worker');"
        f"print(json.dumps([cmd.name, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    name, loaded = json.loads(done.stdout)
    assert name == "worker"
    assert loaded == []


def test_every_lazy_command_is_found():
    from bot.cli import LAZY_COMMANDS, main

    for name in LAZY_COMMANDS:
        assert main.get_command(None, name).name == name
    assert set(LAZY_COMMANDS) <= set(main.list_commands(None))


def _wait_for_worker(conn, queue_names: list[str], proc: subprocess.Popen) -> Worker:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [w for w in Worker.all(connection=conn) if w.queue_names() == queue_names]
        if found:
            return found[0]
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError("the worker never registered with Redis")


@pytest.mark.parametrize("flags", [["--simple"], []], ids=["in-process", "forking"])
def test_a_worker_without_a_database_starts_does_work_and_stops_on_rqs_command(
    sqlite_env, redis_conn, tmp_path, flags
):
    """No migration on the worker's path: it starts against a database that does not exist,
    answers rq's shutdown command within seconds (redis-py 8 waits out rq's 60 s listener
    otherwise), and runs a job."""
    missing = tmp_path / "nowhere" / "never-made.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{missing}", "PYTHONUNBUFFERED": "1"}
    queue = f"worker-test-{uuid.uuid4().hex[:6]}"
    env["QUEUE_NAME"] = queue
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--queue", "residents", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        worker = _wait_for_worker(redis_conn, [queue], proc)
        from rq import Queue

        job = Queue(queue, connection=redis_conn).enqueue("os.getpid")
        deadline = time.monotonic() + 30
        while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.get_status() == "finished"
        stop_asked = time.monotonic()
        send_shutdown_command(redis_conn, worker.name)
        proc.wait(timeout=30)
        # rq's own listener waits 60 s between looks at its stop flag; ours PUBSUB_WAIT.
        assert time.monotonic() - stop_asked < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not missing.parent.exists()  # nothing migrated, nothing made


def test_the_burst_runner_has_no_command_listener(sqlite_env, redis_conn):
    worker = BurstWorker([get_queue("residents")], connection=redis_conn)
    worker.subscribe()
    assert worker.pubsub_thread is None
    worker.unsubscribe()


def test_a_burst_run_does_what_is_queued_and_leaves_no_worker_behind(sqlite_env, redis_conn):
    queue = get_queue("residents")
    jobs = [queue.enqueue("os.getpid") for _ in range(3)]
    run_burst(("residents",))
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * 3
    assert Worker.all(connection=redis_conn) == []
    assert run_jobs() == 0


@pytest.mark.parametrize("flags", [["--simple"], []], ids=["in-process", "forking"])
def test_a_burst_worker_runs_what_is_queued_and_quits(sqlite_env, redis_conn, flags):
    queue = get_queue("residents")
    job = queue.enqueue("os.getpid")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker", "--burst", "--queue", "residents", *flags],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert job.get_status(refresh=True) == "finished"


@pytest.mark.parametrize("cls", [InProcessWorker, ForkingWorker])
def test_the_command_listener_looks_at_its_stop_flag_every_pubsub_wait(sqlite_env, redis_conn, cls):
    """rq asks redis-py to wait 60 s for a command between looks at the listener's stop flag,
    and redis-py 8 waits for the listener when a worker quits: up to a minute per stop (60 s
    per burst run, measured). Ours looks every PUBSUB_WAIT, whatever redis-py does."""
    worker = cls([get_queue("residents")], connection=redis_conn)
    worker.subscribe()
    try:
        assert worker.pubsub_thread.is_alive()
        assert worker.pubsub_thread.sleep_time == PUBSUB_WAIT
    finally:
        worker.unsubscribe()
    assert not worker.pubsub_thread.is_alive()
