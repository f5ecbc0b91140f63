"""Fault injection: real traffic through the web app and workers while things break.

Each scenario starts the stack afresh (database, Redis, sandbox city), runs
INTAKE311_FAULT_RESIDENTS residents (default 500) through a short conversation that files a
report, 20% of webhooks delivered twice, while one fault is injected; then counts what was
filed, lost and doubled. See RELIABILITY.md.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.faults import scenario
from tests.processes import tail

pytestmark = pytest.mark.faults

OPEN311_SECONDS = float(os.environ.get("INTAKE311_FAULT_OPEN311_SECONDS", "60"))
TIMEOUT_RATE = float(os.environ.get("INTAKE311_FAULT_TIMEOUT_RATE", "0.5"))

SCENARIOS = {
    "duplicates": None,
    "kill-workers": scenario.KillWorkers,
    "flush-redis": scenario.FlushRedis,
    "restart-postgres": scenario.RestartPostgres,
    "open311-500": scenario.open311_fault("500", OPEN311_SECONDS, rate=1.0),
    "open311-timeout": scenario.open311_fault(
        "timeout", OPEN311_SECONDS, rate=TIMEOUT_RATE, delay=3.0
    ),
    "open311-errors200": scenario.open311_fault("errors200", OPEN311_SECONDS, rate=1.0),
}


# What each fault must have hit for its scenario to prove anything (a run the fault missed fails).
MUST_HIT = {
    "kill-workers": "kill -9",
    "flush-redis": "FLUSHALL",
    "restart-postgres": "PostgreSQL restart",
    "open311-500": "500 POSTs",
    "open311-timeout": "timeout POSTs",
    "open311-errors200": "errors200 POSTs",
}


def _verdict(row: dict) -> list[str]:
    problems = []
    hit = MUST_HIT.get(row["scenario"])
    if hit and not row["injected"].get(hit):
        problems.append(f"the fault never hit anything ({hit}: 0)")
    for key in (
        "lost",
        "inbound_unprocessed",
        "doubled_filings",
        "doubled_replies",
        "doubled_notices",
        "extra_reports_per_resident",
    ):
        if row.get(key):
            problems.append(f"{key}={row[key]}")
    if row.get("provider_sends") is not None and row["provider_sends"] != row.get("sends"):
        problems.append(
            f"counted {row.get('sends')} sends, the provider took {row['provider_sends']}"
        )
    if row.get("injector_error"):
        problems.append(f"injector failed: {row['injector_error']}")
    return problems


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault(name, stack, figures):
    index = list(SCENARIOS).index(name) + 1
    try:
        row = scenario.run(stack, name, index, SCENARIOS[name])
    except Exception:
        print(stack.logs(40))
        raise
    figures.append(row)
    print(json.dumps({k: v for k, v in row.items() if k != "details"}, default=str))
    problems = _verdict(row)
    if problems:
        logs = stack.logs(25)
        if name == "restart-postgres":
            logs += "\n" + tail(stack.pg.log, 25)
        pytest.fail(
            f"{name}: {', '.join(problems)}\n"
            f"figures: {json.dumps({k: v for k, v in row.items() if k != 'details'}, default=str)}"
            f"\nlost: {json.dumps(row['details']['lost'][:10], indent=1)}"
            f"\ndoubled: {json.dumps(row['details']['doubled'][:10], indent=1)}"
            f"\n{logs}",
            pytrace=False,
        )
