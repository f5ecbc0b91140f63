"""Filing: residents each completing a report at once, against the Open311 sandbox.

    .venv/bin/python bench/filing.py [--residents 50] [--deadline 150] [--quick] [--json PATH]

Every resident converses as tests/faults/traffic.py's residents do (its SCRIPT: the problem,
then the address, then the confirmation), through signed Twilio webhooks to the Procfile's
processes with production settings; no duplicates, no faults. Reported: reports filed per
second (from the first webhook to the last request-number text), the time from each resident's
final YES to the text carrying the city's request number (p50/p99), and a conversation's whole
length. No baseline: the goal is absolute. Residents still unfiled at the deadline are counted
and their time is counted as the deadline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import BenchStack, count_rows, loadavg, pct, row, write_json  # noqa: E402
from tests.faults.traffic import NOTICE, SCRIPT, Inbox, Provider  # noqa: E402


def converse(phone: str, provider: Provider, inbox: Inbox, deadline: float) -> dict:
    """The script, each line after the bot's expected answer; then the request number."""
    started = time.monotonic()
    confirmed = None
    for answered, (line, expect) in enumerate(SCRIPT):
        since = inbox.count(phone)
        if expect is None:
            confirmed = time.monotonic()
        provider.deliver(phone, line)
        if expect is None:
            break
        if inbox.wait(phone, since, expect, max(0.0, deadline - time.monotonic())) is None:
            return {"started": started, "confirmed": None, "numbered": None, "answered": answered}
    numbered = None
    if confirmed is not None:
        got = inbox.wait(phone, since, "Request number", max(0.0, deadline - time.monotonic()))
        if got is not None:
            with inbox.cond:
                reply = inbox.by_to[phone][got]
            if NOTICE.search(reply.body):
                numbered = reply.at
    return {"started": started, "confirmed": confirmed, "numbered": numbered, "answered": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=150, help="seconds for the whole burst")
    parser.add_argument("--quick", action="store_true", help="10 residents, 60 s")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.quick:
        args.residents, args.deadline = 10, 60

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="intake311-bench-filing-"))
    stack = BenchStack(workdir / "logs")
    try:
        stack.start()
        provider = Provider(stack.web_url, duplicate_rate=0.0, seed=16)
        inbox = Inbox(stack.twilio._server.app)
        phones = [f"+1773{i:07d}" for i in range(args.residents)]
        begun = time.monotonic()
        deadline = begun + args.deadline
        with ThreadPoolExecutor(max_workers=args.residents) as pool:
            outcomes = list(pool.map(lambda p: converse(p, provider, inbox, deadline), phones))
        inbox.stop()
        provider.close()
        reports = count_rows("SELECT count(*) FROM report WHERE service_request_id IS NOT NULL")
    finally:
        stack.close()
    filed = [o for o in outcomes if o["numbered"] is not None]
    unfiled = len(outcomes) - len(filed)
    to_number = [o["numbered"] - o["confirmed"] for o in filed]
    to_number += [args.deadline] * sum(1 for o in outcomes if o["numbered"] is None)
    whole = [o["numbered"] - o["started"] for o in filed]
    last = max((o["numbered"] for o in filed), default=begun + args.deadline)
    per_second = len(filed) / (last - begun)
    p50, p99 = pct(to_number, 50), pct(to_number, 99)
    stages = ["no reply yet", "problem answered", "address answered"]
    stuck = ", ".join(
        f"{sum(1 for o in outcomes if o['numbered'] is None and o['answered'] == i)} {stage}"
        for i, stage in enumerate(stages)
    )
    rows = [
        row(
            f"{args.residents} residents at once: reports filed per second",
            f"{per_second:.2f}",
            note=f"{len(filed)} numbered in {last - begun:.1f} s; {reports} reports with a "
            "request number in the database",
        ),
        row("final YES to the request number, p50 (s)", f"{p50:.2f}"),
        row(
            "final YES to the request number, p99 (s)",
            f"{p99:.2f}",
            goal="< 3 s",
            met=p99 < 3,
            note=f"{unfiled} unfiled at the {args.deadline:g} s deadline, counted at it ({stuck})"
            if unfiled
            else "",
        ),
        row("a whole conversation, p50 (s)", f"{pct(whole, 50):.1f}"),
    ]
    commands = [
        *stack.commands,
        f"load: tests/faults/traffic.py's SCRIPT, {args.residents} residents in threads, "
        "signed webhooks, no duplicates",
    ]
    write_json(args.json, "Filing", rows, commands, f"{load_before} / {loadavg()}")
    return 0 if outcomes else 1


if __name__ == "__main__":
    sys.exit(main())
