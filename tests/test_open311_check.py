"""`intake311 open311 check` against sandboxes started with real servers' quirks, and against a
scripted server (httpx.MockTransport) for what the sandbox never does."""

from __future__ import annotations

import socket
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
from bot.settings import get_settings
from sandbox.app import create_sandbox_app
from sandbox.server import serve

STREET_SWEEPING = "001"  # metadata false: no attributes needed to seed requests


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


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unread(endpoint: str, tmp_path: Path, *args: str) -> Result:
    """Run the command on a server that cannot be read: a verdict, no profile, exit 1."""
    out = tmp_path / "city.toml"
    result = CliRunner().invoke(
        main, ["open311", "check", endpoint, "--profile", "sandbox", *args, "--write", str(out)]
    )
    assert isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    assert "skip  the other checks" in result.output
    assert "no suggested profile: nothing could be read" in result.output
    assert "format =" not in result.output and not out.exists()
    assert "note  moderation" not in result.output
    return result


def test_unreachable_server_fails_with_connection_refused(tmp_path):
    endpoint = f"http://127.0.0.1:{_free_port()}/open311/v2/"
    result = _unread(endpoint, tmp_path, "--timeout", "2")
    assert f"fail  server  (GET {endpoint}discovery.json: connection refused)" in result.output


def test_unknown_host_is_host_not_found(tmp_path):
    result = _unread("http://intake311-check.invalid/v2/", tmp_path, "--timeout", "2")
    assert "intake311-check.invalid/v2/discovery.json: host not found (DNS)" in result.output


def test_https_to_a_plain_http_server_is_a_tls_error(city, tmp_path):
    endpoint = city(seed=0).replace("http://", "https://")
    result = _unread(endpoint, tmp_path, "--timeout", "2")
    assert "TLS error (is it http:// rather than https://?)" in result.output


def test_a_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as sock:  # listens, never accepts: connects, then no answer
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}/v2/"
        result = _unread(endpoint, tmp_path, "--timeout", "0.2")
    assert (
        f"fail  service list  (GET {endpoint}services.json: timed out after 0.2 s "
        "(raise --timeout?))"
    ) in result.output


def test_a_wrong_path_has_no_service_list(city, tmp_path):
    endpoint = city(seed=0).replace("/open311/v2/", "/open311/v3/")
    result = _unread(endpoint, tmp_path)
    assert (
        f"fail  service list  (no Open311 service list at {endpoint}services.json (HTTP 404): "
        "check the path)"
    ) in result.output


def test_an_endpoint_without_a_scheme_asks_for_one(tmp_path):
    result = CliRunner().invoke(main, ["open311", "check", "127.0.0.1:8421/api/v2/"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "add http:// or https://" in result.output
    found = run_check(CheckOptions(endpoint="city.test/v2/", profile=load_profile("generic")))
    assert found.unread.endswith("add http:// or https://") and found.failed


def test_an_endpoint_with_a_query_is_refused_unechoed(tmp_path):
    endpoint = "http://127.0.0.1:8421/api/v2/?api_key=URLSECRET"
    result = CliRunner().invoke(main, ["open311", "check", endpoint])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "URLSECRET" not in result.output and "checking" not in result.output
    assert "http://127.0.0.1:8421/api/v2/ is followed by a query string" in result.output
    assert "--api-key" in result.output
    found = run_check(CheckOptions(endpoint=endpoint + "#x", profile=load_profile("generic")))
    assert found.failed and "URLSECRET" not in found.unread


@pytest.mark.parametrize("timeout", ["-1", "inf", "nan", "0", "601", "soon"])
def test_bad_timeouts_are_usage_errors(timeout):
    result = CliRunner().invoke(
        main, ["open311", "check", "http://127.0.0.1:9/v2/", "--timeout", timeout]
    )
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Invalid value for '--timeout'" in result.output
    assert "checking" not in result.output


@pytest.mark.parametrize("setting", ["-5", "nan", "inf"])
def test_a_bad_timeout_setting_is_a_clean_error(setting, tmp_path, monkeypatch):
    monkeypatch.setenv("OPEN311_TIMEOUT", setting)
    monkeypatch.chdir(tmp_path)  # no .env file
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["open311", "check", "http://127.0.0.1:9/v2/"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Error: the settings cannot be read: OPEN311_TIMEOUT: " in result.output
    assert "pydantic" not in result.output and "checking" not in result.output


def test_an_unwritable_write_path_still_prints_the_profile(city, tmp_path):
    endpoint = city(seed=0)
    out = tmp_path / "no-such-dir" / "city.toml"
    result = CliRunner().invoke(
        main, ["open311", "check", endpoint, "--profile", "sandbox", "--write", str(out)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert 'format = "json"' in result.output
    assert f"error: cannot write {out}: No such file or directory" in result.output
    assert "written to" not in result.output and not out.exists()


def test_an_html_error_page_keeps_its_reason_and_asks_for_the_jurisdiction(city, tmp_path):
    endpoint = city(seed=0, error_shape="html", require_jurisdiction="j1")
    result = _unread(endpoint, tmp_path)
    assert "fail  service list  (GET " in result.output
    assert "was refused: HTTP 400" in result.output
    assert "jurisdiction_id was not provided" in result.output
    assert "note  jurisdiction_id" in result.output and "--jurisdiction" in result.output
    wrong = _unread(endpoint, tmp_path, "--jurisdiction", "j2")
    assert "jurisdiction_id j2 not found" in wrong.output
    assert "check the jurisdiction_id given (j2)" in wrong.output
    assert "check the path" not in wrong.output
    right, profile, _ = check(endpoint, tmp_path, "--profile", "sandbox", "--jurisdiction", "j1")
    assert right.exit_code == 0, right.output
    assert profile.jurisdiction_id == "j1"
    assert "note  jurisdiction_id" not in right.output


def test_a_server_paging_by_default_has_its_lookup_called_one_page(city, tmp_path):
    endpoint = city(page_size=2)
    result, _, _ = check(endpoint, tmp_path, "--profile", "sandbox")
    assert result.exit_code == 0, result.output
    assert (
        "requests of the last 30 days  (2 listed: one page (the server pages by default; "
        "page_size=50 gave 3 on page 1) (a bare JSON list"
    ) in result.output
    assert "(3 on page 1 of page_size=50)" in result.output


def test_moderation_note_always_and_issue_reporting_signs(city, tmp_path):
    endpoint = city(
        id_style="letters",
        list_root="requests",
        page_size=2,
        page_past_end="404",
        error_shape="drf-code",
    )
    result, _, _ = check(endpoint, tmp_path, "--profile", "sandbox_xml")
    assert result.exit_code == 0, result.output
    assert (
        "note  moderation  (if the city's server hides new requests until staff approve them, "
        "set marker_search = false)"
    ) in result.output
    assert (
        "note  server  (looks like 6aika/issue-reporting: try --profile issue_reporting (it "
        'needs location = "latlong" and the address as `address`))'
    ) in result.output
    plain, _, _ = check(city(), tmp_path, "--profile", "sandbox")
    assert "note  moderation" in plain.output and "looks like" not in plain.output


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


_O311_RECORDS = b"""<?xml version='1.0'?>
<service_requests>
  <service_request><service_request_id>2</service_request_id><status>open</status>
  <requested_datetime>REQUESTED</requested_datetime></service_request>
  <service_request><service_request_id>1</service_request_id><status>open</status>
  <requested_datetime>REQUESTED</requested_datetime></service_request>
</service_requests>"""


def _open311_api_like(request: httpx.Request) -> httpx.Response:
    """codefornl/open311-api as recorded (docs/open311-servers.md): <service_request> items,
    200 with an empty list for an unknown id, a 400 SequelizeDatabaseError for any page."""
    path, params = request.url.path, request.url.params
    xml = {"content-type": "text/xml; charset=utf-8"}
    if path.endswith("/services.xml") or path.endswith("/services.json"):
        return httpx.Response(
            200,
            content=b"<services><service><service_code>5</service_code><metadata>false"
            b"</metadata></service></services>",
            headers=xml,
        )
    if "page" in params:
        return httpx.Response(
            400,
            content=b"<errors><error><code>400</code><description>SequelizeDatabaseError -- "
            b"ER_BAD_FIELD_ERROR</description></error></errors>",
            headers=xml,
        )
    if path.endswith("/requests.xml"):
        now = datetime.now(UTC).replace(microsecond=0).isoformat().encode()
        return httpx.Response(200, content=_O311_RECORDS.replace(b"REQUESTED", now), headers=xml)
    if "/requests/" in path:
        return httpx.Response(200, content=b"<service_requests/>", headers=xml)
    return httpx.Response(404, json={"message": "GET endpoint not available"})


def test_open311_api_signs_suggest_its_profile():
    def lines(profile: str) -> str:
        result = run_check(
            CheckOptions(endpoint="http://city.test/api/v2/", profile=load_profile(profile)),
            transport=httpx.MockTransport(_open311_api_like),
        )
        return "\n".join(f.line() for f in result.findings)

    generic = lines("generic")
    assert "note  server  (looks like codefornl/open311-api: try --profile open311_api)" in generic
    assert "note  moderation" in generic
    assert "looks like" not in lines("open311_api")
