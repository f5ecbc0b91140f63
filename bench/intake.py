"""Webhook intake: signed Twilio SMS webhooks against a bare Flask hello-world and Twilio's
minimal TwiML reply app, all three under the Procfile's web command (and its gunicorn config).

    .venv/bin/python bench/intake.py [--rounds 3] [--seconds 8] [--latency-seconds 15]
                                     [--quick] [--profile] [--json PATH]

Throughput: wrk (closed loop, keep-alive where the server keeps it) with a Lua script cycling
through pre-signed requests, each with its own MessageSid, from ~2,000 senders. Latency: an
open-loop generator (bench/openloop.py) at a fixed rate, measured from each request's
scheduled send time. The subject is intake311's web process alone (no workers draining the
queue), ENV=production on PostgreSQL and Redis; the baselines run under the same command with
the app spec replaced. Rounds alternate subject and baselines; the figures are medians. After
each intake round the message table is counted against the 2xx answers.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
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
    RESULTS,
    SIGNED_URL,
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    BenchStack,
    count_rows,
    gunicorn_app,
    hot_spots,
    loadavg,
    pct,
    py_spy,
    ratio,
    row,
    write_json,
)
from tests.twilio_signing import sign  # noqa: E402

PATH = "/webhooks/twilio"
TIMEOUT = 10.0  # seconds the open-loop client waits for an answer
WRK_LUA = r"""
local reqs = {}
local idx = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  local file, threads = args[1], tonumber(args[2])
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if (n - 1) % threads == (tid - 1) then
      local sig, body = line:match("([^\t]*)\t(.*)")
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/twilio",
        {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sig},
        body)
    end
  end
end
function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
BODIES = [
    "hi",
    "Pothole on Main St",
    "streetlight out at 5th and Oak",
    "hello",
    "trash not picked up",
]


def signed_forms(count: int, senders: int, seed: int) -> list[tuple[str, str]]:
    """(signature, urlencoded body) for `count` webhooks, each with its own MessageSid."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        sid = f"SM{seed:08x}{i:024x}"
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": TWILIO_SID,
            "From": f"+1415{rng.randrange(senders):07d}",
            "To": TWILIO_FROM,
            "Body": rng.choice(BODIES),
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        out.append((sign(SIGNED_URL, form, TWILIO_TOKEN), urlencode(form)))
    return out


def raw_requests(forms: list[tuple[str, str]], port: int) -> list[bytes]:
    return [
        (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {sig}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        for sig, body in forms
    ]


class Wrk:
    def __init__(self, workdir: Path, threads: int, connections: int):
        self.dir, self.threads, self.connections = workdir, threads, connections
        self.script = workdir / "signed.lua"
        self.script.write_text(WRK_LUA)
        self.commands: list[str] = []

    def run(self, port: int, forms: list[tuple[str, str]], seconds: float) -> dict:
        """One wrk run over these signed requests; its summary (requests/s added)."""
        data = self.dir / "requests.tsv"
        data.write_text("".join(f"{sig}\t{body}\n" for sig, body in forms))
        argv = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds:g}s"]
        argv += ["--timeout", "10s", "-s", str(self.script), f"http://127.0.0.1:{port}{PATH}"]
        argv += ["--", str(data), str(self.threads)]
        shown = [
            {str(self.script): "signed.lua", str(data): "requests.tsv"}.get(a, a) for a in argv
        ]
        shown[-4] = f"http://127.0.0.1:<port>{PATH}"
        if " ".join(shown) not in self.commands:
            self.commands.append(" ".join(shown))
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
        out = json.loads(line.removeprefix("WRKJSON "))
        out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
        out["ok"] = out["requests"] - out["status_errors"]
        return out


def settled_rows(most: float = 90) -> int:
    """The message table's rows once no more arrive (the server's backlog done), at most
    `most` s: a server behind its load would otherwise spend the next round's CPU on it."""
    deadline = time.monotonic() + most
    last = count_rows("SELECT count(*) FROM message")
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = count_rows("SELECT count(*) FROM message")
        if now == last:
            return now
        last = now
    return last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8, help="each wrk run")
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=200, help="open-loop requests per second")
    parser.add_argument("--requests", type=int, default=20000, help="pre-signed per round")
    parser.add_argument("--senders", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--quick", action="store_true", help="1 round, short runs")
    parser.add_argument("--profile", action="store_true", help="py-spy the web app under wrk")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.latency_seconds = 1, 4, 5
    if shutil.which("wrk") is None:
        print("wrk is not on PATH: apt-get install wrk", file=sys.stderr)
        return 2

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="intake311-bench-intake-"))
    stack = BenchStack(workdir / "logs")
    procs = []
    try:
        stack.start(["web"])
        hello, hello_port = gunicorn_app("hello", "bench.baselines.hello:app", workdir, stack.env)
        twiml, twiml_port = gunicorn_app("twiml", "bench.baselines.twiml:app", workdir, stack.env)
        procs = [hello, twiml]
        ports = {"intake311": stack.port, "twiml": twiml_port, "hello": hello_port}
        wrk = Wrk(workdir, args.threads, args.connections)
        rps: dict[str, list[float]] = {name: [] for name in ports}
        committed: list[str] = []
        committed_ok = True
        seed = 1
        # Warm each app (imports, connection pools) before the timed rounds.
        for port in ports.values():
            wrk.run(port, signed_forms(500, args.senders, seed), 1)
            seed += 1
        order = list(ports)
        for r in range(args.rounds):
            for name in order[r % 3 :] + order[: r % 3]:
                forms = signed_forms(args.requests, args.senders, seed)
                seed += 1
                before = count_rows("SELECT count(*) FROM message") if name == "intake311" else 0
                out = wrk.run(ports[name], forms, args.seconds)
                rps[name].append(out["rps"])
                print(f"round {r + 1} {name}: {out['rps']:.0f} requests/s ({out})", flush=True)
                if name == "intake311":
                    added = settled_rows() - before
                    # wrk counts the answers it read; up to `connections` more were in flight
                    # when it stopped (committed, unanswered). Past `requests`, wrk's cycle
                    # repeats MessageSids, which must not make rows.
                    sent = min(out["requests"] + args.connections, len(forms))
                    committed_ok &= min(out["ok"], len(forms)) <= added <= sent
                    committed.append(f"{added} rows / {out['ok']} 2xx")
        # Latency at a fixed rate, alternating the subject and the TwiML app.
        lat: dict[str, list[tuple[float, float]]] = {"intake311": [], "twiml": []}
        lat_exact = True
        unanswered = {"intake311": 0, "twiml": 0}
        n = int(args.rate * args.latency_seconds)
        lat_rounds, cut = args.rounds, ""
        r = 0
        while r < lat_rounds:
            for name in ("intake311", "twiml") if r % 2 == 0 else ("twiml", "intake311"):
                port = ports[name]
                forms = signed_forms(n, args.senders, seed)
                seed += 1
                before = count_rows("SELECT count(*) FROM message") if name == "intake311" else 0
                got = openloop.run("127.0.0.1", port, raw_requests(forms, port), args.rate, TIMEOUT)
                # Unanswered within the client's 10 s count at 10 s, or a server that falls far
                # behind would look fast on the few it answers.
                waits = got.latencies + [TIMEOUT] * (n - len(got.latencies))
                w50, w99 = pct(waits, 50) * 1000, pct(waits, 99) * 1000
                lat[name].append((w50, w99))
                unanswered[name] += n - len(got.latencies)
                print(
                    f"round {r + 1} {name} at {args.rate:g}/s: p50 {w50:.1f} ms, p99 {w99:.1f} "
                    f"ms, statuses {got.statuses}, errors {got.errors}, late {got.late_starts}",
                    flush=True,
                )
                if name == "intake311":
                    added = settled_rows() - before
                    # A request the client gave up on may still commit: rows >= 2xx.
                    lat_exact &= got.ok <= added <= n
                    if got.ok < n / 2 and lat_rounds > 1:
                        # Far behind: each round's backlog takes minutes to drain; one is enough.
                        lat_rounds, cut = 1, "; one round: most requests went unanswered"
                    committed.append(f"{added} rows / {got.ok} 2xx of {n}")
            r += 1
        profile_note = ""
        if args.profile:
            spy, svg = py_spy("intake", stack.pids()["web"], int(args.seconds))
            wrk.run(stack.port, signed_forms(args.requests, args.senders, seed), args.seconds)
            spy.wait(timeout=60)
            spots = hot_spots(svg) if svg.exists() else []
            print("hot spots (share of the web process's samples, waiting included):")
            print("\n".join(f"  {spot}" for spot in spots))
            profile_note = (
                f"flame graph: {svg.relative_to(RESULTS.parent.parent)}; hot spots: "
                + ", ".join(spots[:8])
            )
    finally:
        for proc in procs:
            proc.stop()
        stack.close()
    med = {name: statistics.median(v) for name, v in rps.items()}
    p50 = {k: statistics.median(x[0] for x in v) for k, v in lat.items()}
    p99 = {k: statistics.median(x[1] for x in v) for k, v in lat.items()}
    each = {k: ", ".join(f"{x:.0f}" for x in v) for k, v in rps.items()}
    rows = [
        row(
            "load generator ceiling: hello-world requests/s",
            f"{med['hello']:.0f}",
            note=f"wrk -t{args.threads} -c{args.connections}; rounds {each['hello']}",
        ),
        row(
            "TwiML app requests/s",
            f"{med['twiml']:.0f}",
            f"{med['hello']:.0f} (hello)",
            ratio(med["twiml"], med["hello"]),
            note=f"rounds {each['twiml']}",
        ),
        row(
            "signed webhooks requests/s (vs TwiML app)",
            f"{med['intake311']:.0f}",
            f"{med['twiml']:.0f}",
            ratio(med["intake311"], med["twiml"]),
            ">= 0.5x",
            med["intake311"] >= 0.5 * med["twiml"],
            f"rounds {each['intake311']}; {profile_note}".strip("; "),
        ),
        row(
            "signed webhooks requests/s (vs hello-world)",
            f"{med['intake311']:.0f}",
            f"{med['hello']:.0f}",
            ratio(med["intake311"], med["hello"]),
        ),
        row(
            f"p50 at {args.rate:g} requests/s (ms, open loop)",
            f"{p50['intake311']:.1f}",
            f"{p50['twiml']:.1f}",
            ratio(p50["intake311"], p50["twiml"]),
        ),
        row(
            f"p99 at {args.rate:g} requests/s (ms, open loop)",
            f"{p99['intake311']:.1f}",
            f"{p99['twiml']:.1f}",
            ratio(p99["intake311"], p99["twiml"]),
            "< 50 ms",
            p99["intake311"] < 50,
            f"{args.latency_seconds:g} s per round, from each request's scheduled time; "
            f"unanswered within {TIMEOUT:g} s (counted at {TIMEOUT:g} s): "
            f"{unanswered['intake311']} of {n * lat_rounds} "
            f"(TwiML app: {unanswered['twiml']}){cut}",
        ),
        row(
            "every accepted webhook committed",
            "yes" if committed_ok and lat_exact else "NO",
            goal="rows >= 2xx",
            met=committed_ok and lat_exact,
            note="message rows / 2xx answers per intake round: " + "; ".join(committed),
        ),
    ]
    commands = [
        *stack.commands,
        "baselines: the web command with bench.baselines.hello:app and bench.baselines.twiml:app",
        *wrk.commands,
        f"open loop: bench/openloop.py at {args.rate:g}/s for {args.latency_seconds:g} s",
    ]
    write_json(args.json, "Webhook intake", rows, commands, f"{load_before} / {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
