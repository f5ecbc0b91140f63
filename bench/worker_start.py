"""How soon a restarted worker serves again: `intake311 worker` from spawn to listening on Redis,
and to its first job done (a real job: the reconciler over a migrated, empty database).

Runs its own redis-server and SQLite file; exits non-zero when the median time to listening
misses the target.

    .venv/bin/python bench/worker_start.py                 # 10 rounds, in-process worker
    .venv/bin/python bench/worker_start.py --forking       # rq's forking worker
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402

from bot.migrate import upgrade  # noqa: E402
from tests.processes import RedisServer  # noqa: E402

TARGET = 0.5  # seconds from spawn to listening, median


def one_round(env: dict, conn: Redis, forking: bool) -> tuple[float, float]:
    """Seconds from spawn to listening, and to the first job finished."""
    queue_name = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**env, "QUEUE_NAME": queue_name}
    job = Queue(queue_name, connection=conn).enqueue("bot.jobs.reconcile")
    argv = [sys.executable, "-m", "bot.cli", "worker", "--queue", "residents"]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv + ([] if forking else ["--simple"]),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listening = done = 0.0
    try:
        while time.monotonic() - started < 60:
            if not listening and any(
                w.queue_names() == [queue_name] for w in Worker.all(connection=conn)
            ):
                listening = time.monotonic() - started
            if job.get_status(refresh=True) == "finished":
                done = time.monotonic() - started
                listening = listening or done
                break
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait()
    if not done:
        raise SystemExit(f"the job never finished (status {job.get_status()})")
    return listening, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--forking", action="store_true", help="rq's forking worker")
    parser.add_argument("--target", type=float, default=TARGET)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        try:
            database = f"sqlite:///{tmp}/bench.sqlite3"
            upgrade(database)
            env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis.url}
            conn = Redis.from_url(redis.url)
            rounds = [one_round(env, conn, args.forking) for _ in range(args.rounds)]
        finally:
            redis.stop()
    listening = statistics.median(r[0] for r in rounds)
    first_job = statistics.median(r[1] for r in rounds)
    kind = "forking" if args.forking else "in-process"
    print(f"worker ({kind}), {args.rounds} rounds, median:")
    print(f"  spawn to listening:    {listening:.3f} s (max {max(r[0] for r in rounds):.3f})")
    print(f"  spawn to first job:    {first_job:.3f} s (max {max(r[1] for r in rounds):.3f})")
    print(f"  target (listening):    {args.target:.3f} s")
    return 0 if listening <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
