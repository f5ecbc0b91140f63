"""The whole bot as real processes on loopback, for the fault-injection suite.

Its own redis-server and PostgreSQL cluster (so both can be flushed and restarted without
touching the machine's), gunicorn on `webhooks:create_app()`, `intake311 worker` processes (each
in its own process group, so `kill -9` takes its rq work-horse too), `intake311 cron`, and in
threads of the test process: the Open311 sandbox and the fake Twilio API.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, service_env
from tests.fakes.twilio_api import create_twilio_api_app
from tests.processes import ROOT, Proc, RedisServer, StackError, free_port, tail, wait_port

BIN = Path(sys.executable).parent
PG_DB = "intake311_faults"
PG_TEMPLATE = "intake311_faults_template"


def pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries' folder, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def pg_unavailable() -> str | None:
    """Why the suite cannot run a PostgreSQL cluster of its own, or None when it can."""
    if os.geteuid() != 0:
        return "the suite runs its own PostgreSQL cluster with runuser, which needs root"
    if pg_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "there is no postgres user to run the cluster as"
    return None


class PgCluster:
    """A throw-away PostgreSQL cluster owned by user postgres, trust auth on 127.0.0.1."""

    def __init__(self, logdir: Path):
        reason = pg_unavailable()
        if reason:
            raise StackError(reason)
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="intake311-faults-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self.data = self.dir / "data"
        self.port = free_port()
        self.logdir = logdir
        self.restarts = 0
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()

    @property
    def log(self) -> Path:
        return self.dir / "postgres.log"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        argv = ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if done.returncode != 0:
            raise StackError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self) -> None:
        # fsync=off is safe here: a crash of PostgreSQL (stop -m immediate) keeps what it wrote
        # to the OS; synchronous_commit stays on, or an acknowledged commit could be lost.
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.log),
            "start",
            "-w",
            "-t",
            "60",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", mode, "-w", "-t", "60")

    def restart(self, down_for: float = 0.0) -> None:
        """Stop at once (`immediate`: connections cut, no checkpoint), wait, start again."""
        self.stop("immediate")
        time.sleep(down_for)
        self.start()
        self.restarts += 1

    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def url(self, dbname: str = PG_DB) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = PG_DB) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def fresh_database(self, dbname: str = PG_DB, template: str | None = None) -> None:
        """Drop `dbname` and make it anew (a copy of `template`, when given)."""
        copy = f" TEMPLATE {template}" if template else ""
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {dbname}{copy}")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.copy(self.log, self.logdir / "postgres.log") if self.log.exists() else None
        shutil.rmtree(self.dir, ignore_errors=True)


def worker_argv() -> list[str]:
    """`intake311 worker --processes 1`, as the Procfile runs workers (no fork per job): a
    supervisor and the worker it forked, which runs the jobs, so a kill -9 of the process
    group hits a job itself."""
    return [str(BIN / "intake311"), "worker", "--processes", "1"]


# As the Procfile deploys them: residents' workers (then status notices), and one for the
# city's Open311 calls.
WORKER_QUEUES = (("residents", "notices"), ("residents", "notices"), ("city",))


class Stack:
    """The web app, workers and cron over the suite's Redis and PostgreSQL, with a fresh
    database, a fresh Redis and a fresh sandbox city for each scenario."""

    WORKERS = len(WORKER_QUEUES)

    def __init__(self, redis: RedisServer, pg: PgCluster, logdir: Path, worker_cmd: list[str]):
        self.redis, self.pg, self.worker_cmd = redis, pg, worker_cmd
        self.base, self.logdir = logdir, logdir
        self.twilio = serve(create_twilio_api_app(TWILIO_SID, TWILIO_TOKEN))
        self.sandbox = None
        self.web: Proc | None = None
        self.workers: list[Proc] = []
        self.cron: Proc | None = None
        self.web_port = 0
        self.scenario = ""
        self.migrated = False

    @property
    def twilio_app(self):
        return self.twilio._server.app

    @property
    def sandbox_app(self):
        return self.sandbox._server.app

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.pg.url(),
                "REDIS_URL": self.redis.url,
                "QUEUE_NAME": "intake311-faults",
                **service_env(self.sandbox, self.twilio.url),
                "OPEN311_PROFILE": "sandbox",
                "OPEN311_TIMEOUT": "2",
                "TELEGRAM_BOT_TOKEN": "",
                "CONVERSATION_IDLE_MINUTES": "0",
                "TRACK_INTERVAL": "3600",
                # Its residents all report the same place: no duplicate offered, none followed.
                "DUPLICATE_SERVICES_OFF": "*",
                "RECONCILE_INTERVAL": "2",
                "RECONCILE_GRACE": "3",
                "STUCK_AFTER": "10",
                "RETRY_BASE_SECONDS": "1",
                "RETRY_CAP_SECONDS": "4",
                "LOCK_TIMEOUT": "15",
                "SEND_IN_FLIGHT": "8",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for key in ("INTAKE311_TEST_REDIS_URL", "INTAKE311_TEST_PG"):
            env.pop(key, None)
        return env

    def start_scenario(self, name: str) -> None:
        """Fresh database, Redis, sandbox and Twilio log; then web, workers and cron."""
        self.stop_processes()
        self.scenario = name
        self.logdir = self.base / name
        self.logdir.mkdir(parents=True, exist_ok=True)
        if self.sandbox is not None:
            self.sandbox.stop()
        self.sandbox = serve(create_sandbox_app(str(self.logdir / "sandbox.sqlite3")))
        from tests.fakes.twilio_api import reset_twilio_api

        reset_twilio_api(self.twilio_app)
        self.redis.flushall()
        if not self.migrated:
            self._migrate_template()
        self.pg.fresh_database(template=PG_TEMPLATE)
        env = self.env()
        self.web_port = free_port()
        self.web = Proc(
            "web",
            [
                str(BIN / "python"),
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "2",
                "--timeout",
                "60",
                "--no-control-socket",
                "webhooks:create_app()",
            ],
            env,
            self.logdir,
        ).start()
        self.workers = [
            Proc(
                f"worker{i}",
                [*self.worker_cmd, *(arg for kind in kinds for arg in ("--queue", kind))],
                env,
                self.logdir,
            ).start()
            for i, kinds in enumerate(WORKER_QUEUES)
        ]
        self.cron = Proc("cron", [str(BIN / "intake311"), "cron"], env, self.logdir).start()
        wait_port(self.web_port, 30, self.web.popen)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.web_url}/healthz", timeout=2).status_code < 500:
                    break
            time.sleep(0.2)
        for proc in (*self.workers, self.cron):
            if not proc.alive:
                raise StackError(f"{proc.name} exited at start\n{tail(proc.log)}")

    def _migrate_template(self) -> None:
        """`intake311 migrate` (the release step, as deployed) once, into the database every
        scenario's is copied from."""
        self.pg.fresh_database(PG_TEMPLATE)
        env = {**self.env(), "DATABASE_URL": self.pg.url(PG_TEMPLATE)}
        migrate = subprocess.run(
            [str(BIN / "intake311"), "migrate"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if migrate.returncode != 0:
            raise StackError(f"intake311 migrate failed: {migrate.stdout}{migrate.stderr}")
        self.migrated = True

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def processes(self) -> list[Proc]:
        return [p for p in (self.web, *self.workers, self.cron) if p is not None]

    def logs(self, lines: int = 30) -> str:
        return "\n".join(tail(p.log, lines) for p in self.processes())

    def stop_processes(self) -> None:
        for proc in self.processes():
            proc.stop()
        self.web, self.workers, self.cron = None, [], None

    def close(self) -> None:
        self.stop_processes()
        if self.sandbox is not None:
            self.sandbox.stop()
        self.twilio.stop()
