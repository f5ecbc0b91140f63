"""The fault-injection suite's stack: its own Redis and PostgreSQL, the bot as real processes.

Everything started here is stopped by the fixtures' finalizers (and by atexit as a backstop):
process groups killed, the PostgreSQL cluster stopped and its folder removed.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import tempfile
from pathlib import Path

import pytest

from tests.faults.stack import PgCluster, Stack, pg_unavailable, worker_argv
from tests.processes import RedisServer, StackError

ROOT = Path(__file__).resolve().parents[2]
RELIABILITY = ROOT / "RELIABILITY.md"
FIGURES: list[dict] = []


@pytest.fixture(scope="session")
def fault_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def fault_redis(fault_dir):
    try:
        server = RedisServer(fault_dir)
    except StackError as exc:
        pytest.skip(f"fault suite: {exc}")
    atexit.register(server.stop)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_pg(fault_dir):
    reason = pg_unavailable()
    if reason:
        pytest.skip(f"fault suite needs a PostgreSQL cluster of its own: {reason}")
    cluster = PgCluster(fault_dir)
    atexit.register(cluster.destroy)
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def stack(fault_dir, fault_redis, fault_pg):
    the_stack = Stack(fault_redis, fault_pg, fault_dir, worker_argv())
    atexit.register(the_stack.stop_processes)
    yield the_stack
    the_stack.close()


def pytest_configure(config):
    """One folder for every process's figures (pytest-xdist runs scenarios in several)."""
    if not hasattr(config, "workerinput"):
        os.environ["INTAKE311_FAULT_FIGURES_DIR"] = tempfile.mkdtemp(prefix="intake311-figures-")


@pytest.fixture(scope="session")
def figures():
    """Collects each scenario's figures; each row is also written to the run's figures folder,
    read back by the summary (and written into RELIABILITY.md when INTAKE311_WRITE_FIGURES=1)."""
    yield FIGURES
    folder = Path(os.environ["INTAKE311_FAULT_FIGURES_DIR"])
    for row in FIGURES:
        (folder / f"{row['scenario']}.json").write_text(json.dumps(row, indent=2, default=str))


def collected_rows() -> list[dict]:
    """Every scenario's figures of this run, in the order the suite lists them."""
    from tests.faults.test_faults import SCENARIOS

    folder = Path(os.environ.get("INTAKE311_FAULT_FIGURES_DIR", "/nonexistent"))
    rows = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    return sorted(rows, key=lambda row: list(SCENARIOS).index(row["scenario"]))


COLUMNS = [
    ("scenario", "Scenario"),
    ("injected", "Injected"),
    ("residents", "Residents"),
    ("duplicates_posted", "Duplicate webhooks"),
    ("filed", "Reports filed"),
    ("lost", "Lost"),
    ("inbound_unprocessed", "Inbound unhandled"),
    ("doubled_filings", "Doubled filings"),
    ("doubled_replies", "Doubled replies"),
    ("doubled_notices", "Doubled notices"),
    ("seconds", "Seconds"),
]


def _cell(key: str, row: dict) -> str:
    value = row.get(key)
    if key == "injected":
        value = ", ".join(f"{k}: {v}" for k, v in (value or {}).items()) or "-"
    return str(value)


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, rule]
    lines += ["| " + " | ".join(_cell(key, row) for key, _ in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def write_reliability(rows: list[dict]) -> None:
    text = RELIABILITY.read_text()
    block = f"<!-- figures -->\n{table(rows)}\n<!-- /figures -->"
    text = re.sub(r"<!-- figures -->.*?<!-- /figures -->", lambda _: block, text, flags=re.S)
    RELIABILITY.write_text(text)


def pytest_terminal_summary(terminalreporter):
    if hasattr(terminalreporter.config, "workerinput"):
        return
    rows = collected_rows()
    if not rows:
        return
    terminalreporter.write_sep("=", "fault-injection figures")
    for line in table(rows).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"all figures: {os.environ['INTAKE311_FAULT_FIGURES_DIR']}")
    for row in rows:
        problems = row.get("details", {})
        if problems.get("lost") or problems.get("doubled"):
            terminalreporter.write_line(f"{row['scenario']}: {json.dumps(problems)[:3000]}")
    if os.environ.get("INTAKE311_WRITE_FIGURES") == "1":
        write_reliability(rows)
