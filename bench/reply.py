"""Webhook to reply: from a resident's signed webhook to the reply handed to the channel (the
fake Twilio API receiving the POST to Messages.json), with the Procfile's workers.

    .venv/bin/python bench/reply.py [--rounds 3] [--burst 200] [--single 30] [--rate 2]
                                    [--quick] [--profile] [--json PATH]

A burst: `--burst` new residents text "hi" at once; each one's time from its webhook's
scheduled send to its first reply (p50/p99), and messages/s (burst / time to the last reply).
One at a time: `--single` residents, open loop at `--rate` per second (p50/p99). The baseline,
in the same run and alternating with intake311: bench/baselines/pipeline.py (a signature check,
an rq job, one twilio send) under the Procfile's web command, with rq's SimpleWorker, as many
worker processes as the Procfile runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import openloop  # noqa: E402
from bench.stack import (  # noqa: E402
    BIN,
    RESULTS,
    SIGNED_URL,
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    BenchStack,
    Sent,
    gunicorn_app,
    hot_spots,
    loadavg,
    pct,
    procfile,
    py_spy,
    ratio,
    row,
    write_json,
)
from tests.processes import Proc  # noqa: E402
from tests.twilio_signing import sign  # noqa: E402

REPLY_TIMEOUT = 120.0  # a resident unanswered by then counts at this latency
SLOW_BURST = 60.0  # a first burst slower than this: one round only, to keep the run bounded


def worker_kinds() -> list[str]:
    """The Procfile's worker process types (a command running a worker)."""
    return [k for k, c in procfile().items() if " worker" in f" {c}" and k not in ("web",)]


def hi_requests(phones: list[str], port: int, tag: str) -> list[bytes]:
    out = []
    for i, phone in enumerate(phones):
        sid = f"SM{tag}{i:08x}".ljust(34, "0")
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": TWILIO_SID,
            "From": phone,
            "To": TWILIO_FROM,
            "Body": "hi",
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        body = urlencode(form)
        signature = sign(SIGNED_URL, form, TWILIO_TOKEN)
        out.append(
            (
                f"POST /webhooks/twilio HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
            ).encode()
        )
    return out


def first_replies(sent: Sent, phones: list[str], after: float, timeout: float) -> list[float]:
    """The time each phone's first text arrived (nan for those never answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sent.lock:
            have = sum(1 for p in phones if sent.times.get(p))
        if have == len(phones):
            break
        time.sleep(0.05)
    with sent.lock:
        return [
            next((t for t, _ in sent.times.get(p, []) if t >= after), float("nan")) for p in phones
        ]


def measure(
    sent: Sent, port: int, phones: list[str], rate: float, tag: str, wait: float = REPLY_TIMEOUT
) -> dict:
    """Send "hi" from each phone at `rate`; each one's latency to its first reply."""
    got = openloop.run("127.0.0.1", port, hi_requests(phones, port, tag), rate)
    replies = first_replies(sent, phones, got.start, wait)
    answered = [t - (got.start + i / rate) for i, t in enumerate(replies) if t == t]
    last = max((t for t in replies if t == t), default=float("nan"))
    return {
        "latencies": answered + [REPLY_TIMEOUT] * (len(phones) - len(answered)),
        "answered": len(answered),
        "elapsed": (last - got.start) if answered else REPLY_TIMEOUT,
        "rate": len(answered) / (last - got.start) if answered else 0.0,
        "webhook_errors": got.errors + sum(n for s, n in got.statuses.items() if s >= 300),
    }


class Pipeline:
    """The baseline: its web app and `workers` rq SimpleWorker processes."""

    def __init__(
        self, stack: BenchStack, workers: int, logdir: Path, kind: str = "rq.worker.SimpleWorker"
    ):
        self.web, self.port = gunicorn_app(
            "pipeline", "bench.baselines.pipeline:app", logdir, stack.env
        )
        argv = [str(BIN / "rq"), "worker", "-w", kind, "--url"]
        argv += [stack.redis.url, "bench-pipeline"]
        self.command = " ".join(argv)
        self.workers = [
            Proc(f"pipeline-worker{i}", argv, stack.env, logdir).start() for i in range(workers)
        ]
        time.sleep(2)

    def stop(self) -> None:
        for proc in (self.web, *self.workers):
            proc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--single", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="one-at-a-time messages/s")
    parser.add_argument("--quick", action="store_true", help="1 round, a burst of 50, 10 single")
    parser.add_argument("--profile", action="store_true", help="py-spy web and workers in a burst")
    parser.add_argument(
        "--forking",
        action="store_true",
        help="also one burst of the pipeline with rq's forking Worker",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.burst, args.single = 1, 50, 10

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="intake311-bench-reply-"))
    stack = BenchStack(workdir / "logs")
    kinds = worker_kinds()
    pipeline = None
    results: dict[str, dict[str, list[dict]]] = {
        n: {"burst": [], "single": []} for n in ("intake311", "pipeline")
    }
    profile_note = ""
    cut = ""
    forked: dict | None = None
    try:
        stack.start()
        pipeline = Pipeline(stack, len(kinds), workdir)
        ports = {"intake311": stack.port, "pipeline": pipeline.port}
        phone = iter(range(10_000_000))

        def phones(n: int) -> list[str]:
            return [f"+1646{next(phone):07d}" for _ in range(n)]

        tag = iter(range(1, 1 << 20))
        for name in ports:  # warm: first jobs, pools, catalogues
            measure(stack.sent, ports[name], phones(5), 5, f"{next(tag):06x}")
        rounds = args.rounds
        r = 0
        while r < rounds:
            order = ["pipeline", "intake311"] if r % 2 == 0 else ["intake311", "pipeline"]
            for name in order:
                got = measure(stack.sent, ports[name], phones(args.burst), 1e6, f"{next(tag):06x}")
                results[name]["burst"].append(got)
                if name == "intake311" and got["answered"] < args.burst:
                    stack.restart()  # its backlog would delay the next measurement
                    ports["intake311"] = stack.port
                if name == "intake311" and got["elapsed"] > SLOW_BURST and rounds > 1:
                    rounds = 1
                    cut = f"rounds cut to 1: a burst took {got['elapsed']:.0f} s"
                print(
                    f"round {r + 1} {name} burst {args.burst}: {got['rate']:.1f}/s, p50 "
                    f"{pct(got['latencies'], 50):.2f} s, p99 {pct(got['latencies'], 99):.2f} s, "
                    f"answered {got['answered']}",
                    flush=True,
                )
                time.sleep(1)
            for name in order:
                got = measure(
                    stack.sent, ports[name], phones(args.single), args.rate, f"{next(tag):06x}"
                )
                results[name]["single"].append(got)
                if name == "intake311" and got["answered"] < args.single:
                    stack.restart()
                    ports["intake311"] = stack.port
                print(
                    f"round {r + 1} {name} one at a time: p50 "
                    f"{pct(got['latencies'], 50) * 1000:.0f} ms, p99 "
                    f"{pct(got['latencies'], 99) * 1000:.0f} ms, answered {got['answered']}",
                    flush=True,
                )
            r += 1
        if args.forking:
            pipeline.stop()
            pipeline = Pipeline(stack, len(kinds), workdir, "rq.worker.Worker")
            forked = measure(stack.sent, pipeline.port, phones(args.burst), 1e6, f"{next(tag):06x}")
            print(f"pipeline with forking workers, burst: {forked['rate']:.1f}/s", flush=True)
        if args.profile:
            spies = [
                py_spy(f"reply-{kind}", pid, 20)
                for kind, pid in stack.pids().items()
                if kind in ("web", *kinds)
            ]
            measure(stack.sent, stack.port, phones(args.burst), 1e6, f"{next(tag):06x}")
            for spy, _ in spies:
                try:
                    spy.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    spy.kill()
            notes = []
            for _, svg in spies:
                spots = hot_spots(svg) if svg.exists() else []
                print(f"hot spots in {svg.name} (share of samples, waiting included):")
                print("\n".join(f"  {spot}" for spot in spots))
                notes.append(f"{svg.relative_to(RESULTS.parent.parent)} ({', '.join(spots[:6])})")
            profile_note = "flame graphs and hot spots: " + "; ".join(notes)
    finally:
        if pipeline is not None:
            pipeline.stop()
        stack.close()

    def med(name: str, kind: str, key: str) -> float:
        runs = results[name][kind]
        if key == "rate":
            return statistics.median(r["rate"] for r in runs)
        q = 50 if key == "p50" else 99
        return statistics.median(pct(r["latencies"], q) for r in runs)

    unanswered = {
        n: sum(
            (args.burst if k == "burst" else args.single) - r["answered"]
            for k in ("burst", "single")
            for r in results[n][k]
        )
        for n in results
    }
    rate, base = med("intake311", "burst", "rate"), med("pipeline", "burst", "rate")
    b50, b99 = med("intake311", "burst", "p50"), med("intake311", "burst", "p99")
    s50, s99 = med("intake311", "single", "p50"), med("intake311", "single", "p99")
    workers = f"{len(kinds)} worker processes ({', '.join(kinds)})"
    rows = [
        row(
            f"burst of {args.burst} 'hi': messages/s to the reply",
            f"{rate:.1f}",
            f"{base:.1f}",
            ratio(rate, base),
            ">= 0.5x",
            rate >= 0.5 * base,
            "; ".join(
                x
                for x in (
                    f"baseline: minimal pipeline, rq SimpleWorker, {workers}",
                    cut,
                    profile_note,
                )
                if x
            ),
        ),
        *(
            [
                row(
                    f"minimal pipeline with rq's forking Worker, burst of {args.burst} (msg/s)",
                    f"{forked['rate']:.1f}",
                    note="one round, after the others: what a fork per job costs without bot code",
                )
            ]
            if forked
            else []
        ),
        row(
            "burst reply p50 (s)",
            f"{b50:.2f}",
            f"{med('pipeline', 'burst', 'p50'):.2f}",
            ratio(b50, med("pipeline", "burst", "p50")),
        ),
        row(
            "burst reply p99 (s)",
            f"{b99:.2f}",
            f"{med('pipeline', 'burst', 'p99'):.2f}",
            ratio(b99, med("pipeline", "burst", "p99")),
            "< 2 s",
            b99 < 2,
        ),
        row(
            f"one at a time ({args.rate:g}/s) reply p50 (ms)",
            f"{s50 * 1000:.0f}",
            f"{med('pipeline', 'single', 'p50') * 1000:.0f}",
            ratio(s50, med("pipeline", "single", "p50")),
        ),
        row(
            f"one at a time ({args.rate:g}/s) reply p99 (ms)",
            f"{s99 * 1000:.0f}",
            f"{med('pipeline', 'single', 'p99') * 1000:.0f}",
            ratio(s99, med("pipeline", "single", "p99")),
            "< 100 ms",
            s99 < 0.1,
        ),
        row(
            "residents never answered",
            str(unanswered["intake311"]),
            str(unanswered["pipeline"]),
            goal="0",
            met=unanswered["intake311"] == 0,
            note=f"within {REPLY_TIMEOUT:g} s of their webhook (counted at that latency)",
        ),
    ]
    commands = [
        *stack.commands,
        f"baseline web: the web command with bench.baselines.pipeline:app; workers: "
        f"{pipeline.command if pipeline else '?'} (x{len(kinds)})",
        f"load: bench/openloop.py, {args.burst} at once and {args.single} at {args.rate:g}/s",
    ]
    write_json(args.json, "Webhook to reply", rows, commands, f"{load_before} / {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
