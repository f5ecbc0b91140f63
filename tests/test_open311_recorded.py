"""The client reading recorded payloads (the spec's, real cities', mySociety's) in JSON and XML,
and every error shape, served by a tiny WSGI app on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.open311.client import Open311Client, Open311Error, parse_datetime
from bot.open311.profile import Profile
from sandbox.server import serve

FIXTURES = Path(__file__).parent / "fixtures" / "open311"
XML = Profile(name="xmlcity", format="xml")
JSON = Profile(name="jsoncity", format="json")
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Recorded:
    """Answers every call with one (status, body, content type); records the calls."""

    def __init__(self):
        self.answer = ("200 OK", b"[]", "application/json")
        self.calls: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.calls.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": parse_qs(environ.get("QUERY_STRING", "")),
                "form": parse_qs(environ["wsgi.input"].read(length).decode()) if length else {},
            }
        )
        status, body, content_type = self.answer
        start_response(status, [("Content-Type", content_type)])
        return [body]


@pytest.fixture(scope="module")
def server():
    app = Recorded()
    running = serve(app)
    yield app, running
    running.stop()


@pytest.fixture
def city(server):
    """city(status, body, profile) -> (recording app, client)."""
    app, running = server
    clients = []

    def start(status: str, body: bytes, profile: Profile = XML, **kwargs):
        app.answer = (status, body, CONTENT_TYPES[profile.format])
        app.calls.clear()
        client = Open311Client(f"{running.url}/v2/", profile=profile, timeout=3, **kwargs)
        clients.append(client)
        return app, client

    yield start
    for client in clients:
        client.close()


# -- XML payloads ---------------------------------------------------------------------------


def test_spec_services_xml(city):
    app, client = city("200 OK", fixture("spec_services.xml"))
    services = client.services()
    assert [s["service_code"] for s in services] == ["001", "002", "003"]
    assert all(s["metadata"] is True for s in services)
    assert services[1]["service_name"] == "Construction plate shifted"
    assert app.calls[0]["path"] == "/v2/services.xml"


def test_spec_definition_xml_is_typed_like_json(city):
    _, client = city("200 OK", fixture("spec_service_definition.xml"))
    definition = client.service_definition("DMV66")
    [attr] = definition["attributes"]
    assert definition["service_code"] == "DMV66"
    assert attr["required"] is True and attr["variable"] is True and attr["order"] == 1
    assert attr["datatype_description"] is None
    assert attr["values"] == [{"key": "123", "name": "Ford"}, {"key": "124", "name": "Chrysler"}]


def test_xml_and_json_definitions_agree(city):
    _, xml_client = city("200 OK", fixture("spec_service_definition.xml"))
    from_xml = xml_client.service_definition("DMV66")
    _, json_client = city("200 OK", fixture("spec_service_definition.json"), JSON)
    assert json_client.service_definition("DMV66") == from_xml


def test_spec_post_answer_xml(city):
    app, client = city("200 OK", fixture("spec_post_response.xml"), api_key="k-1")
    filed = client.create_request({"service_code": "001", "lat": 37.76, "long": -122.42})
    assert filed["service_request_id"] == "293944" and filed["account_id"] is None
    assert filed["service_notice"].startswith("The City will inspect")
    assert app.calls[0]["path"] == "/v2/requests.xml"
    assert app.calls[0]["form"]["api_key"] == ["k-1"]


def test_spec_token_xml(city):
    _, client = city("200 OK", fixture("spec_token.xml"))
    assert client.token("12345") == {"service_request_id": "638344", "token": "12345"}


def test_spec_requests_xml_empty_elements_are_none(city):
    _, client = city("200 OK", fixture("spec_requests.xml"))
    found = client.requests(["638344", "638349"])
    assert [r["service_request_id"] for r in found] == ["638344", "638349"]
    first = found[0]
    assert first["service_code"] == "006" and first["zipcode"] == "94122"
    assert first["description"] is None and found[1]["status_notes"] is None
    assert first["lat"] == pytest.approx(37.762221815) and isinstance(first["long"], float)
    assert first["media_url"].endswith("638344.jpg")


def test_one_element_xml_list_is_still_a_list(city):
    _, client = city("200 OK", fixture("spec_request_one.xml"))
    assert len(client.requests(["638344"])) == 1
    assert client.request("638344")["status_notes"] == "Duplicate request."


def test_json_and_xml_requests_agree_on_ids_and_dates(city):
    _, xml_client = city("200 OK", fixture("spec_requests.xml"))
    from_xml = xml_client.requests(["638344", "638349"])
    _, json_client = city("200 OK", fixture("spec_requests.json"), JSON)
    from_json = json_client.requests(["638344", "638349"])
    for a, b in zip(from_xml, from_json, strict=True):
        assert a["service_request_id"] == b["service_request_id"]
        assert a["address_id"] == b["address_id"] == "545483"
        assert parse_datetime(a["requested_datetime"]) == parse_datetime(b["requested_datetime"])


def test_dates_keep_their_zone():
    when = parse_datetime("2010-04-14T06:37:38-08:00")
    assert when.utcoffset() == timedelta(hours=-8)
    assert when == datetime(2010, 4, 14, 14, 37, 38, tzinfo=UTC)
    assert parse_datetime("2025-12-02T09:46:55Z").tzinfo is not None
    assert parse_datetime("2014-08-19T12:38:50-0500").utcoffset() == timedelta(hours=-5)
    assert parse_datetime("2014-08-19 12:38:50").tzinfo == UTC
    assert parse_datetime("") is None and parse_datetime(None) is None
    assert parse_datetime("last tuesday") is None


def test_chicago_ids_stay_strings_in_xml_too(city):
    body = (
        b"<service_requests><request><service_request_id>14-01100669</service_request_id>"
        b"<service_code>001</service_code><attributes><WHATISTH>X</WHATISTH></attributes>"
        b"</request></service_requests>"
    )
    _, client = city("200 OK", body)
    [found] = client.requests(["14-01100669"])
    assert found["service_request_id"] == "14-01100669" and found["service_code"] == "001"
    assert found["attributes"] == {"WHATISTH": "X"}


def test_toronto_style_wrapped_json_list(city):
    body = b'{"service_requests": [{"service_request_id": 101, "service_code": "CSROSC-14"}]}'
    _, client = city("200 OK", body, JSON)
    assert client.requests(["101"]) == [{"service_request_id": "101", "service_code": "CSROSC-14"}]


def test_requests_without_an_id_yet_are_skipped(city):
    # Chicago: "ignore any service requests returned by the API until they have a
    # service_request_id".
    body = b'[{"token": "abc", "status": "open"}, {"service_request_id": "14-1", "status": "open"}]'
    _, client = city("200 OK", body, JSON)
    assert [r["service_request_id"] for r in client.requests(["14-1"])] == ["14-1"]


def test_mysociety_updates_xml(city):
    profile = Profile(name="fms", format="xml", updates=True)
    app, client = city(
        "200 OK", fixture("mysociety_servicerequestupdates.xml"), profile, api_key="upd-key"
    )
    since = datetime(2025, 12, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    updates = client.service_request_updates(since)
    assert [u["update_id"] for u in updates] == ["FMS-01_14", "FMS-03_12"]
    assert updates[0]["description"] is None and updates[0]["media_url"] is None
    assert updates[1]["status"] == "closed" and "\n" in updates[1]["description"]
    assert updates[0]["external_status_code"] == "DR02"
    call = app.calls[0]
    assert call["path"] == "/v2/servicerequestupdates.xml"
    assert call["query"]["start_date"] == ["2025-12-02T09:00:00+01:00"]
    assert call["query"]["api_key"] == ["upd-key"]


def test_one_update_is_a_list(city):
    profile = Profile(name="fms", format="xml", updates=True)
    _, client = city("200 OK", fixture("mysociety_servicerequestupdates_one.xml"), profile)
    assert client.service_request_updates(datetime(2025, 1, 1, tzinfo=UTC)) == [
        {"update_id": "248"}
    ]


def test_updates_need_the_extension(city):
    _, client = city("200 OK", b"[]", JSON)
    with pytest.raises(Open311Error, match="no servicerequestupdates") as info:
        client.service_request_updates(datetime(2025, 1, 1, tzinfo=UTC))
    assert info.value.retryable is False


def test_discovery_xml(city):
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><discovery><changeset>2011-04-05T17:48:34Z'
        b"</changeset><contact>You can email or call for assistance</contact><endpoints>"
        b"<endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>"
        b"<url>https://open311.sfgov.org/v2</url><changeset>2011-04-20T17:48:34Z</changeset>"
        b"<type>production</type><formats><format>text/xml</format></formats></endpoint>"
        b"</endpoints></discovery>"
    )
    app, client = city("200 OK", body)
    found = client.discovery()
    assert app.calls[0]["path"] == "/v2/discovery.xml"
    assert found["endpoints"][0]["formats"] == ["text/xml"]
    assert found["endpoints"][0]["type"] == "production"


# -- errors in both formats ----------------------------------------------------------------


@pytest.mark.parametrize("profile", [XML, JSON], ids=["xml", "json"])
def test_spec_403_is_permanent_and_read(city, profile):
    _, client = city("403 Forbidden", fixture(f"spec_error_403.{profile.format}"), profile)
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "001", "address_string": "1 Main St"})
    err = info.value
    assert err.status_code == 403 and err.retryable is False
    assert err.errors[0]["code"] == "403" and "api_key" in err.errors[0]["description"]


ERROR_400 = {
    "xml": b"<errors><error><code>400</code><description>service_code missing</description>"
    b"</error><error><code>400</code><description>lat out of range</description>"
    b"</error></errors>",
    "json": b'[{"code":400,"description":"service_code missing"},'
    b'{"code":400,"description":"lat out of range"}]',
}
ERROR_500 = {
    "xml": b"<errors><error><code>500</code><description>CRM down</description></error></errors>",
    "json": b'{"errors": [{"code": "500", "description": "CRM down"}]}',
}


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_error_lists_with_200_are_errors(city, fmt):
    profile = XML if fmt == "xml" else JSON
    _, client = city("200 OK", ERROR_400[fmt], profile)
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.status_code == 200 and info.value.retryable is False
    assert [e["description"] for e in info.value.errors] == [
        "service_code missing",
        "lat out of range",
    ]
    _, client = city("200 OK", ERROR_500[fmt], profile)
    with pytest.raises(Open311Error) as info:
        client.requests(["1"])
    assert info.value.retryable is True and info.value.errors[0]["code"] == "500"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        ("400 Bad Request", False),
        ("404 Not Found", False),
        ("429 Too Many Requests", True),
        ("500 Internal Server Error", True),
        ("502 Bad Gateway", True),
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_statuses_with_error_lists(city, fmt, status, retryable):
    profile = XML if fmt == "xml" else JSON
    _, client = city(status, ERROR_400[fmt], profile)
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.retryable is retryable and info.value.status_code == int(status[:3])
    assert len(info.value.errors) == 2


@pytest.mark.parametrize(
    ("profile", "body"),
    [
        (XML, b"<service_requests><request><service_request_id>1</request>"),
        (JSON, b'[{"service_request_id": "1",'),
        (XML, b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'),
        (XML, b""),
    ],
    ids=["broken-xml", "broken-json", "doctype", "empty"],
)
def test_malformed_bodies_are_retryable(city, profile, body):
    _, client = city("200 OK", body, profile)
    with pytest.raises(Open311Error) as info:
        client.requests(["1"])
    assert info.value.retryable is True and "not valid" in str(info.value)


def test_unknown_request_is_none_in_xml(city):
    body = b"<errors><error><code>404</code><description>not found</description></error></errors>"
    _, client = city("404 Not Found", body)
    assert client.request("2026-000001") is None
    assert client.token("abc") is None
