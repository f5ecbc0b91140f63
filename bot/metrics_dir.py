"""Where each process group keeps its metrics on disk (prometheus-client's multiprocess mode).

`METRICS_DIR` is one folder for the host; each process group (the web's gunicorn, each
`intake311 worker` command) owns a subfolder of it, empties it as it starts (files of dead
processes from a previous run would be summed into the new counts) and names it in
`PROMETHEUS_MULTIPROC_DIR` for its own processes and their forks. `/metrics` sums them all.
This module imports nothing of prometheus-client: it must run before that is imported, which
reads `PROMETHEUS_MULTIPROC_DIR` once.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT_SETTING = "METRICS_DIR"
PROCESS_SETTING = "PROMETHEUS_MULTIPROC_DIR"


def root() -> Path | None:
    """The host's metrics folder (METRICS_DIR), or None: one process, its own registry."""
    value = os.environ.get(ROOT_SETTING, "").strip()
    return Path(value) if value else None


def claim(group: str) -> Path | None:
    """Empty this process group's folder under METRICS_DIR and point prometheus-client at it;
    call before anything imports prometheus_client. None when METRICS_DIR is not set."""
    base = root()
    if base is None:
        return None
    folder = base / re.sub(r"[^A-Za-z0-9_-]+", "-", group)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[PROCESS_SETTING] = str(folder)
    return folder


def mark_dead(pid: int) -> None:
    """Forget a dead process's live gauges (its counters and histograms are kept, summed)."""
    folder = os.environ.get(PROCESS_SETTING)
    if folder:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, folder)
