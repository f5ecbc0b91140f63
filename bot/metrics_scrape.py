"""What `/metrics` serves: the recorded metrics (bot.metrics) of every process, summed where
they write files (METRICS_DIR), with queue depths and dead letters read at scrape time: a few
LLENs and bounded counts."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from bot import metrics, metrics_dir  # noqa: F401 - bot.metrics registers this process's own

log = logging.getLogger(__name__)

DEAD_LETTER_CAP = 10_000  # each kind counted up to this: a scrape stays cheap


class LiveCollector:
    """Queue depths and dead letters, read when scraped; a part that cannot be read is left
    out (logged), never a failed scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from _guarded("queue depths", _queue_depths)
        yield from _guarded("dead letters", _dead_letters)


def _guarded(what: str, read: Callable[[], Metric]) -> Iterable[Metric]:
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
