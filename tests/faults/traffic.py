"""Residents texting the bot through signed Twilio webhooks, as Twilio would deliver them.

Each resident runs a short scripted conversation that ends in a filed report. Webhooks are
delivered like a provider does: a share of them twice with the same MessageSid (sometimes at
once from two threads, sometimes again 0.5-3 s later), and any non-2xx answer or connection
error retried with backoff. Replies are read from the fake Twilio API's log of sends.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import PUBLIC_BASE_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.twilio_signing import sign

# What the resident texts, and the words of the bot's answer that lets it text the next line.
# The address comes in a text of its own, so a conversation is in flight (and geocoded) while
# faults strike; the house typed is found for sure, so the summary follows at once, and a new
# resident's first summary ends asking whether the city may contact them.
SCRIPT: list[tuple[str, str | None]] = [
    ("Fallen tree branch down on the sidewalk", "Where is it?"),
    ("120 Main St", "PRIVATE sends it"),
    ("private", None),  # confirmed: the filing notice with the number comes when the city has it
]
NOTICE = re.compile(r"Request number: (\S+?)\.(?:\s|$)")
STEP_TIMEOUT = 150.0
POST_DEADLINE = 120.0


def phone_of(scenario_index: int, i: int) -> str:
    """+1312555xxxx, distinct per resident (and per scenario, so logs never mix)."""
    return f"+1312555{(scenario_index * 1000 + i) % 10000:04d}"


@dataclass
class Reply:
    body: str
    m: str | None
    at: float


class Inbox:
    """The fake Twilio's SENT, indexed by recipient as it grows (a thread reads it)."""

    def __init__(self, twilio_app):
        self.app = twilio_app
        self.by_to: dict[str, list[Reply]] = defaultdict(list)
        self.all: list[tuple[str, Reply]] = []
        self.cond = threading.Condition()
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="inbox")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(0.05)

    def poll(self) -> None:
        with self.app.config["LOCK"]:
            new = self.app.config["SENT"][self._seen :]
            self._seen += len(new)
        if not new:
            return
        now = time.monotonic()
        with self.cond:
            for sent in new:
                form = sent["form"]
                to = form.get("To", [""])[0]
                callback = form.get("StatusCallback", [""])[0]
                m = parse_qs(urlsplit(callback).query).get("m", [None])[0]
                reply = Reply(form.get("Body", [""])[0], m, now)
                self.by_to[to].append(reply)
                self.all.append((to, reply))
            self.cond.notify_all()

    def count(self, to: str) -> int:
        with self.cond:
            return len(self.by_to[to])

    def wait(self, to: str, since: int, words: str, timeout: float) -> int | None:
        """The index of the first reply to `to` from `since` on containing `words`, or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index, reply in enumerate(self.by_to[to][since:], since):
                    if words in reply.body:
                        return index
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def last_at(self) -> float:
        with self.cond:
            return self.all[-1][1].at if self.all else 0.0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()


@dataclass
class Stats:
    webhooks: int = 0
    duplicates: int = 0
    duplicates_concurrent: int = 0
    posts: int = 0
    retried: int = 0
    non_2xx: dict = field(default_factory=lambda: defaultdict(int))
    never_accepted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


class Provider:
    """Delivers webhooks like Twilio: signed, some twice, retried until accepted."""

    def __init__(self, web_url: str, duplicate_rate: float, seed: int):
        self.url = web_url.rstrip("/") + "/webhooks/twilio"
        self.signed_url = PUBLIC_BASE_URL + "/webhooks/twilio"
        self.duplicate_rate = duplicate_rate
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.http = httpx.Client(
            timeout=15, limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )
        self.extra = ThreadPoolExecutor(max_workers=32, thread_name_prefix="dupe")
        self.stats = Stats()
        self.pending: list = []

    def _random(self) -> float:
        with self.rng_lock:
            return self.rng.random()

    def _post_until_accepted(self, form: dict, signature: str) -> bool:
        deadline = time.monotonic() + POST_DEADLINE
        wait = 0.25
        first = True
        while True:
            self.stats.add("posts")
            if not first:
                self.stats.add("retried")
            first = False
            try:
                answer = self.http.post(
                    self.url, data=form, headers={"X-Twilio-Signature": signature}
                )
                if 200 <= answer.status_code < 300:
                    return True
                with self.stats.lock:
                    self.stats.non_2xx[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                with self.stats.lock:
                    self.stats.non_2xx[type(exc).__name__] += 1
            if time.monotonic() + wait > deadline:
                self.stats.add("never_accepted")
                return False
            time.sleep(wait)
            wait = min(wait * 2, 5.0)

    def _later(self, form: dict, signature: str, delay: float) -> bool:
        time.sleep(delay)
        return self._post_until_accepted(form, signature)

    def deliver(self, sender: str, body: str) -> str:
        """Deliver one inbound SMS (perhaps twice); return its MessageSid."""
        sid = "SM" + secrets.token_hex(16)
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": TWILIO_SID,
            "From": sender,
            "To": TWILIO_FROM,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        signature = sign(self.signed_url, form, TWILIO_TOKEN)
        self.stats.add("webhooks")
        draw = self._random()
        if draw < self.duplicate_rate:
            self.stats.add("duplicates")
            if draw < self.duplicate_rate / 2:
                self.stats.add("duplicates_concurrent")
                self.pending.append(self.extra.submit(self._later, form, signature, 0.0))
            else:
                delay = 0.5 + 2.5 * self._random()
                self.pending.append(self.extra.submit(self._later, form, signature, delay))
        self._post_until_accepted(form, signature)
        return sid

    def close(self) -> None:
        self.extra.shutdown(wait=True)
        self.http.close()


@dataclass
class Resident:
    phone: str
    sids: list[str] = field(default_factory=list)
    step: int = 0
    confirmed_at: float | None = None
    stalled: str | None = None
    off_script: list[str] = field(default_factory=list)
    started_at: float = 0.0


def converse(resident: Resident, provider: Provider, inbox: Inbox, progress: Progress) -> Resident:
    """Text the script one line at a time, each after the bot's expected answer."""
    resident.started_at = time.monotonic()
    for index, (line, expect) in enumerate(SCRIPT):
        since = inbox.count(resident.phone)
        if expect is None:
            resident.confirmed_at = time.monotonic()
            progress.confirm()
        resident.sids.append(provider.deliver(resident.phone, line))
        resident.step = index + 1
        if expect is None:
            break
        got = inbox.wait(resident.phone, since, expect, STEP_TIMEOUT)
        with inbox.cond:
            resident.off_script += [r.body for r in inbox.by_to[resident.phone][since:got]]
        if got is None:
            resident.stalled = f"no {expect!r} after {line!r}"
            break
        progress.replied()
    return resident


class Progress:
    """How far the residents have got, for injectors that fire part-way through."""

    def __init__(self, total: int):
        self.total = total
        self.confirmed = 0
        self.replies = 0
        self.lock = threading.Lock()
        self.first_reply = threading.Event()

    def confirm(self) -> None:
        with self.lock:
            self.confirmed += 1

    def replied(self) -> None:
        with self.lock:
            self.replies += 1
        self.first_reply.set()

    @property
    def fraction(self) -> float:
        return self.confirmed / self.total if self.total else 1.0


def run_residents(
    residents: list[Resident],
    provider: Provider,
    inbox: Inbox,
    progress: Progress,
    concurrency: int,
) -> None:
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="resident") as pool:
        futures = [pool.submit(converse, r, provider, inbox, progress) for r in residents]
        for future in futures:
            future.result()
