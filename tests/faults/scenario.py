"""One scenario: residents through the stack while a fault is injected, then the count."""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import httpx
import psycopg

from bot.personal_data import decrypt
from tests.faults.stack import Stack
from tests.faults.traffic import (
    NOTICE,
    Inbox,
    Progress,
    Provider,
    Resident,
    phone_of,
    run_residents,
)

RESIDENTS = int(os.environ.get("INTAKE311_FAULT_RESIDENTS", "500"))
CONCURRENCY = int(os.environ.get("INTAKE311_FAULT_CONCURRENCY", "50"))
DUPLICATE_RATE = 0.20
QUIET_TIMEOUT = float(os.environ.get("INTAKE311_FAULT_QUIET_TIMEOUT", "120"))
MARKER = re.compile(r"\[ref (311-[A-Z2-7]{8})\]\s*$")
TERMINAL_REPORT_STATES = ("submitted", "failed", "unconfirmed")


class Injector:
    """A fault injected from a thread while the residents run; `counts` says how many."""

    def __init__(self, stack: Stack, progress: Progress, stop: threading.Event):
        self.stack, self.progress, self.stop = stack, progress, stop
        self.traffic_done = threading.Event()
        self.traffic_done_at = 0.0
        self.counts: Counter = Counter()
        self.notes: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:  # overridden
        return None

    def guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def wait_progress(self, fraction: float) -> bool:
        """Wait until that share of residents confirmed; False when the run is over."""
        while not self.stop.is_set():
            if self.progress.fraction >= fraction:
                return True
            time.sleep(0.1)
        return False


def _db(stack: Stack):
    return psycopg.connect(stack.pg.dsn(), autocommit=True, connect_timeout=5)


def work_left(stack: Stack) -> dict:
    """Work the database still owns: inbound not handled, replies not sent, reports unfiled."""
    with _db(stack) as conn:
        inbound = conn.execute(
            "SELECT count(*) FROM message WHERE direction='in' AND status='pending'"
        ).fetchone()[0]
        outbound = conn.execute(
            "SELECT count(*) FROM message WHERE direction='out' AND status IN ('pending','sending')"
        ).fetchone()[0]
        reports = conn.execute(
            "SELECT count(*) FROM report WHERE NOT (state = ANY(%s))",
            (list(TERMINAL_REPORT_STATES),),
        ).fetchone()[0]
    return {"inbound": inbound, "outbound": outbound, "reports": reports}


def wait_quiet(
    stack: Stack,
    inbox: Inbox,
    residents: list[Resident],
    timeout: float,
    quiet_since: float | None = None,
) -> dict:
    """Until every confirmed resident has its notice and the database owns no work (then 3 s
    with no send since `quiet_since`, default now), or the deadline; returns what was left and
    how long it took."""
    started = time.monotonic()
    deadline = started + timeout
    left: dict = {}
    while time.monotonic() < deadline:
        inbox.poll()  # itself: the inbox's own reader stops before the wait for late work
        noticed = sum(
            1
            for r in residents
            if r.confirmed_at is not None
            and any(NOTICE.search(x.body) for x in inbox.by_to[r.phone])
        )
        confirmed = sum(1 for r in residents if r.confirmed_at is not None)
        try:
            left = work_left(stack)
        except psycopg.Error as exc:
            left = {"error": type(exc).__name__}
        idle = time.monotonic() - max(inbox.last_at(), quiet_since or started) >= 3
        if noticed == confirmed and left and not any(left.values()) and idle:
            break
        time.sleep(0.5)
    return {"left": left, "seconds": round(time.monotonic() - started, 1)}


def sandbox_rows(stack: Stack) -> list[dict]:
    """Every request the sandbox city stored (read from its SQLite file)."""
    db = sqlite3.connect(stack.sandbox_app.extensions["sandbox"].store.path, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return [
            dict(r)
            for r in db.execute(
                "SELECT service_request_id, description, device_id, requested_ts FROM requests"
            )
        ]
    finally:
        db.close()


def marker_of(row: dict) -> str | None:
    if row.get("device_id") and str(row["device_id"]).startswith("311-"):
        return row["device_id"]
    found = MARKER.search(row.get("description") or "")
    return found.group(1) if found else None


def count(stack: Stack, inbox: Inbox, residents: list[Resident]) -> dict:
    """Reports filed, lost and doubled; replies doubled; from the city, our database and
    the fake Twilio's log."""
    rows = sandbox_rows(stack)
    by_marker: dict[str, list[dict]] = defaultdict(list)
    unmarked = 0
    for row in rows:
        marker = marker_of(row)
        if marker:
            by_marker[marker].append(row)
        else:
            unmarked += 1
    with _db(stack) as conn:
        reports = conn.execute(
            "SELECT r.id, c.address, r.marker, r.state, r.service_request_id, r.attempts, "
            "r.last_error FROM report r JOIN contact c ON c.id = r.contact_id"
        ).fetchall()
        inbound = dict(
            conn.execute(
                "SELECT status, count(*) FROM message WHERE direction='in' GROUP BY status"
            ).fetchall()
        )
        outbound = dict(
            conn.execute(
                "SELECT status, count(*) FROM message WHERE direction='out' GROUP BY status"
            ).fetchall()
        )
    reports_of: dict[str, list[tuple]] = defaultdict(list)
    for report in reports:
        # The stack runs with the development keys, as this process does (bot.personal_data).
        address = decrypt(report[1]) if report[1] else ""
        reports_of[address.removeprefix("tel:")].append(report)

    lost_details: list[str] = []
    stalled = [r for r in residents if r.stalled]
    for r in stalled:
        lost_details.append(
            f"{r.phone} stalled at step {r.step}: {r.stalled}; "
            f"off-script replies {r.off_script[-3:]}"
        )
    not_filed = no_notice = 0
    doubled_notices = 0
    for r in residents:
        if r.confirmed_at is None:
            continue
        mine = reports_of.get(r.phone, [])
        filed = [rep for rep in mine if rep[2] and rep[2] in by_marker]
        notices = Counter(m.group(1) for x in inbox.by_to[r.phone] if (m := NOTICE.search(x.body)))
        doubled_notices += sum(n - 1 for n in notices.values() if n > 1)
        if not filed:
            not_filed += 1
            lost_details.append(f"{r.phone} confirmed, not at the city: reports {mine}")
        elif not notices:
            no_notice += 1
            lost_details.append(
                f"{r.phone} filed ({[rep[4] for rep in filed]}), no notice; reports {mine}"
            )

    doubled_markers = {m: rs for m, rs in by_marker.items() if len(rs) > 1}
    by_marker_report = {rep[2]: rep for rep in reports if rep[2]}
    doubled_details = [
        f"{m}: city ids {[x['service_request_id'] for x in rs]}, "
        f"{max(x['requested_ts'] for x in rs) - min(x['requested_ts'] for x in rs):.1f} s apart; "
        f"our report {by_marker_report.get(m)}"
        for m, rs in doubled_markers.items()
    ]
    extra_reports = sum(max(0, len(v) - 1) for v in reports_of.values())

    sends_per_m = Counter(reply.m for _, reply in inbox.all if reply.m)
    doubled_sends = sum(n - 1 for n in sends_per_m.values() if n > 1)
    no_m = [(to, reply) for to, reply in inbox.all if not reply.m]
    repeats = 0
    last: dict[str, str] = {}
    for to, reply in no_m:
        if last.get(to) == reply.body:
            repeats += 1
        last[to] = reply.body
    off_script = sum(len(r.off_script) for r in residents)

    lost = len(stalled) + not_filed + no_notice
    unprocessed = sum(n for status, n in inbound.items() if status != "processed")
    return {
        "residents": len(residents),
        "confirmed": sum(1 for r in residents if r.confirmed_at is not None),
        "filed": len(by_marker),
        "city_requests": len(rows),
        "unmarked_city_requests": unmarked,
        "lost": lost,
        "stalled": len(stalled),
        "not_filed": not_filed,
        "no_notice": no_notice,
        "inbound_unprocessed": unprocessed,
        "inbound": inbound,
        "outbound": outbound,
        "report_states": dict(Counter(rep[3] for rep in reports)),
        "reports_retried": sum(1 for rep in reports if (rep[5] or 0) > 1),
        "doubled_filings": sum(len(rs) - 1 for rs in doubled_markers.values()),
        "extra_reports_per_resident": extra_reports,
        "doubled_replies": doubled_sends + repeats,
        "doubled_notices": doubled_notices,
        "off_script_replies": off_script,
        "sends": len(inbox.all),
        "details": {"lost": lost_details[:40], "doubled": doubled_details[:40]},
    }


def run(
    stack: Stack,
    name: str,
    index: int,
    injector_cls: type[Injector] | None,
    residents_n: int = RESIDENTS,
    quiet_timeout: float = QUIET_TIMEOUT,
    before: Callable[[Stack], None] | None = None,
) -> dict:
    """Start the stack afresh, run the residents with the injector, wait, count."""
    stack.start_scenario(name)
    if before is not None:
        before(stack)
    inbox = Inbox(stack.twilio_app)
    provider = Provider(stack.web_url, DUPLICATE_RATE, seed=index)
    residents = [Resident(phone_of(index, i)) for i in range(residents_n)]
    progress = Progress(len(residents))
    stop = threading.Event()
    injector = (injector_cls or Injector)(stack, progress, stop)
    thread = threading.Thread(target=injector.guarded, daemon=True, name=f"inject-{name}")
    started = time.monotonic()
    thread.start()
    try:
        run_residents(residents, provider, inbox, progress, CONCURRENCY)
        traffic_seconds = time.monotonic() - started
        injector.traffic_done_at = time.monotonic()
        injector.traffic_done.set()
        quiet_from = time.monotonic()
        quiet = wait_quiet(stack, inbox, residents, quiet_timeout)
    finally:
        stop.set()
        thread.join(timeout=60)
        provider.close()
        inbox.stop()
    # Late work after the injector stopped (a restarted worker finishing) may still send.
    quiet2 = wait_quiet(stack, inbox, residents, 30, quiet_since=quiet_from)
    inbox.poll()
    figures = count(stack, inbox, residents)
    with stack.twilio_app.config["LOCK"]:
        figures["provider_sends"] = len(stack.twilio_app.config["SENT"])
    stats = provider.stats
    figures.update(
        {
            "scenario": name,
            "injected": dict(injector.counts),
            "injector_notes": injector.notes,
            "injector_error": repr(injector.error) if injector.error else None,
            "webhooks": stats.webhooks,
            "duplicates_posted": stats.duplicates,
            "duplicates_concurrent": stats.duplicates_concurrent,
            "posts": stats.posts,
            "provider_retries": stats.retried,
            "non_2xx": dict(stats.non_2xx),
            "never_accepted": stats.never_accepted,
            "traffic_seconds": round(traffic_seconds, 1),
            "quiet": quiet,
            "quiet_after_stop": quiet2,
            "seconds": round(time.monotonic() - started, 1),
            "workers_restarted": sum(p.starts - 1 for p in stack.workers),
        }
    )
    figures["lost"] += stats.never_accepted
    return figures


# -- the injectors ----------------------------------------------------------------------------


class KillWorkers(Injector):
    """kill -9 a random worker's process group each time the bot has sent KILL_EVERY more texts
    (then a random 0-1 s more, so kills land anywhere in a job), and start it again at once;
    from the first resident until KILL_AFTER_TRAFFIC seconds after the last one has confirmed
    (the filings and notices still in flight then are hit too).

    The rate follows the bot's progress, not the clock: on a busy machine, where a restarted
    worker takes longer to come back, the workers are not killed faster than they can work, and
    every kill still lands on work in flight."""

    KILL_EVERY = int(os.environ.get("INTAKE311_FAULT_KILL_EVERY", "20"))
    KILL_AFTER_TRAFFIC = 15.0

    def sent(self) -> int:
        app = self.stack.twilio_app
        with app.config["LOCK"]:
            return len(app.config["SENT"])

    def run(self) -> None:
        rng = random.Random(2)
        mark = self.sent()
        while not self.stop.wait(0.05):
            if (
                self.traffic_done.is_set()
                and time.monotonic() - self.traffic_done_at > self.KILL_AFTER_TRAFFIC
            ):
                return
            if self.sent() - mark < self.KILL_EVERY:
                continue
            if self.stop.wait(rng.uniform(0.0, 1.0)):
                return
            proc = rng.choice(self.stack.workers)
            proc.kill9()
            proc.start()
            self.counts["kill -9"] += 1
            mark = self.sent()


class FlushRedis(Injector):
    """FLUSHALL the suite's Redis three times, at 20%, 45% and 70% of confirmations."""

    def run(self) -> None:
        for fraction in (0.2, 0.45, 0.7):
            if not self.wait_progress(fraction):
                return
            self.stack.redis.flushall()
            self.counts["FLUSHALL"] += 1
            self.notes.append(f"FLUSHALL at {self.progress.confirmed} confirmed")


class RestartPostgres(Injector):
    """Restart PostgreSQL (stop -m immediate, 3 s down, start) at 40% of confirmations."""

    DOWN_FOR = 3.0

    def run(self) -> None:
        if not self.wait_progress(0.4):
            return
        started = time.monotonic()
        self.stack.pg.restart(down_for=self.DOWN_FOR)
        self.counts["PostgreSQL restart"] += 1
        self.counts["seconds down"] = round(time.monotonic() - started, 1)
        self.notes.append(f"restart at {self.progress.confirmed} confirmed")


def open311_fault(mode: str, seconds: float, rate: float, delay: float = 3.0) -> type[Injector]:
    """An injector turning the sandbox's `mode` fault on from the bot's first reply until
    `seconds` have passed and every resident has confirmed (so reports' first POSTs meet the
    fault), but never longer than 2 x `seconds`; then off."""

    class Open311Fault(Injector):
        def run(self) -> None:
            while not self.progress.first_reply.wait(0.2):
                if self.stop.is_set():
                    return
            url = f"{self.stack.sandbox.url}/admin/faults"
            body = {"mode": mode, "rate": rate, "delay": delay}
            httpx.post(url, json=body, timeout=5).raise_for_status()
            on = time.monotonic()
            while not self.stop.wait(0.2):
                elapsed = time.monotonic() - on
                if elapsed >= seconds and (self.traffic_done.is_set() or elapsed >= 2 * seconds):
                    break
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(url, json={"mode": "none"}, timeout=5)
            hits = self.stack.sandbox_app.extensions["sandbox"].faults.state()["hits"]
            self.counts[f"{mode} seconds"] = round(time.monotonic() - on, 1)
            self.counts[f"{mode} answers"] = hits.get(mode, 0)
            self.counts[f"{mode} POSTs"] = hits.get(f"{mode} POST", 0)

    Open311Fault.__name__ = f"Open311Fault_{mode}"
    return Open311Fault
