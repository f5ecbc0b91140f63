"""The bot as the Procfile deploys it, with production settings, for the benchmarks.

Every process is started from the Procfile's own command line (`web`, `worker`, `cityworker`,
`cron`, and `release` to migrate), $PORT substituted, so whatever the Procfile and the gunicorn
config say is what is measured. ENV=production with keys made for the run; PostgreSQL is the
machine's (a database of the run's own), Redis a redis-server of the run's own, and the Open311
sandbox and the fake Twilio API are served from threads of the benchmark's process.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.app import create_sandbox_app  # noqa: E402
from sandbox.server import ServerThread, serve  # noqa: E402
from tests.conftest import (  # noqa: E402
    PUBLIC_BASE_URL,
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    service_env,
)
from tests.fakes.twilio_api import create_twilio_api_app  # noqa: E402
from tests.processes import Proc, RedisServer, StackError, free_port, tail, wait_port  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get(
    "INTAKE311_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_DB = "intake311_bench"  # one at a time: two benchmarks at once would share it
SIGNED_URL = PUBLIC_BASE_URL + "/webhooks/twilio"
# High enough never to refuse a benchmark's traffic (bot/ratelimits.py): a storm of thousands of
# senders is what the defaults are for, and a benchmark must measure the work, not the refusal.
LIMITS = {
    "INBOUND_LIMIT_PER_SENDER": "100000/minute",
    "INBOUND_LIMIT_GLOBAL": "10000000/minute",
    "REPLY_LIMIT_PER_SENDER": "100000/day",
    "SMS_ALARM_PER_DAY": "100000000",
}

__all__ = [
    "PUBLIC_BASE_URL",
    "SIGNED_URL",
    "TWILIO_FROM",
    "TWILIO_SID",
    "TWILIO_TOKEN",
    "BenchStack",
    "StackError",
    "procfile",
]


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def argv_of(command: str, port: int | None = None, app: str | None = None) -> list[str]:
    """A Procfile command as argv: $PORT substituted; `app` replaces gunicorn's app spec."""
    argv = shlex.split(command.replace("$PORT", str(port or 0)).replace("${PORT}", str(port or 0)))
    exe = BIN / argv[0]
    if exe.exists():
        argv[0] = str(exe)
    if app is not None:
        spec = max(i for i, a in enumerate(argv) if ":" in a and not a.startswith("-"))
        argv[spec] = app
    return argv


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return ""


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pg_version() -> str:
    with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return row[0] if row else "?"
    return "unknown"


def machine() -> dict[str, str]:
    """CPU, cores, RAM, Python, PostgreSQL and Redis versions."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    redis = "unknown"
    with contextlib.suppress(Exception):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        redis = re.search(r"v=(\S+)", out).group(1)  # type: ignore[union-attr]
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "python": platform.python_version(),
        "postgresql": pg_version(),
        "redis": redis,
    }


def production_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """ENV=production with keys of the run's own and the benchmark's limits."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for key in ("INTAKE311_TEST_REDIS_URL", "INTAKE311_TEST_PG"):
        env.pop(key, None)
    env.update(
        {
            "ENV": "production",
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "LOOKUP_KEY": secrets.token_urlsafe(32),
            "ADMIN_TOKEN": secrets.token_urlsafe(32),
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "TELEGRAM_BOT_TOKEN": "",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{BIN}:{env.get('PATH', '')}",
            **LIMITS,
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Sent:
    """When each text reached the fake Twilio (monotonic), by recipient."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    count: int = 0

    def add(self, to: str, body: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.times.setdefault(to, []).append((now, body))
            self.count += 1

    def clear(self) -> None:
        with self.lock:
            self.times.clear()
            self.count = 0


def timed_twilio() -> tuple[ServerThread, Sent]:
    """The fake Twilio API, noting when each message POST arrives (before it is answered)."""
    import logging
    from urllib.parse import parse_qs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    app = create_twilio_api_app(TWILIO_SID, TWILIO_TOKEN)
    sent = Sent()
    inner = app.wsgi_app

    def wsgi(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/Messages.json"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size)
            form = parse_qs(raw.decode())
            sent.add(form.get("To", [""])[0], form.get("Body", [""])[0])
            import io

            environ["wsgi.input"] = io.BytesIO(raw)
        return inner(environ, start_response)

    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return serve(app), sent


def fresh_database(name: str = PG_DB) -> str:
    """Drop and create the run's database on the machine's PostgreSQL; its SQLAlchemy URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    user = info.get("user", "postgres")
    return f"postgresql+psycopg://{user}@{info.get('host')}:{info.get('port', 5432)}/{name}"


def count_rows(sql: str, name: str = PG_DB) -> int:
    with psycopg.connect(psycopg.conninfo.make_conninfo(PG_ADMIN, dbname=name)) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


class BenchStack:
    """Redis, a fresh database, the sandbox, the fake Twilio, and the Procfile's processes."""

    def __init__(self, logdir: Path):
        import signal

        # A SIGTERM (bench/run.py's timeout) unwinds through `finally`, which stops the stack.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(logdir)
        self.database_url = fresh_database()
        self.twilio, self.sent = timed_twilio()
        self.sandbox = serve(create_sandbox_app(str(logdir / "sandbox.sqlite3")))
        self.env = production_env(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis.url,
                "QUEUE_NAME": "intake311-bench",
                **service_env(self.sandbox, self.twilio.url),
                "OPEN311_PROFILE": "sandbox",
            }
        )
        self.procs: dict[str, Proc] = {}
        self.port = 0
        self.commands: list[str] = []
        self._release()

    def _release(self) -> None:
        """The Procfile's release step (`intake311 migrate`)."""
        command = procfile().get("release")
        if not command:
            return
        done = subprocess.run(
            argv_of(command), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        if done.returncode != 0:
            raise StackError(f"release failed: {done.stdout}{done.stderr}")

    def start(self, kinds: Iterable[str] = ("web", "worker", "cityworker", "cron")) -> None:
        """Start these Procfile process types; wait for the web app to answer."""
        lines = procfile()
        for kind in kinds:
            if kind not in lines:
                continue
            if kind == "web":
                self.port = free_port()
            argv = argv_of(lines[kind], self.port)
            self.commands.append(f"{kind}: {shlex.join(argv)}")
            # $PORT as a Heroku-style runner gives it: the Procfile's line or gunicorn.conf.py.
            env = {**self.env, "PORT": str(self.port)}
            self.procs[kind] = Proc(kind, argv, env, self.logdir).start()
        if "web" in self.procs:
            wait_http(self.port, self.procs["web"])
        time.sleep(1.0)
        for proc in self.procs.values():
            if not proc.alive:
                raise StackError(f"{proc.name} exited at start\n{tail(proc.log)}")

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> dict[str, int]:
        return {k: p.popen.pid for k, p in self.procs.items() if p.popen is not None}

    def restart(self) -> None:
        """Stop the processes, empty Redis (queues, locks, limits), start them again."""
        kinds = list(self.procs)
        self.stop_processes()
        self.redis.flushall()
        self.start(kinds)

    def stop_processes(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        self.procs = {}

    def close(self) -> None:
        self.stop_processes()
        with contextlib.suppress(Exception):
            self.sandbox.stop()
        with contextlib.suppress(Exception):
            self.twilio.stop()
        self.redis.stop()
        with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def wait_http(port: int, proc: Proc, timeout: float = 60) -> None:
    """Until anything answers HTTP on the port (any status)."""
    wait_port(port, timeout, proc.popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return
        if not proc.alive:
            raise StackError(f"{proc.name} exited\n{tail(proc.log)}")
        time.sleep(0.2)
    raise StackError(f"{proc.name} never answered on {port}")


def gunicorn_app(name: str, app: str, logdir: Path, env: dict[str, str]) -> tuple[Proc, int]:
    """Another WSGI app under exactly the Procfile's web command (and its gunicorn config)."""
    port = free_port()
    argv = argv_of(procfile()["web"], port, app=app)
    proc = Proc(name, argv, {**env, "PORT": str(port)}, logdir).start()
    wait_http(port, proc)
    return proc, port


def process_rss(pid: int) -> list[tuple[str, int, int]]:
    """(command line, pid, RSS kB) for a process and each of its descendants."""
    return [(cmdline(p), p, rss_kb(p)) for p in tree(pid)]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def ratio(value: float, baseline: float) -> str | None:
    if not baseline or value != value or baseline != baseline:
        return None
    return f"{value / baseline:.2f}x"


def row(
    figure: str,
    value: str,
    baseline: str | None = None,
    ratio: str | None = None,
    goal: str | None = None,
    met: bool | None = None,
    note: str = "",
) -> dict:
    """One line of a section's table (the bench contract's fields)."""
    return {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "goal": goal,
        "met": met,
        "note": note,
    }


def write_json(
    path: str | None, section: str, rows: list[dict], commands: list[str], load: str
) -> None:
    """Print the rows readably; with a path, write them as the bench contract says."""
    import json

    print(f"\n## {section}  (load {load})")
    for r in rows:
        extra = f" | baseline {r['baseline']} | {r['ratio']}" if r["baseline"] else ""
        goal = f" | goal {r['goal']}: {'met' if r['met'] else 'NOT met'}" if r["goal"] else ""
        note = f"  ({r['note']})" if r["note"] else ""
        print(f"- {r['figure']}: {r['value']}{extra}{goal}{note}")
    if path:
        Path(path).write_text(
            json.dumps(
                {"section": section, "rows": rows, "commands": commands, "load": load}, indent=2
            )
        )


def py_spy(name: str, pid: int, seconds: int) -> tuple[subprocess.Popen, Path]:
    """Start `py-spy record` on a process and its children; the flame graph's path.

    --idle: time waiting (on PostgreSQL, Redis, the network) is what a webhook's latency is
    made of, so it is shown, not only time on the CPU."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
    exe = BIN / "py-spy"
    argv = [str(exe if exe.exists() else "py-spy"), "record", "--subprocesses", "--idle"]
    argv += ["-d", str(seconds), "-o", str(out), "--pid", str(pid)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def hot_spots(
    svg: Path, top: int = 12, ours: tuple[str, ...] = ("bot/", "webhooks/", "conversations/")
) -> list[str]:
    """The project's functions taking the largest share of a py-spy flame graph's samples,
    inclusive, summed over every stack they appear in, as "share function". The share is of the
    samples of the processes running project code (a gunicorn master or an rq scheduler, asleep
    throughout, would otherwise dilute it: with --idle every process is sampled all the time)."""
    import html

    frames = [
        (title, int(x), int(w))
        for title, x, w in re.findall(
            r"<title>(.*?) \([\d,]+ samples?, [\d.]+%\)</title><rect [^>]*fg:x=\"(\d+)\" "
            r"fg:w=\"(\d+)\"",
            html.unescape(svg.read_text()),
        )
    ]
    procs = [(x, w) for title, x, w in frames if title.startswith("process ")]

    def innermost(x: int) -> tuple[int, int] | None:
        inside = [p for p in procs if p[0] <= x < p[0] + p[1]]
        return min(inside, key=lambda p: p[1]) if inside else None

    def own(proc: tuple[int, int]) -> int:
        x, w = proc
        nested = sorted(p for p in procs if p != proc and x <= p[0] and p[0] + p[1] <= x + w)
        covered, end = 0, x
        for px, pw in nested:
            if px >= end:
                covered += pw
                end = px + pw
        return w - covered

    by_function: dict[str, int] = {}
    running: set[tuple[int, int]] = set()
    for title, x, w in frames:
        match = re.match(r"(\S+) \(([^:)]+)(?::\d+)?\)$", title)
        if match and match.group(2).startswith(ours):
            name = f"{match.group(2)} {match.group(1)}"
            by_function[name] = by_function.get(name, 0) + w
            proc = innermost(x)
            if proc is not None:
                running.add(proc)
    total = sum(own(p) for p in running)
    ranked = sorted(by_function.items(), key=lambda item: -item[1])[:top]
    return [f"{100 * n / total:.0f}% {name}" for name, n in ranked] if total else []
