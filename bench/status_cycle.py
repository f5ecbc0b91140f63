"""Status tracking benchmark: one polling cycle over N tracked open requests against the sandbox.

    .venv/bin/python bench/status_cycle.py [--requests 100000] [--rounds 3] [--json PATH]

Seeds N filed, open reports (one resident each, SMS, already checked once) in a PostgreSQL
database of its own (COPY) and the same N requests in the Open311 sandbox (SQLite, one
executemany), served from a thread of this process with a counter of the calls it answers.
Each round then closes a fresh 1% of the requests in the sandbox and runs one tracking cycle
as the cron does: the `bot.jobs.track` job on the city's queue, run by a real
`intake311 worker --simple --burst --queue city` process (ENV=production, its own Redis). The
cycle's time is the job's own (rq's started/ended), the peak RSS that worker's (wait4), the
writes and the texts queued are counted in the database, the HTTP calls at the sandbox.

Baseline, alternated with the cycles: the same GET requests?service_request_id=... batches
with no bot logic (a loop in a separate process, the bot's Open311 client), i.e. the HTTP
floor a cycle cannot go under. Before the change (issue #16): 172 s for 100,000.
Memory: one extra cycle over N/10 reports first, its peak RSS beside the N cycle's.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.processes import RedisServer  # noqa: E402

PG_ADMIN = os.environ.get(
    "INTAKE311_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
DBNAME = "intake311_bench_status"
GOAL_SECONDS = 60.0
BEFORE_SECONDS = 172.0  # issue #16, one cycle over 100,000 before this change
BATCH = 50  # the sandbox profile's batch_size
SERVICE = ("POTHOLE", "Pothole in Street")
QUEUE = "intake311-bench-status"


def _pg_url(dbname: str) -> str:
    params = dict(part.split("=", 1) for part in PG_ADMIN.split())
    host, port, user = params["host"], params.get("port", "5432"), params.get("user", "postgres")
    return f"postgresql+psycopg://{user}@{host}:{port}/{dbname}"


def _dsn(dbname: str) -> str:
    return _pg_url(dbname).replace("postgresql+psycopg://", "postgresql://")


class CountingApp:
    """WSGI middleware: counts the GET requests?... calls the sandbox answers."""

    def __init__(self, app):
        self.app, self.calls, self._lock = app, 0, threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(
            "/open311/v2/requests."
        ):
            with self._lock:
                self.calls += 1
        return self.app(environ, start_response)


def production_env(sandbox_url: str, redis_url: str) -> dict[str, str]:
    """ENV=production with the keys it requires, pointed at this bench's city and Redis."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = dict(os.environ)
    env.update(
        ENV="production",
        DATABASE_URL=_pg_url(DBNAME),
        REDIS_URL=redis_url,
        QUEUE_NAME=QUEUE,
        ENCRYPTION_KEYS=key,
        LOOKUP_KEY=secrets.token_urlsafe(32),
        ADMIN_TOKEN=secrets.token_urlsafe(32),
        PUBLIC_BASE_URL="https://intake.example.org",
        OPEN311_ENDPOINT=f"{sandbox_url}/open311/v2/",
        OPEN311_PROFILE="sandbox",
        OPEN311_API_KEY="",
        TWILIO_ACCOUNT_SID="AC" + "0" * 31 + "1",
        TWILIO_AUTH_TOKEN=secrets.token_urlsafe(32),
        TWILIO_FROM_NUMBER="+13125550100",
        TWILIO_API_BASE="http://127.0.0.1:9",  # never called: no worker serves the replies
        TELEGRAM_BOT_TOKEN="",
        PYTHONPATH=str(ROOT),
    )
    return env


def fresh_database() -> None:
    """Drop and create the bench's database, migrated."""
    from bot import db as bot_db
    from bot.migrate import upgrade

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DBNAME}")
    upgrade(_pg_url(DBNAME))
    bot_db.dispose_engines()


def seed_ours(first: int, count: int) -> None:
    """Reports first..first+count-1 (ids equal their number): filed, open, checked once."""
    from bot.personal_data import address_key, encrypt

    now = datetime.now(UTC)
    filed = now - timedelta(days=2)
    with psycopg.connect(_dsn(DBNAME)) as conn, conn.cursor() as cur:
        numbers = range(first, first + count)
        with cur.copy(
            "COPY contact (id, channel, opted_out, created_at, language, address_key, address) "
            "FROM STDIN"
        ) as copy:
            for n in numbers:
                address = f"tel:+1{2000000000 + n}"
                copy.write_row(
                    (n, "sms", False, filed, "en", address_key(address), encrypt(address))
                )
        with cur.copy(
            "COPY conversation (id, contact_id, state, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in numbers:
                copy.write_row((n, n, "{}", filed, filed))
        columns = (
            "id, conversation_id, contact_id, service_code, service_name, description, address, "
            "state, attempts, delay_notice_sent, service_request_id, city_status, created_at, "
            "submitted_at, updated_at, last_checked_at"
        )
        with cur.copy(f"COPY report ({columns}) FROM STDIN") as copy:
            for n in numbers:
                copy.write_row(
                    (n, n, n, SERVICE[0], SERVICE[1], "Pothole", "120 Main St", "submitted", 1)
                    + (False, request_id(n), "open", filed, filed, filed, filed)
                )
        for table in ("contact", "conversation", "report"):
            top = f"(SELECT max(id) FROM {table})"
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")
        cur.execute("ANALYZE contact; ANALYZE conversation; ANALYZE report")


def request_id(n: int) -> str:
    return f"2026-{n:07d}"


def seed_city(path: Path, first: int, count: int) -> None:
    """The same requests in the sandbox's store, open."""
    from sandbox.store import FIELDS, iso

    now = time.time() - 2 * 86400
    columns = (*FIELDS, "attributes", "requested_ts", "visible_ts")
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            f"INSERT INTO requests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (
                tuple(
                    {
                        "service_request_id": request_id(n),
                        "status": "open",
                        "service_code": SERVICE[0],
                        "service_name": SERVICE[1],
                        "description": "Pothole [ref 311-bench]",
                        "requested_datetime": iso(now),
                        "updated_datetime": iso(now),
                        "address": "120 Main St",
                        "attributes": "{}",
                        "requested_ts": now,
                        "visible_ts": now,
                    }.get(c)
                    for c in columns
                )
                for n in range(first, first + count)
            ),
        )
    db.close()


def change_city(path: Path, numbers: list[int], round_: int) -> None:
    """Close these requests in the sandbox, with notes naming the round."""
    from sandbox.store import iso

    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "UPDATE requests SET status = 'closed', status_notes = ?, updated_datetime = ? "
            "WHERE service_request_id = ?",
            [(f"Filled (round {round_}).", iso(time.time()), request_id(n)) for n in numbers],
        )
    db.close()


def run_cycle(env: dict, redis_url: str, city: CountingApp, profile: str | None = None) -> dict:
    """Queue bot.jobs.track as the cron does and run it in a burst worker process."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    redis = Redis.from_url(redis_url)
    redis.flushdb()
    job = Queue(f"{QUEUE}-city", connection=redis).enqueue("bot.jobs.track", job_timeout=3600)
    since = datetime.now(UTC)
    calls = city.calls
    argv = [str(Path(sys.executable).parent / "intake311"), "worker", "--simple", "--burst"]
    if profile:  # the same worker under pyinstrument, its report in `profile`
        argv = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", profile, *argv]
    proc = subprocess.Popen(
        [*argv, "--queue", "city"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors = proc.stderr.read() if proc.stderr else ""
    job = Job.fetch(job.id, connection=redis)
    if job.get_status() != "finished" or not job.started_at or not job.ended_at:
        raise SystemExit(f"the track job did not finish ({job.get_status()}):\n{errors[-3000:]}")
    with psycopg.connect(_dsn(DBNAME)) as conn:
        updated = conn.execute(
            "SELECT count(*) FROM report WHERE updated_at >= %s", (since,)
        ).fetchone()[0]
        texts = conn.execute(
            "SELECT count(*) FROM message WHERE direction = 'out' AND created_at >= %s", (since,)
        ).fetchone()[0]
    # Status texts ride the notices lane (bot.queue.NOTICE_SOURCES).
    queued = Queue(f"{QUEUE}-notices", connection=redis).count
    return {
        "seconds": (job.ended_at - job.started_at).total_seconds(),
        "changed": int(job.return_value() or 0),
        "calls": city.calls - calls,
        "updated": updated,
        "texts": texts,
        "deliveries_queued": queued,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def http_only(env: dict, ids_file: Path) -> float:
    """Seconds for the same GET batches with no bot logic, in a process of its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--http-only", str(ids_file)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the HTTP-only loop failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _http_only_main(ids_file: str) -> None:
    from bot.jobs.common import open311_client
    from bot.settings import get_settings

    numbers = Path(ids_file).read_text().split()
    client = open311_client(get_settings())
    batch = client.profile.batch_size
    started = time.perf_counter()
    found = 0
    for start in range(0, len(numbers), batch):
        found += len(client.requests(numbers[start : start + batch]))
    seconds = time.perf_counter() - started
    client.close()
    print(json.dumps({"seconds": seconds, "found": found}))


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="tracked open requests")
    parser.add_argument("--rounds", type=int, default=3, help="cycles (and baseline loops)")
    parser.add_argument("--changed", type=float, default=0.01, help="share changed per round")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON (bench contract)")
    parser.add_argument("--profile", metavar="PATH", help="profile the last cycle (pyinstrument)")
    parser.add_argument("--http-only", metavar="IDS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.http_only:
        _http_only_main(args.http_only)
        return 0

    load_before = load()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    from sandbox.app import create_sandbox_app
    from sandbox.server import serve

    work = Path(tempfile.mkdtemp(prefix="intake311-bench-status-"))
    redis = RedisServer(work)
    city_path = work / "city.sqlite3"
    city = CountingApp(create_sandbox_app(str(city_path)))
    server = serve(city)
    env = production_env(server.url, redis.url)
    os.environ.update({k: env[k] for k in ("ENCRYPTION_KEYS", "LOOKUP_KEY", "DATABASE_URL")})
    try:
        total, small = args.requests, max(1, args.requests // 10)
        started = time.perf_counter()
        fresh_database()
        seed_ours(1, small)
        seed_city(city_path, 1, small)
        seeded_small = time.perf_counter() - started
        rng = random.Random(16)
        untouched = list(range(1, small + 1))
        rng.shuffle(untouched)

        def next_change(size: int) -> list[int]:
            count = max(1, round(size * args.changed))
            picked = untouched[:count]
            del untouched[:count]
            return picked

        change_city(city_path, next_change(small), 0)
        small_cycle = run_cycle(env, redis.url, city)
        print(f"seeded {small:,} in {seeded_small:.1f} s; one cycle over them:", small_cycle)

        started = time.perf_counter()
        seed_ours(small + 1, total - small)
        seed_city(city_path, small + 1, total - small)
        print(f"seeded {total - small:,} more in {time.perf_counter() - started:.1f} s")
        rest = list(range(small + 1, total + 1))
        rng.shuffle(rest)
        untouched.extend(rest)
        rng.shuffle(untouched)
        ids_file = work / "ids.txt"
        with psycopg.connect(_dsn(DBNAME)) as conn:
            rows = conn.execute(
                "SELECT service_request_id FROM report ORDER BY id"
            ).fetchall()  # fmt: skip
        ids_file.write_text("\n".join(r[0] for r in rows))

        cycles, baselines = [], []
        for round_ in range(1, args.rounds + 1):
            calls = city.calls
            baselines.append(http_only(env, ids_file))
            baseline_calls = city.calls - calls
            print(f"round {round_}: HTTP only {baselines[-1]:.1f} s, {baseline_calls} calls")
            change = next_change(total)
            change_city(city_path, change, round_)
            last = round_ == args.rounds
            cycle = run_cycle(env, redis.url, city, args.profile if last else None)
            cycle["expected"] = len(change)
            cycles.append(cycle)
            print(f"round {round_}: cycle", cycle)
    finally:
        server.stop()
        redis.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
    load_after = load()

    seconds = statistics.median(c["seconds"] for c in cycles)
    base = statistics.median(baselines)
    expected_calls = -(-total // BATCH)
    texts_ok = all(c["texts"] == c["expected"] == c["changed"] for c in cycles)
    calls_ok = all(c["calls"] == expected_calls for c in cycles)
    rss_small, rss_big = small_cycle["peak_rss_mb"], max(c["peak_rss_mb"] for c in cycles)
    rows = [
        {
            "figure": f"one status cycle over {total:,} tracked requests (s, median)",
            "value": f"{seconds:.1f}",
            "baseline": f"{base:.1f}",
            "ratio": f"{seconds / base:.2f}x" if base else None,
            "goal": f"< {GOAL_SECONDS:.0f} s",
            "met": seconds < GOAL_SECONDS,
            "note": (
                f"baseline: the same {expected_calls:,} GETs with no bot logic (HTTP floor); "
                f"before this change (issue #16): {BEFORE_SECONDS:.0f} s; cycles "
                + ", ".join(f"{c['seconds']:.1f}" for c in cycles)
                + "; `bot.jobs.track` in an `intake311 worker --simple --burst --queue city`"
            ),
        },
        {
            "figure": "HTTP calls per cycle",
            "value": ", ".join(str(c["calls"]) for c in cycles),
            "baseline": str(expected_calls),
            "ratio": None,
            "goal": f"one per batch of {BATCH}",
            "met": calls_ok,
            "note": "counted at the sandbox",
        },
        {
            "figure": "reports written / status texts queued per cycle",
            "value": "; ".join(f"{c['updated']} / {c['texts']}" for c in cycles),
            "baseline": ", ".join(str(c["expected"]) for c in cycles) + " changed",
            "ratio": None,
            "goal": "texts = changed, writes only for changes",
            "met": texts_ok and all(c["updated"] == c["expected"] for c in cycles),
            "note": "counted in the database (reports updated, outbound messages created)",
        },
        {
            "figure": f"peak RSS of the worker running the cycle, {small:,} vs {total:,} (MB)",
            "value": f"{rss_small:.0f} / {rss_big:.0f}",
            "baseline": f"{rss_small:.0f}",
            "ratio": f"{rss_big / rss_small:.2f}x",
            "goal": "flat",
            "met": rss_big < rss_small * 1.2,
            "note": f"{small:,}-report cycle: {small_cycle['seconds']:.1f} s",
        },
    ]
    print()
    for row in rows:
        print(f"{row['figure']}: {row['value']} (baseline {row['baseline']}) {row['note']}")
    print(load_before, "->", load_after)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "section": "Status tracking",
                    "rows": rows,
                    "commands": [
                        " ".join([".venv/bin/python", "bench/status_cycle.py", *sys.argv[1:]])
                    ],
                    "load": f"{load_before} / {load_after}",
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
