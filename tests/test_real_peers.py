"""The whole bot against real GeoReport v2 servers nobody here wrote, when they are running.

Opt-in: start them with scripts/open311_peers.py (docs/open311-servers.md says how) and name
them, e.g. INTAKE311_PEERS="issue-reporting:8411,issue-reporting-moderated:8412,open311-api:8421"
("-generic" after a name uses the generic profile instead of the server's own)
(and OPEN311_PEERS_HOME if the script was given one). Without it these tests are skipped, as in
CI: the servers are not part of the project. What they found is in docs/open311-servers.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.failures import list_failures, retry
from bot.models import Report
from bot.open311.check import CheckOptions, run_check
from bot.open311.client import Open311Client
from bot.open311.profile import load_profile
from bot.settings import get_settings
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone
from webhooks import create_app

pytestmark = pytest.mark.sqlite_only

SCRIPT = Path(__file__).parents[1] / "scripts" / "open311_peers.py"
KEYS = {
    "issue-reporting": "throwaway-ir-key-not-secret",
    "open311-api": "throwaway-o311api-key-not-secret",
}
ROOTS = {"issue-reporting": "/api/georeport/v2/", "open311-api": "/api/v2/"}
PROFILES = {
    "issue-reporting": "issue_reporting",
    "issue-reporting-moderated": "issue_reporting",
    "issue-reporting-generic": "generic",
    "open311-api": "open311_api",
    "open311-api-generic": "generic",
}
# "-suggested": the profile `intake311 open311 check` suggests for the running server.
SAYS = {
    "issue-reporting": "big pothole outside 120 Main St",
    "open311-api": "loud noise all night at 120 Main St",
}
VARIANTS = (
    "-moderated",
    "-generic",
    "-suggested",
)  # a server's moderation setting, or the generic profile


def _peers() -> list[tuple[str, int]]:
    named = os.environ.get("INTAKE311_PEERS", "")
    return [(n.split(":")[0], int(n.split(":")[1])) for n in named.split(",") if ":" in n]


PEERS = _peers()


@pytest.fixture(
    params=PEERS or [pytest.param(None, marks=pytest.mark.skip("INTAKE311_PEERS unset"))]
)
def peer(request, env, twilio_api, monkeypatch, tmp_path):
    """The bot pointed at one running peer server; (name, kind, port, phone)."""
    name, port = request.param
    kind = name
    for variant in VARIANTS:
        kind = kind.removesuffix(variant)
    monkeypatch.setenv("OPEN311_ENDPOINT", f"http://127.0.0.1:{port}{ROOTS[kind]}")
    monkeypatch.setenv("OPEN311_API_KEY", KEYS[kind])
    if name.endswith("-suggested"):
        monkeypatch.setenv("OPEN311_PROFILE", _suggested(kind, port, tmp_path))
    else:
        monkeypatch.setenv("OPEN311_PROFILE", PROFILES[name])
    get_settings.cache_clear()
    phone = Phone(create_app({"TESTING": True}).test_client(), twilio_api, number=_new_number())
    return name, kind, port, phone


def _suggested(kind: str, port: int, folder: Path) -> str:
    """The profile `intake311 open311 check` suggests for the server, as a file."""
    result = run_check(
        CheckOptions(
            endpoint=f"http://127.0.0.1:{port}{ROOTS[kind]}",
            profile=load_profile("generic"),
            api_key=KEYS[kind],
        )
    )
    assert not result.failed, [f.line() for f in result.findings]
    path = folder / f"{kind}.toml"
    path.write_text(result.toml(), encoding="utf-8")
    return str(path)


def _new_number() -> str:
    return "+1312555" + str(os.getpid() % 10_000).zfill(4)


def converse(phone: Phone, first: str, service: str) -> list[str]:
    """Answer the bot as a resident would until it says the report was filed (or cannot be).

    A sure address is not read back (a doubtful one is: YES); required questions are asked one
    by one (a list: its first option), optional ones wait behind 4 in the summary, which is
    sent with YES (a new resident's first summary also asks consent: YES gives it).
    """
    said = phone.text(first)
    for _ in range(14):
        last = said[-1] if said else ""
        if "Request number" in last or "saved" in last:
            return said
        if "Sending" in last:
            said = phone.inbox() or said
            continue
        if any("Ready to send" in text for text in said):  # the consent may follow apart
            said = phone.text("yes")
            continue
        numbered = re.search(rf"(\d+)\s*[.)]?\s*{service}", last, re.IGNORECASE)
        if numbered:
            said = phone.text(numbered.group(1))
        elif "SKIP" in last:
            said = phone.text("skip")
        elif re.search(r"describe|what.*(happen|see)|tell me more", last, re.IGNORECASE):
            said = phone.text("deep and wide, cars swerve around it")
        elif "Where is it?" in last:
            said = phone.text("120 Main St")
        elif re.search(r"^1 ", last, re.MULTILINE):  # a required question with options
            said = phone.text("1")
        else:
            said = phone.text("yes")
    raise AssertionError(f"the conversation did not end: {said}")


def close_at_city(kind: str, port: int, number: str) -> None:
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "close",
            kind,
            number,
            "--port",
            str(port),
            "--notes",
            "Fixed by the road crew.",
        ],
        check=True,
        capture_output=True,
    )


def the_report() -> Report:
    with session_scope() as session:
        return session.exec(select(Report).order_by(Report.id.desc())).first()


def city_holds(marker: str, number: str) -> int:
    """How many of the city's requests carry our marker (by id look-up: the count that matters)."""
    with Open311Client(get_settings().open311_endpoint, api_key=KEYS["open311-api"]) as client:
        found = client.request(number)
    return int(found is not None and marker in str(found.get("description") or ""))


def test_a_report_is_filed_once_closed_with_one_update_and_looked_up(peer):
    name, kind, port, phone = peer
    service = "pothole" if kind == "issue-reporting" else "noise"
    texts = converse(phone, SAYS[kind], service)
    report = the_report()
    assert report.state == "submitted", (texts, report.last_error)
    number = report.service_request_id
    assert f"Request number: {number}" in "\n".join(texts)
    jobs.track()
    run_jobs()
    assert phone.inbox() == []  # the city's first answer is the baseline, even with a date
    if name.endswith("moderated"):
        subprocess.run(
            [sys.executable, str(SCRIPT), "moderate", kind, number, "--port", str(port)],
            check=True,
            capture_output=True,
        )
    assert city_holds(report.marker, number) == 1
    close_at_city(kind, port, number)
    assert jobs.track() == 1
    run_jobs()
    [update] = phone.inbox()
    assert number in update and "closed" in update.lower() and "Expected" not in update
    assert jobs.track() == 0
    [status] = phone.text(f"STATUS {number}")
    assert number in status and "closed" in status.lower()


def test_a_refused_key_waits_for_staff_with_the_citys_words(peer, monkeypatch):
    name, kind, port, phone = peer
    monkeypatch.setenv("OPEN311_API_KEY", "not-the-key")
    get_settings.cache_clear()
    service = "pothole" if kind == "issue-reporting" else "noise"
    texts = converse(phone, SAYS[kind], service)
    assert "saved" in texts[-1] and "refused" not in texts[-1]
    report = the_report()
    assert report.state == "failed"
    [failure] = [f for f in list_failures() if f.name == f"report:{report.id}"]
    assert "API key" in failure.error
    monkeypatch.setenv("OPEN311_API_KEY", KEYS[kind])
    get_settings.cache_clear()
    assert retry(failure.name)
    run_jobs()
    report = the_report()
    assert report.state == "submitted" and report.service_request_id
