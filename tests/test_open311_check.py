"""`intake311 open311 check` against sandboxes started with real servers' quirks, and against a
scripted server (httpx.MockTransport) for what the sandbox never does."""

from __future__ import annotations

import threading
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.open311.check import CheckOptions, error_shape, id_kind, run_check
from bot.open311.client import Open311Client
from bot.open311.profile import Profile, load_profile, profile_from_dict
from bot.sandbox.app import create_sandbox_app
from bot.sandbox.server import serve
from bot.settings import get_settings

STREET_SWEEPING = "001"  # metadata false: no attributes needed to seed requests


@pytest.fixture(scope="module")
def servers():
    """Every sandbox this module starts, stopped together at its end (a stop takes 0.5 s)."""
    running: list = []
    yield running
    stopping = [threading.Thread(target=s.stop) for s in running]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


@pytest.fixture
def city(tmp_path, servers):
    """city(seed=3, api_key="", **switches) -> the endpoint of a sandbox holding `seed` requests."""

    def start(seed: int = 3, api_key: str = "", **switches) -> str:
        db = tmp_path / f"{len(servers)}-{time.time()}.sqlite3"
        server = serve(create_sandbox_app(str(db), api_key=api_key, **switches))
        servers.append(server)
        endpoint = f"{server.url}/open311/v2/"
        xml_only = switches.get("formats") == "xml"
        profile = load_profile("sandbox_xml" if xml_only else "sandbox")
        with Open311Client(endpoint, api_key=api_key, profile=profile) as client:
            for n in range(seed):
                client.create_request(
                    {
                        "service_code": STREET_SWEEPING,
                        "description": f"seeded {n}",
                        "lat": 39.8,
                        "long": -89.645,
                    }
                )
        return endpoint

    return start


def check(endpoint: str, tmp_path: Path, *args: str) -> tuple[Result, Profile, str]:
    """Run the command with --write; the result, the written profile and its text."""
    out = tmp_path / "city.toml"
    result = CliRunner().invoke(main, ["open311", "check", endpoint, *args, "--write", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    text = out.read_text(encoding="utf-8")
    assert text in result.output
    return result, profile_from_dict(tomllib.loads(text), name="city"), text


def posts(endpoint: str) -> list[dict]:
    """The POSTs the sandbox received (its admin route)."""
    admin = endpoint.split("/open311/")[0] + "/admin/posts"
    return httpx.get(admin).json()


def test_xml_only_drf_server_gets_format_xml(city, tmp_path):
    endpoint = city(formats="xml", accept_only="application/xml", list_root="requests")
    result, profile, text = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert "warn  services (JSON)" in result.output
    assert "ok    services (XML)" in result.output
    assert "application/xml" in result.output
    assert "XML <requests>, not the spec's <service_requests>" in result.output
    assert profile.format == "xml"
    assert "JSON does not work here" in text


def test_json_wrapped_lists_are_reported(city, tmp_path):
    endpoint = city(json_wrap="results")
    result, profile, text = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert 'a JSON object with "results"' in result.output
    assert profile.format == "json"
    assert tomllib.loads(text) == {"format": "json"}


def test_wrong_api_key_fails_with_the_citys_reason(city, tmp_path):
    endpoint = city(api_key="right-key", error_shape="drf-code")
    result, profile, _ = check(
        endpoint, tmp_path, "--profile", "sandbox", "--post", "--api-key", "wrong-key"
    )
    assert result.exit_code == 1, result.output
    assert "fail  api key" in result.output
    assert "Invalid api_key" in result.output
    assert "wrong-key" not in result.output
    assert profile.format == "json"
    assert [p["service_request_id"] for p in posts(endpoint)[3:]] == [None]


def test_incomplete_post_is_refused_and_stores_nothing(city, tmp_path):
    endpoint = city(api_key="right-key", error_shape="drf-code")
    result, _, _ = check(
        endpoint, tmp_path, "--profile", "sandbox", "--post", "--api-key", "right-key"
    )
    assert result.exit_code == 0, result.output
    assert "ok    incomplete POST  (refused: HTTP 400" in result.output
    assert '{"code", "detail"} (Django REST framework)' in result.output
    assert "service_code is required" in result.output
    assert "skip  address-only POST" in result.output
    probe = posts(endpoint)[3:]
    assert len(probe) == 1 and probe[0]["service_request_id"] is None
    form = probe[0]["form"]
    assert not {"service_code", "lat", "long", "address_string", "address_id"} & set(form)


def test_without_post_nothing_is_posted(city, tmp_path):
    endpoint = city(seed=0)
    result, _, _ = check(endpoint, tmp_path, "--profile", "sandbox")
    assert "skip  POST  (not tried" in result.output
    assert posts(endpoint) == []


def test_paging_server_gets_page_size_and_404_past_the_end(city, tmp_path):
    endpoint = city(page_size=2, page_past_end="404")
    result, profile, text = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert "ok    past the last page  (HTTP 404: 404: Invalid page." in result.output
    assert profile.page_size == 50
    assert "# the server pages" in text


def test_letter_ids_and_expected_datetime_are_reported(city, tmp_path):
    endpoint = city(id_style="letters", expected_on_create=48)
    result, profile, _ = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert "letters (no digits)" in result.output
    assert "expected_datetime  (set in 3 of 3 records)" in result.output
    assert "unknown request id  (no such request (HTTP 404))" in result.output
    assert profile.page_size is None


def test_moderated_server_lists_nothing_and_says_why(city, tmp_path):
    endpoint = city(moderated=True)
    result, profile, _ = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert "warn  requests of the last 30 days  (none listed" in result.output
    assert "until staff approve them" in result.output
    assert "warn  paging  (can't tell" in result.output
    assert profile.format == "json" and profile.page_size is None


def test_web_page_for_an_unknown_id_is_a_warning(city, tmp_path):
    endpoint = city(seed=1, error_shape="html")
    result, _, _ = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert "warn  unknown request id  (HTTP 404 (a web page" in result.output


def test_a_profiles_own_keys_are_kept_and_paging_dropped(city, tmp_path):
    endpoint = city()  # no paging, no updates
    result, profile, text = check(endpoint, tmp_path, "--profile", "chicago")
    assert result.exit_code == 0, result.output
    assert profile.page_size is None
    assert profile.params == {"extensions": "true"}
    assert profile.location == "both" and profile.jurisdiction_id == "cityofchicago.org"
    assert '# from the chicago profile\nlocation = "both"' in text


def test_updates_are_suggested_when_served(city, tmp_path):
    endpoint = city(seed=0, updates=True)
    result, profile, _ = check(
        endpoint, tmp_path, "--profile", "sandbox", "--jurisdiction", "x.gov"
    )
    assert result.exit_code == 0, result.output
    assert profile.updates is True
    assert profile.jurisdiction_id == "x.gov"


def test_defaults_come_from_the_settings(city, tmp_path, monkeypatch):
    endpoint = city(seed=0, formats="xml")
    monkeypatch.setenv("OPEN311_ENDPOINT", endpoint)
    monkeypatch.delenv("OPEN311_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["open311", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"checking {endpoint} (starting from the generic profile)" in result.output
    assert 'format = "xml"' in result.output


def test_unreachable_server_fails(tmp_path):
    result = CliRunner().invoke(
        main, ["open311", "check", "http://127.0.0.1:9/open311/v2/", "--timeout", "2"]
    )
    assert result.exit_code == 1
    assert "fail  format" in result.output
    assert "skip  the other checks" in result.output


# -- a scripted server for what the sandbox never does ---------------------------------------

_RECORDS = b"""<service_requests>
<request><service_request_id>1</service_request_id><device_id>abc</device_id>
<requested_datetime>2020-01-01T00:00:00Z</requested_datetime></request>
<request><service_request_id>2</service_request_id><device_id></device_id>
<requested_datetime>2020-01-02T00:00:00Z</requested_datetime></request>
</service_requests>"""


def _scripted(request: httpx.Request) -> httpx.Response:
    """A DRF-like server: JSON refused with a 406, device_id listed, start_date ignored."""
    path = request.url.path
    if path.endswith(".json"):
        return httpx.Response(406, json={"detail": "Could not satisfy the request Accept header."})
    if path.endswith("/services.xml"):
        return httpx.Response(
            200,
            content=b"<services><service><service_code>1</service_code><metadata>false"
            b"</metadata></service></services>",
            headers={"content-type": "application/xml"},
        )
    if path.endswith("/requests.xml"):
        return httpx.Response(200, content=_RECORDS, headers={"content-type": "application/xml"})
    return httpx.Response(404, html="<html><h1>Not Found</h1></html>")


def test_scripted_server_406_device_id_and_ignored_start_date():
    result = run_check(
        CheckOptions(endpoint="http://city.test/v2/", profile=load_profile("sandbox")),
        transport=httpx.MockTransport(_scripted),
    )
    lines = "\n".join(f.line() for f in result.findings)
    assert "warn  services (JSON)  (HTTP 406 for Accept: application/json" in lines
    assert "warn  discovery  (none: HTTP 404" in lines
    assert result.profile.format == "xml"
    assert result.profile.marker_in == "device_id"
    assert result.profile.marker_search is False
    assert "warn  start_date" in lines
    parsed = profile_from_dict(tomllib.loads(result.toml()))
    assert (parsed.format, parsed.marker_in, parsed.marker_search) == ("xml", "device_id", False)
    assert not result.failed


@pytest.mark.parametrize(
    ("rid", "kind"),
    [
        ("123", "digits"),
        ("2026-000123", "dashed"),
        ("nnxoxfvi", "letters (no digits)"),
        ("9x4y9we7", "letters and digits"),
    ],
)
def test_id_kinds(rid, kind):
    assert id_kind(rid) == kind


def test_error_shapes():
    def shape(body: bytes, content_type: str = "application/json") -> str:
        from bot.open311.check import Exchange

        return error_shape(Exchange("POST", "u", "", 400, content_type, {}, body))

    assert shape(b'[{"code": 400, "description": "x"}]') == 'the spec\'s [{"code", "description"}]'
    assert shape(b'{"detail": "x"}') == '{"detail"} (Django REST framework)'
    assert shape(b'{"service_code": ["x"]}') == '{"service_code"}'
    assert shape(b"<errors><error/></errors>", "text/xml") == "the spec's XML <errors>"
    assert shape(b"<!doctype html><h1>x</h1>", "text/html") == "an HTML page"
    assert shape(b"Bad request", "text/plain") == "plain text"


def _backwards_dates(request: httpx.Request) -> httpx.Response:
    """open311-api's date filter (docs/open311-servers.md): start_date=X lists requests *before*
    X, so "since a month ago" is empty while the undated list holds today's requests."""
    path = request.url.path
    if path.endswith("/services.json"):
        return httpx.Response(200, json=[{"service_code": 5, "service_name": "Noise"}])
    if path.endswith("/requests.json"):
        if "start_date" in request.url.params:
            return httpx.Response(200, json=[])
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        return httpx.Response(
            200, json=[{"service_request_id": 11, "status": "open", "requested_datetime": now}]
        )
    return httpx.Response(404, json={"message": "GET endpoint not available"})


def test_a_date_filter_that_runs_backwards_turns_the_marker_search_off():
    result = run_check(
        CheckOptions(endpoint="http://city.test/v2/", profile=load_profile("sandbox")),
        transport=httpx.MockTransport(_backwards_dates),
    )
    lines = "\n".join(f.line() for f in result.findings)
    assert "none listed with start_date, but 1 newer listed without it" in lines
    assert result.profile.marker_search is False
    assert "request ids  (digits" in lines
