"""The sandbox's switchable faults (POST /admin/faults), driven with the real Open311 client."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from click.testing import CliRunner

from bot.open311.client import Open311Client
from bot.open311.errors import Open311Error
from sandbox.cli import sandbox as sandbox_cli
from sandbox.faults import Faults

POTHOLE = "4fd3b656e750846c53000004"
TREE = "4fd3bbf8e750846c53000069"


@pytest.fixture
def faults(sandbox):
    """POST /admin/faults on the shared sandbox; the fault is switched off after the test."""

    def set_fault(**body):
        answer = httpx.post(f"{sandbox.url}/admin/faults", json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    yield set_fault
    httpx.post(f"{sandbox.url}/admin/faults", json={"mode": "none"}, timeout=5)


def client(sandbox, timeout: float = 5.0) -> Open311Client:
    return Open311Client(f"{sandbox.url}/open311/v2/", timeout=timeout, profile="sandbox")


def stored_with(sandbox, description: str) -> list[dict]:
    """The sandbox's requests whose description is `description` (GET requests.json)."""
    found = httpx.get(f"{sandbox.url}/open311/v2/requests.json", timeout=5).json()
    return [r for r in found if r.get("description") == description]


def file(sandbox, tag: str, timeout: float = 5.0) -> dict:
    fields = {"service_code": TREE, "address_string": "120 Main St", "description": tag}
    with client(sandbox, timeout) as c:
        return c.create_request(fields)


def test_get_faults_answers_the_current_setting(sandbox, faults):
    state = faults(mode="500", rate=0.5, seconds=30, delay=2)
    assert state["mode"] == "500" and state["rate"] == 0.5 and state["delay"] == 2
    assert 0 < state["seconds_left"] <= 30
    now = httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()
    assert now["mode"] == "500"
    faults(mode="none")
    assert httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()["mode"] == "none"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "boom"},
        {"mode": "500", "rate": 2},
        {"mode": "500", "seconds": -1},
        {"mode": "timeout", "delay": "soon"},
    ],
)
def test_bad_fault_settings_are_refused(sandbox, faults, body):
    answer = httpx.post(f"{sandbox.url}/admin/faults", json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.json()[0]["code"] == 400
    assert httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()["mode"] == "none"


def test_500_answers_the_spec_error_and_stores_nothing(sandbox, faults):
    faults(mode="500")
    tag = f"fault-500 {uuid.uuid4().hex}"
    with pytest.raises(Open311Error) as caught:
        file(sandbox, tag)
    assert caught.value.retryable
    raw = httpx.post(
        f"{sandbox.url}/open311/v2/requests.json",
        data={"service_code": TREE, "address_string": "1 Main St"},
        timeout=5,
    )
    assert raw.status_code == 500 and raw.json()[0]["code"] == 500
    assert httpx.get(f"{sandbox.url}/open311/v2/services.json", timeout=5).status_code == 500
    faults(mode="none")
    assert stored_with(sandbox, tag) == []


def test_errors200_answers_an_error_list_with_200_and_stores_nothing(sandbox, faults):
    faults(mode="errors200")
    tag = f"fault-errors200 {uuid.uuid4().hex}"
    raw = httpx.post(
        f"{sandbox.url}/open311/v2/requests.json",
        data={"service_code": TREE, "address_string": "1 Main St", "description": tag},
        timeout=5,
    )
    assert raw.status_code == 200
    assert raw.json() == [{"code": 500, "description": raw.json()[0]["description"]}]
    with pytest.raises(Open311Error):
        file(sandbox, tag)
    faults(mode="none")
    assert stored_with(sandbox, tag) == []


def test_timeout_stores_the_request_though_the_client_gives_up(sandbox, faults):
    faults(mode="timeout", delay=2)
    tag = f"fault-timeout {uuid.uuid4().hex}"
    started = time.monotonic()
    with pytest.raises(Open311Error) as caught:
        file(sandbox, tag, timeout=0.5)
    assert time.monotonic() - started < 1.9
    assert "timed out" in str(caught.value)
    hits = faults(mode="none")["hits"]
    assert hits["timeout POST"] >= 1
    stored = stored_with(sandbox, tag)
    assert len(stored) == 1 and stored[0]["service_request_id"]


def test_timeout_holds_gets_too(sandbox, faults):
    faults(mode="timeout", delay=1)
    started = time.monotonic()
    assert httpx.get(f"{sandbox.url}/open311/v2/services.json", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.9


def test_a_fault_with_seconds_turns_itself_off(sandbox, faults):
    faults(mode="500", seconds=0.5)
    assert httpx.get(f"{sandbox.url}/open311/v2/services.json", timeout=5).status_code == 500
    time.sleep(0.7)
    assert httpx.get(f"{sandbox.url}/open311/v2/services.json", timeout=5).status_code == 200
    assert httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()["mode"] == "none"
    tag = f"after-expiry {uuid.uuid4().hex}"
    assert file(sandbox, tag)["service_request_id"]
    assert len(stored_with(sandbox, tag)) == 1


def test_rate_zero_never_fires(sandbox, faults):
    faults(mode="500", rate=0.0)
    answers = {
        httpx.get(f"{sandbox.url}/open311/v2/services.json", timeout=5).status_code
        for _ in range(30)
    }
    assert answers == {200}
    assert file(sandbox, f"rate0 {uuid.uuid4().hex}")["service_request_id"]


def test_rate_hits_about_that_share():
    faults = Faults()
    faults.set("500", rate=0.3)
    hits = sum(faults.draw() is not None for _ in range(4000))
    assert 1000 < hits < 1400
    assert faults.state()["hits"]["500"] == hits == faults.state()["hits"]["500 GET"]


def test_admin_routes_are_never_hit(sandbox, faults):
    faults(mode="500")
    assert httpx.get(f"{sandbox.url}/admin/faults", timeout=5).status_code == 200
    search = httpx.get(
        f"{sandbox.url}/nominatim/search", params={"q": "120 Main St", "format": "json"}, timeout=5
    )
    assert search.status_code == 200


def test_cli_sets_a_running_sandboxs_fault(sandbox, faults):
    result = CliRunner().invoke(
        sandbox_cli,
        [
            "faults",
            "timeout",
            "--rate",
            "0.25",
            "--seconds",
            "60",
            "--delay",
            "3",
            "--url",
            sandbox.url,
        ],
    )
    assert result.exit_code == 0, result.output
    state = httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()
    assert state["mode"] == "timeout" and state["rate"] == 0.25 and state["delay"] == 3
    result = CliRunner().invoke(sandbox_cli, ["faults", "none", "--url", sandbox.url])
    assert result.exit_code == 0
    assert httpx.get(f"{sandbox.url}/admin/faults", timeout=5).json()["mode"] == "none"


def test_cli_says_when_no_sandbox_runs():
    result = CliRunner().invoke(sandbox_cli, ["faults", "500", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "Cannot reach the sandbox" in result.output
