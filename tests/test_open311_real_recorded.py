"""The client against answers recorded from real GeoReport v2 servers nobody here wrote.

Each fixture under tests/fixtures/open311/real/<server>/ is one exchange (our request, the
server's status, headers and body) recorded from 6aika/issue-reporting (Django REST framework)
and codefornl/open311-api (Node.js); their SOURCE.md files and docs/open311-servers.md say how.
A loopback server answers exactly as recorded, and the client must read it right.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from bot.open311.client import Open311Client, Open311Error
from bot.open311.profile import Profile
from sandbox.server import serve

REAL = Path(__file__).parent / "fixtures" / "open311" / "real"
DRF = "6aika-issue-reporting"
NODE = "codefornl-open311-api"
PREFIX = {DRF: "/api/georeport/v2", NODE: "/api/v2"}


class Replay:
    """Answers every request with one recorded exchange; keeps the paths it was asked."""

    def __init__(self) -> None:
        self.recorded: dict = {}
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        self.paths.append(environ["PATH_INFO"])
        answer = self.recorded
        headers = [
            (k, v)
            for k, v in answer["headers"].items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        start_response(f"{answer['status']} {answer['reason']}", headers)
        return [answer["body"].encode("utf-8")]


@pytest.fixture(scope="module")
def replay():
    app = Replay()
    server = serve(app)
    yield app, server
    server.stop()


def call(replay, server_name: str, fixture: str):
    """Make the recorded request with our client against the recorded answer; its result."""
    app, server = replay
    app.recorded = json.loads((REAL / server_name / fixture).read_text(encoding="utf-8"))
    app.paths.clear()
    request = app.recorded["request"]
    url = urlsplit(request["path"])
    resource = url.path.removeprefix(PREFIX[server_name] + "/")
    name, _, fmt = resource.rpartition(".")
    client = Open311Client(
        f"{server.url}{PREFIX[server_name]}/",
        api_key="recorded",
        timeout=5,
        profile=Profile(name="replay", format=fmt),
    )
    try:
        if request["method"] == "POST":
            form = dict(parse_qsl(request["body"]))
            form.pop("api_key", None)
            return client.create_request(form)
        if name == "services":
            return client.services()
        if name.startswith("requests/"):
            return client.request(name.removeprefix("requests/"))
        query = dict(parse_qsl(url.query))
        return client.requests(query["service_request_id"].split(","))
    finally:
        client.close()


@pytest.mark.parametrize(
    "server_name, fixture, number",
    [
        (DRF, "07-post-valid-json.json", None),
        (DRF, "08-post-valid-xml.json", None),
        (NODE, "07-post-valid-json.json", "1"),
        (NODE, "08-post-valid-xml.json", "2"),
    ],
)
def test_a_filed_report_gives_its_number(replay, server_name, fixture, number):
    answer = call(replay, server_name, fixture)
    assert answer["service_request_id"]
    assert number is None or answer["service_request_id"] == number


def test_issue_reporting_answers_a_post_with_the_whole_record(replay):
    answer = call(replay, DRF, "07-post-valid-json.json")
    assert len(answer["service_request_id"]) == 8 and answer["status"] == "open"
    assert answer["expected_datetime"]  # set at creation: the baseline, not news


@pytest.mark.parametrize(
    "server_name, fixture, reason",
    [
        (DRF, "11-post-invalid-api-key.json", "Invalid API key"),
        (DRF, "12-post-invalid-api-key-xml.json", "Invalid API key"),
        (NODE, "11-post-invalid-api-key.json", "No API key provided, contact the developers"),
        (NODE, "12-post-invalid-api-key-xml.json", "No API key provided, contact the developers"),
        (NODE, "13-post-no-api-key.json", "Missing API key, contact the developers"),
    ],
)
def test_a_refused_key_is_our_setup_with_the_citys_words(replay, server_name, fixture, reason):
    with pytest.raises(Open311Error) as info:
        call(replay, server_name, fixture)
    assert info.value.operator_error and not info.value.retryable
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "fixture, reason",
    [
        ("09-post-missing-service-code.json", "service_code: This field is required."),
        ("10-post-missing-description.json", "description: This field is required."),
        ("14-post-unknown-service.json", "Service code nosuchservice is invalid"),
        ("63-post-unknown-service-xml.json", "Service code nosuchservice is invalid"),
    ],
)
def test_a_refused_report_keeps_the_reason_drf_gives(replay, fixture, reason):
    with pytest.raises(Open311Error) as info:
        call(replay, DRF, fixture)
    assert not info.value.operator_error and not info.value.retryable
    assert reason in info.value.reason


def test_an_address_only_post_to_issue_reporting_is_a_server_error_page(replay):
    with pytest.raises(Open311Error) as info:
        call(replay, DRF, "15-post-address-string-only.json")
    # A 500 is retried, so a city running it needs location = "latlong" (its profile says so).
    assert info.value.status_code == 500 and info.value.retryable
    assert not info.value.structured


@pytest.mark.parametrize(
    "server_name, fixture, number, status",
    [
        (DRF, "19-get-one-json.json", None, "open"),
        (DRF, "20-get-one-xml.json", None, "open"),
        (DRF, "64-get-one-after-close-json.json", None, "closed"),
        (DRF, "65-get-one-after-close-xml.json", None, "closed"),
        (NODE, "19-get-one-json.json", "1", "open"),
        (NODE, "20-get-one-xml.json", "1", "open"),
        (NODE, "57-get-one-after-close-json.json", "1", "closed"),
        (NODE, "58-get-one-after-close-xml.json", "1", "closed"),
    ],
)
def test_one_request_is_read(replay, server_name, fixture, number, status):
    found = call(replay, server_name, fixture)
    assert found is not None and found["status"] == status
    assert number is None or found["service_request_id"] == number


@pytest.mark.parametrize(
    "server_name, fixture",
    [
        (DRF, "21-get-unknown-json.json"),
        (DRF, "22-get-unknown-numeric-json.json"),
        (DRF, "23-get-unknown-xml.json"),
        (NODE, "22-get-unknown-json.json"),
        (NODE, "23-get-unknown-numeric-json.json"),
        (NODE, "24-get-unknown-xml.json"),
    ],
)
def test_an_unknown_request_is_no_such_request(replay, server_name, fixture):
    assert call(replay, server_name, fixture) is None


@pytest.mark.parametrize(
    "server_name, fixture",
    [
        (DRF, "24-get-by-ids-json.json"),
        (DRF, "25-get-by-ids-xml.json"),
        (NODE, "25-get-by-ids-json.json"),
        (NODE, "26-get-by-ids-xml.json"),
    ],
)
def test_requests_by_ids_are_all_read(replay, server_name, fixture):
    found = call(replay, server_name, fixture)
    assert len(found) == 2 and all(r["service_request_id"] for r in found)


@pytest.mark.parametrize("server_name", [DRF, NODE])
@pytest.mark.parametrize("fixture_format", ["json", "xml"])
def test_services_are_read(replay, server_name, fixture_format):
    number = "03" if fixture_format == "json" else "04"
    services = call(replay, server_name, f"{number}-services-{fixture_format}.json")
    assert len(services) >= 3
    assert all(s["service_code"] and s["service_name"] for s in services)


def test_a_hidden_request_on_a_moderated_server_is_not_found(replay):
    assert call(replay, DRF, "moderation/02-unmoderated-get-one.json") is None
    assert call(replay, DRF, "moderation/03-unmoderated-get-by-id.json") == []


def test_the_client_asked_the_recorded_path(replay):
    call(replay, DRF, "20-get-one-xml.json")
    recorded = json.loads((REAL / DRF / "20-get-one-xml.json").read_text())["request"]["path"]
    assert replay[0].paths == [recorded]
