"""Outbound pacing: a mass status change drained at the sender's rate while residents text in.

Starts its own redis-server, a fresh PostgreSQL database (127.0.0.1:5432, or INTAKE311_BENCH_PG),
the Twilio stand-in (tests/fakes/twilio_api.py, in this process: it records when each send
arrived and refuses with 429 a sender past its rate) and `intake311 worker` processes serving the
residents' queue, then the notices' lane, with production settings (ENV=production) and a
Messaging Service paced at `--rate` messages a second.

Each round of the subject: `--notices` status notices are stored as the status check stores them
(one pending text per resident) and queued on the notices lane, while residents text "hi"
(signed webhooks through the app, in this process) `--residents-per-second`; it ends when every
notice is sent. The baseline round is the same residents with no backlog. Rounds alternate
(baseline first); figures are medians.

    .venv/bin/python bench/pacing.py                        # 400 notices at 25/s, 3+3 rounds
    .venv/bin/python bench/pacing.py --notices 10000 --rate 100 --rounds 1   # the mass change

A round drains in notices / rate seconds when the workers keep up: each notice costs about two
jobs (one refused and queued for its turn, one sent), so `--rate 100` needs some 200 jobs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get(
    "INTAKE311_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
SERVICE_SID = "MG" + "0" * 31 + "7"
QUEUE = "intake311-bench-pacing"


def uptime() -> str:
    """The load averages."""
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` percentile of `values` (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def most_in_a_second(times: list[float]) -> int:
    """The most sends within any one-second window."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


class Bench:
    """The processes and the database of one run."""

    def __init__(self, args, tmp: Path):
        import psycopg

        from tests.processes import RedisServer

        self.args, self.tmp = args, tmp
        self.redis = RedisServer(tmp)
        self.dbname = f"intake311_bench_pacing_{os.getpid()}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {self.dbname}")
        params = dict(part.split("=", 1) for part in PG_ADMIN.split())
        self.database_url = (
            f"postgresql+psycopg://{params.get('user', 'postgres')}@{params['host']}:"
            f"{params.get('port', '5432')}/{self.dbname}"
        )
        self.workers: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}

    def configure(self, twilio_url: str) -> None:
        """Production settings for this process and the workers."""
        from cryptography.fernet import Fernet

        from tests.conftest import PUBLIC_BASE_URL, TWILIO_SID, TWILIO_TOKEN

        self.env = {
            "ENV": "production",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "QUEUE_NAME": QUEUE,
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "LOOKUP_KEY": secrets.token_urlsafe(32),
            "ADMIN_TOKEN": secrets.token_urlsafe(32),
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID,
            "TWILIO_FROM_NUMBER": "",
            "TWILIO_API_BASE": twilio_url,
            "SMS_SENDS_PER_SECOND": str(self.args.rate),
            "SMS_ALARM_PER_DAY": "0",
            "INBOUND_LIMIT_GLOBAL": "",
            "OPEN311_ENDPOINT": "http://127.0.0.1:9/open311/v2/",  # never called for "hi"
            "GEOCODER": "nominatim",
            "GEOCODER_DOMAIN": "127.0.0.1:9",
            "GEOCODER_SCHEME": "http",
            "CITY_NAME": "Springfield",
            "CITY_BOUNDS": "",
            "CONVERSATION_IDLE_MINUTES": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        os.environ.update(self.env)
        from bot.migrate import upgrade
        from bot.settings import get_settings

        get_settings.cache_clear()
        upgrade(self.database_url)

    def start_workers(self) -> None:
        """`intake311 worker`, serving the residents' queue and then the notices' lane."""
        argv = [str(BIN / "intake311"), "worker", "--queue", "residents", "--queue", "notices"]
        if not self.args.forking:
            argv.append("--simple")
        env = {**os.environ, **self.env}
        for i in range(self.args.workers):
            log = open(self.tmp / f"worker{i}.log", "ab")  # noqa: SIM115 - closed with the run
            self.workers.append(
                subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            )

    def close(self) -> None:
        import psycopg

        for proc in self.workers:
            proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        from bot import db

        db.dispose_engines()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        self.redis.stop()


def seed_notices(count: int, first: int) -> list[str]:
    """`count` residents, each with one pending status text, queued on the notices lane as the
    status check queues them; their numbers."""
    from rq import Queue
    from sqlalchemy import insert, select

    from bot import queue
    from bot.db import session_scope
    from bot.models import Contact, Conversation, Direction, Message
    from bot.personal_data import address_key

    numbers = [f"+1555{first + n:07d}" for n in range(count)]
    with session_scope() as session:
        rows = [
            {"address": f"tel:{n}", "address_key": address_key(f"tel:{n}"), "channel": "sms"}
            for n in numbers
        ]
        contact_ids = session.execute(insert(Contact).returning(Contact.id), rows).scalars().all()
        conversation_ids = (
            session.execute(
                insert(Conversation).returning(Conversation.id),
                [{"contact_id": c, "state": {}} for c in contact_ids],
            )
            .scalars()
            .all()
        )
        session.execute(
            insert(Message),
            [
                {
                    "conversation_id": conv,
                    "contact_id": contact,
                    "channel": "sms",
                    "direction": Direction.OUT,
                    "text": "Update on your request: it is now closed. Thank you for reporting.",
                    "payload": {"status_notice": True},  # as the status check marks them
                }
                for conv, contact in zip(conversation_ids, contact_ids, strict=True)
            ],
        )
        message_ids = session.execute(
            select(Message.id).where(Message.contact_id.in_(contact_ids))
        ).scalars()
        ids = list(message_ids)
    notices = queue.get_queue("notices")
    timeout = queue.job_timeout("bot.jobs.deliver")
    for start in range(0, len(ids), 500):
        with notices.connection.pipeline() as pipe:
            Queue.enqueue_many(
                notices,
                [
                    Queue.prepare_data("bot.jobs.deliver", (i,), timeout=timeout)
                    for i in ids[start : start + 500]
                ],
                pipeline=pipe,
            )
            pipe.execute()
    return numbers


class Residents(threading.Thread):
    """Residents texting "hi" at a steady rate through the signed webhook, each a new number."""

    def __init__(self, per_second: float, first: int):
        super().__init__(daemon=True)
        from tests.twilio_webhooks import post_signed, sms_form
        from webhooks import create_app

        self.post_signed, self.sms_form = post_signed, sms_form
        self.client = create_app().test_client()
        self.interval, self.next = 1.0 / per_second, first
        self.texted: dict[str, float] = {}  # number: when the webhook was posted
        self.stopping = threading.Event()

    def run(self) -> None:
        due = time.time()
        while not self.stopping.is_set():
            number = f"+1666{self.next:07d}"
            self.next += 1
            self.texted[number] = time.time()
            answer = self.post_signed(self.client, "/webhooks/twilio", self.sms_form("hi", number))
            if answer.status_code != 200:
                raise SystemExit(f"webhook answered {answer.status_code}")
            due += self.interval
            self.stopping.wait(max(0.0, due - time.time()))

    def stop(self) -> dict[str, float]:
        self.stopping.set()
        self.join()
        return self.texted


def replies(twilio_app, texted: dict[str, float], wait: float = 30.0) -> list[float]:
    """Seconds from each resident's text to their first reply reaching Twilio."""
    deadline = time.time() + wait
    while time.time() < deadline:
        first: dict[str, float] = {}
        for sent in list(twilio_app.config["SENT"]):
            to = sent["form"]["To"][0]
            if to in texted and to not in first:
                first[to] = sent["at"]
        if len(first) == len(texted):
            break
        time.sleep(0.2)
    return [first[n] - texted[n] for n in texted if n in first] + [
        float("inf") for n in texted if n not in first
    ]


def settle(most: float = 120.0) -> None:
    """Wait until nothing is left to send from an earlier round."""
    from sqlmodel import func, select

    from bot.db import session_scope
    from bot.models import Message

    deadline = time.time() + most
    while time.time() < deadline:
        with session_scope() as session:
            unsent = session.exec(
                select(func.count()).where(
                    Message.direction == "out", Message.status.in_(("pending", "sending"))
                )
            ).one()
        if not unsent:
            return
        time.sleep(0.5)


def round_of(bench: Bench, twilio_app, notices: int, first: int, seconds: float) -> dict:
    """One round: residents texting for `seconds` (no backlog), or while `notices` drain."""
    from sqlmodel import func, select

    from bot.db import session_scope
    from bot.models import Message
    from tests.fakes.twilio_api import reset_twilio_api

    settle()
    reset_twilio_api(twilio_app)
    # Twilio's view of the sender: its rate, and a second's worth at once (our bucket) and one
    # more for the wire's jitter.
    twilio_app.config["RATE"] = (bench.args.rate, max(2.0, bench.args.rate) + 1)
    numbers = set(seed_notices(notices, first)) if notices else set()
    residents = Residents(bench.args.residents_per_second, first)
    started = time.time()
    residents.start()
    drained_at = None
    # Generous: a machine slower than the rate still drains; what is unsent by then is counted.
    deadline = started + (4 * notices / bench.args.rate + 60 if notices else seconds)
    while time.time() < deadline:
        time.sleep(0.5)
        if notices:
            sent = sum(1 for s in list(twilio_app.config["SENT"]) if s["form"]["To"][0] in numbers)
            if sent >= notices:
                drained_at = max(
                    s["at"] for s in twilio_app.config["SENT"] if s["form"]["To"][0] in numbers
                )
                break
        elif time.time() - started >= seconds:
            break
    texted = residents.stop()
    latencies = replies(twilio_app, texted)
    all_sends = [s["at"] for s in twilio_app.config["SENT"]]
    to_notices = [s for s in twilio_app.config["SENT"] if s["form"]["To"][0] in numbers]
    with session_scope() as session:
        unsent = session.exec(
            select(func.count()).where(
                Message.direction == "out", Message.status.in_(("pending", "sending"))
            )
        ).one()
    if bench.args.verbose and to_notices:
        seconds_in = [int(s["at"] - started) for s in to_notices]
        print("notices sent per second:", [seconds_in.count(n) for n in range(max(seconds_in) + 1)])
    return {
        "notices": notices,
        "drain_s": (drained_at - started) if drained_at else None,
        "sent_to_notices": len(to_notices),
        "doubled": len(to_notices) - len({s["form"]["To"][0] for s in to_notices}),
        "unsent": unsent,
        "most_in_1s": most_in_a_second(all_sends),
        "refused_for_rate": twilio_app.config["REFUSED_FOR_RATE"],
        "residents": len(texted),
        "reply_p50": percentile(latencies, 0.5),
        "reply_p99": percentile(latencies, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=400)
    parser.add_argument("--rate", type=float, default=25.0, help="the sender's messages/s")
    parser.add_argument("--residents-per-second", type=float, default=2.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--forking", action="store_true", help="rq's forking worker")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true", help="sends per second, each round")
    args = parser.parse_args()
    load_before = uptime()
    command = "python bench/pacing.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        from sandbox.server import serve
        from tests.conftest import TWILIO_SID, TWILIO_TOKEN
        from tests.fakes.twilio_api import create_twilio_api_app

        twilio = serve(create_twilio_api_app(TWILIO_SID, TWILIO_TOKEN))
        twilio_app = twilio._server.app
        bench = Bench(args, Path(tmp))
        try:
            bench.configure(twilio.url)
            bench.start_workers()
            time.sleep(3)  # the workers start listening
            round_of(bench, twilio_app, 0, 900_000, 3)  # warm-up: each worker's first jobs
            baseline, subject = [], []
            first = 0
            for n in range(args.rounds):
                baseline.append(round_of(bench, twilio_app, 0, first, args.baseline_seconds))
                first += 100_000
                subject.append(round_of(bench, twilio_app, args.notices, first, 0))
                first += 100_000
                print(f"round {n + 1}: baseline {baseline[-1]}\n         subject {subject[-1]}")
        except Exception:
            for log in sorted(Path(tmp).glob("worker*.log")):
                print(log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            bench.close()
            twilio.stop()
    load = f"before {load_before}, after {uptime()}"

    def median(rows: list[dict], key: str) -> float:
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else float("nan")

    drain = median(subject, "drain_s")
    achieved = args.notices / drain if drain == drain and drain else float("nan")
    rows = [
        {
            "figure": f"time to drain {args.notices} notices at {args.rate:g}/s",
            "value": f"{drain:.1f} s",
            "baseline": f"{args.notices / args.rate:.1f} s (notices / rate)",
            "ratio": f"{(args.notices / args.rate) / drain:.2f}x" if drain == drain else None,
            "goal": "~ notices / rate",
            "met": None,
            "note": f"{achieved:.0f} notices/s on average; 10,000 take about 10000/rate s",
        },
        {
            "figure": "most sends in any 1-s window",
            "value": str(int(median(subject, "most_in_1s"))),
            "baseline": f"{args.rate:g}/s (the setting)",
            "ratio": f"{median(subject, 'most_in_1s') / args.rate:.2f}x",
            "goal": f"<= rate + bucket ({args.rate * 2:g})",
            "met": median(subject, "most_in_1s") <= args.rate * 2 + 1,
            "note": "replies and notices together, as Twilio counts them",
        },
        {
            "figure": "sends refused for rate (429)",
            "value": str(sum(r["refused_for_rate"] for r in subject + baseline)),
            "baseline": None,
            "ratio": None,
            "goal": "0",
            "met": sum(r["refused_for_rate"] for r in subject + baseline) == 0,
            "note": "the stand-in refuses past the rate (a bucket of one second's worth + 1)",
        },
        {
            "figure": "notices unsent at the round's end, or sent twice",
            "value": str(
                sum(r["notices"] - r["sent_to_notices"] + 2 * r["doubled"] for r in subject)
            ),
            "baseline": None,
            "ratio": None,
            "goal": "0",
            "met": all(r["sent_to_notices"] == r["notices"] and not r["doubled"] for r in subject),
            "note": "every outbox row sent once (a round ends 4 x notices / rate + 60 s in)",
        },
        {
            "figure": "residents' reply p50 during the drain",
            "value": f"{median(subject, 'reply_p50') * 1000:.0f} ms",
            "baseline": f"{median(baseline, 'reply_p50') * 1000:.0f} ms (no backlog)",
            "ratio": f"{median(subject, 'reply_p50') / median(baseline, 'reply_p50'):.2f}x",
            "goal": "not starved",
            "met": None,
            "note": f"{args.residents_per_second:g} residents/s texting hi",
        },
        {
            "figure": "residents' reply p99 during the drain",
            "value": f"{median(subject, 'reply_p99') * 1000:.0f} ms",
            "baseline": f"{median(baseline, 'reply_p99') * 1000:.0f} ms (no backlog)",
            "ratio": f"{median(subject, 'reply_p99') / median(baseline, 'reply_p99'):.2f}x",
            "goal": "not starved",
            "met": None,
            "note": f"medians of {args.rounds} rounds each, alternated",
        },
    ]
    print(f"\nOutbound pacing ({load})")
    for row in rows:
        print(f"  {row['figure']}: {row['value']}  (baseline {row['baseline']}, {row['note']})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "section": "Outbound pacing",
                    "rows": rows,
                    "commands": [command],
                    "load": load,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
