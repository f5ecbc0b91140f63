"""The process's Prometheus metrics (`intake311_*`) and the text `/metrics` serves.

Counters and histograms are recorded where things happen (the webhook seam, the turn, the
Open311 seam, delivery, the status check). With PROMETHEUS_MULTIPROC_DIR set (bot.metrics_dir,
from METRICS_DIR) every process writes its own files and a scrape sums those of every process
group under METRICS_DIR; without it (development, tests) this process's registry is served.
Queue depths and dead letters are read at scrape time (`LiveCollector`): a few LLENs and
bounded counts. Labels are a small fixed set: never an address, a text or an id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from bot import metrics_dir

log = logging.getLogger(__name__)

# What became of a webhook call (webhooks/channels.py).
WEBHOOK_OUTCOMES = (
    "accepted",  # stored (or a status/handshake recorded), 200
    "duplicate",  # a redelivery of a message already stored, 200
    "served",  # a GET or a call the channel answers itself (handshake, page, poll)
    "forged",  # 403: the signature did not verify
    "malformed",  # 400: unreadable
    "unstorable",  # a value the database refused: 400, or 200 set aside
    "too_large",  # 413
    "unavailable",  # 503: the database is down (the provider retries)
    "refused",  # another 4xx (a method not allowed)
    "error",  # a 500
)
OPEN311_ERRORS = ("timeout", "connect", "4xx", "5xx", "redirect", "refused", "unreadable")
DEAD_LETTER_CAP = 10_000  # each kind counted up to this: a scrape stays cheap

webhooks = Counter(
    "intake311_webhooks",
    "Webhook calls by channel and outcome",
    ["channel", "outcome"],
)
turn_seconds = Histogram(
    "intake311_turn_seconds",
    "Time one run_turn job took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)
open311_seconds = Histogram(
    "intake311_open311_call_seconds",
    "Open311 calls' latency by method and endpoint kind",
    ["method", "endpoint"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)
open311_errors = Counter(
    "intake311_open311_errors",
    "Open311 calls that failed, by kind",
    ["kind"],
)
messages_sent = Counter("intake311_messages_sent", "Messages sent, by channel", ["channel"])
messages_failed = Counter(
    "intake311_messages_failed", "Messages given up on (failed), by channel", ["channel"]
)
status_updates = Counter(
    "intake311_status_updates_told", "Residents told of a change in their report's status"
)


def open311_error_kind(status_code: int | None, transport: str | None = None) -> str:
    """An Open311 failure's kind: timeout, connect, 4xx, 5xx or unreadable."""
    if transport:
        return transport
    if status_code is not None and 400 <= status_code < 500:
        return "4xx"
    if status_code is not None and status_code >= 500:
        return "5xx"
    return "unreadable"


class LiveCollector:
    """Queue depths and dead letters, read when scraped; a part that cannot be read is left
    out (logged), never a failed scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from _guarded("queue depths", _queue_depths)
        yield from _guarded("dead letters", _dead_letters)


def _guarded(what: str, read) -> Iterable[Metric]:
    try:
        return [read()]
    except Exception as exc:  # noqa: BLE001 - Redis or the database down: omit, say so
        log.warning("metrics: %s unavailable (%s)", what, type(exc).__name__)
        return []


def _queue_depths() -> Metric:
    from bot.queue import KINDS, get_queue

    family = GaugeMetricFamily(
        "intake311_queue_depth", "Jobs waiting in each rq queue", labels=["queue"]
    )
    for kind in KINDS:
        family.add_metric([kind], get_queue(kind).count)
    return family


def _dead_letters() -> Metric:
    from bot.failures import count_failures

    family = GaugeMetricFamily(
        "intake311_dead_letters",
        f"Work waiting for staff, by kind (each counted up to {DEAD_LETTER_CAP})",
        labels=["kind"],
    )
    for kind, count in count_failures(DEAD_LETTER_CAP).items():
        family.add_metric([kind], count)
    return family


class _MergedFolders:
    """Every process group's files under METRICS_DIR, summed as one process's would be."""

    def __init__(self, folders: list[str]):
        self.folders = folders

    def collect(self) -> Iterable[Metric]:
        import glob

        files = [f for folder in self.folders for f in glob.glob(os.path.join(folder, "*.db"))]
        return MultiProcessCollector.merge(files, accumulate=True)


def _folders() -> list[str]:
    """The folders to sum: each group's under METRICS_DIR, or PROMETHEUS_MULTIPROC_DIR alone."""
    base = metrics_dir.root()
    if base is not None and base.is_dir():
        return sorted(str(p) for p in base.iterdir() if p.is_dir())
    own = os.environ.get(metrics_dir.PROCESS_SETTING)
    return [own] if own else []


def exposition() -> bytes:
    """The metrics in Prometheus's text format, every process's summed where they write files."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector())
    if metrics_dir.root() is not None or os.environ.get(metrics_dir.PROCESS_SETTING):
        registry.register(_MergedFolders(_folders()))
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(registry)
