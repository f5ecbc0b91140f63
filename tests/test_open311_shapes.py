"""What real GeoReport v2 servers answer beyond the spec's shapes: the client reads it all.

The shapes come from Django REST framework servers (DRF's content negotiation, error and
pagination answers) and from the servers listed in docs/open311-servers.md.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from bot.open311.client import Open311Client, Open311Error
from sandbox.server import serve

KEY = "k3y-that-must-not-leak"


class Routed:
    """A WSGI app answering with `handler(call)` -> (status, content type, body); records calls."""

    def __init__(self, handler):
        self.handler = handler
        self.calls: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        call = {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "accept": environ.get("HTTP_ACCEPT", ""),
            "query": parse_qs(environ.get("QUERY_STRING", "")),
            "form": parse_qs(environ["wsgi.input"].read(length).decode()) if length else {},
        }
        self.calls.append(call)
        status, content_type, body = self.handler(call)
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        start_response(status, [("Content-Type", content_type)])
        return [body]


@pytest.fixture
def server():
    servers = []

    def start(handler, profile=None):
        app = Routed(handler)
        running = serve(app)
        servers.append(running)
        client = Open311Client(f"{running.url}/v2", api_key=KEY, timeout=3, profile=profile)
        return app, client

    yield start
    for running in servers:
        running.stop()


XML_REQUESTS = (
    b'<?xml version="1.0" encoding="utf-8"?><requests><request>'
    b"<service_request_id>nnxoxfvi</service_request_id><status>open</status></request>"
    b"<request><service_request_id>abc</service_request_id><status>closed</status></request>"
    b"</requests>"
)


def test_xml_is_asked_for_as_application_xml_and_text_xml(server):
    app, client = server(lambda call: ("200 OK", "application/xml", XML_REQUESTS), "generic")
    client.requests(["nnxoxfvi"])
    assert "application/xml" in app.calls[0]["accept"]
    assert "text/xml" in app.calls[0]["accept"]


def test_a_406_is_tried_once_in_the_other_format_and_kept(server, caplog):
    def handler(call):
        if call["path"].endswith(".xml"):
            return "406 Not Acceptable", "application/json", {"detail": "Could not satisfy"}
        return "200 OK", "application/json", [{"service_code": "1", "service_name": "Pothole"}]

    app, client = server(handler, "generic")
    assert client.services()[0]["service_name"] == "Pothole"
    assert client.format == "json" and client.format_switched
    client.services()
    assert [c["path"] for c in app.calls] == [
        "/v2/services.xml",
        "/v2/services.json",
        "/v2/services.json",
    ]
    assert 'format = "json"' in caplog.text


def test_a_406_in_both_formats_is_an_error_for_staff(server):
    _, client = server(lambda call: ("406 Not Acceptable", "text/plain", b"Not Acceptable"))
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.operator_error and "Not Acceptable" in str(info.value)


def test_xml_lists_under_any_root_element_are_read(server):
    _, client = server(lambda call: ("200 OK", "application/xml", XML_REQUESTS), "generic")
    found = client.requests(["nnxoxfvi", "abc"])
    assert [(r["service_request_id"], r["status"]) for r in found] == [
        ("nnxoxfvi", "open"),
        ("abc", "closed"),
    ]


def test_drf_xml_list_items_are_read(server):
    body = (
        b"<root><list-item><service_request_id>7</service_request_id></list-item>"
        b"<list-item><token>t-1</token></list-item></root>"
    )
    _, client = server(lambda call: ("201 Created", "application/xml", body), "generic")
    assert client.create_request({"service_code": "1", "lat": 1, "long": 2}) == {
        "service_request_id": "7"
    }


@pytest.mark.parametrize("wrapper", ["requests", "results", "service_requests"])
def test_json_lists_wrapped_in_an_object_are_read(server, wrapper):
    body = {wrapper: [{"service_request_id": 5, "status": "open"}], "count": 1}
    _, client = server(lambda call: ("200 OK", "application/json", body))
    assert client.request("5") == {"service_request_id": "5", "status": "open"}


REFUSED_KEY = [
    ("400 Bad Request", {"code": 400, "detail": ["Invalid API key"]}, "Invalid API key"),
    ("403 Forbidden", {"detail": "Invalid API key."}, "Invalid API key."),
    ("401 Unauthorized", {"message": "Authentication required"}, "Authentication required"),
    (
        "403 Forbidden",
        [{"code": 403, "description": "Invalid api_key"}],
        "Invalid api_key",
    ),
    ("400 Bad Request", {"jurisdiction_id": ["Unknown jurisdiction"]}, "Unknown jurisdiction"),
]


@pytest.mark.parametrize("status, body, reason", REFUSED_KEY)
def test_a_refused_key_is_a_setup_failure_with_the_citys_words(server, status, body, reason):
    _, client = server(lambda call: (status, "application/json", body))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "1", "lat": 1, "long": 2})
    assert info.value.operator_error
    assert not info.value.retryable and not info.value.uncertain
    assert reason in str(info.value) and reason in info.value.reason


REPORT_REFUSED = [
    ({"service_code": ["This field is required."]}, "service_code: This field is required."),
    ({"non_field_errors": ["Location is outside the city"]}, "Location is outside the city"),
    ({"detail": "Description too long"}, "Description too long"),
    ({"message": "Invalid location"}, "Invalid location"),
    (["lat: out of range"], "lat: out of range"),
]


@pytest.mark.parametrize("body, reason", REPORT_REFUSED)
def test_a_refused_report_keeps_the_citys_reason(server, body, reason):
    _, client = server(lambda call: ("400 Bad Request", "application/json", body))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "1", "lat": 1, "long": 2})
    assert not info.value.operator_error and not info.value.retryable
    assert info.value.errors[0]["description"] == reason


@pytest.mark.parametrize(
    "content_type, body, reason",
    [
        ("text/plain", b"Service unavailable: maintenance", "Service unavailable: maintenance"),
        (
            "text/html",
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
            "502 Bad Gateway",
        ),
        (
            "text/html",
            b"<html><body><h1>400 Bad Request</h1><p>jurisdiction_id &amp; key</p></body></html>",
            "400 Bad Request: jurisdiction_id & key",
        ),
    ],
)
def test_text_and_html_error_pages_give_their_gist(server, content_type, body, reason):
    _, client = server(lambda call: ("503 Service Unavailable", content_type, body))
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.retryable and info.value.reason == f"503: {reason}"


def test_the_api_key_is_blanked_when_a_server_echoes_it(server):
    body = {"detail": f"Invalid API key {KEY}"}
    _, client = server(lambda call: ("400 Bad Request", "application/json", body))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "1", "lat": 1, "long": 2})
    assert KEY not in str(info.value) and KEY not in info.value.reason
    assert "[api key]" in info.value.reason


@pytest.mark.parametrize(
    "status, content_type, body",
    [
        ("404 Not Found", "application/json", {"detail": "Not found."}),
        ("404 Not Found", "application/xml", b"<root><detail>Not found.</detail></root>"),
        ("404 Not Found", "application/json", [{"code": 404, "description": "not found"}]),
    ],
)
def test_a_404_from_the_application_is_no_such_request(server, status, content_type, body):
    _, client = server(lambda call: (status, content_type, body))
    assert client.request("nnxoxfvi") is None


def test_a_404_web_page_is_a_wrong_endpoint_not_an_unknown_request(server):
    page = b"<!DOCTYPE html><html><title>Not Found</title></html>"
    _, client = server(lambda call: ("404 Not Found", "text/html", page))
    with pytest.raises(Open311Error) as info:
        client.request("1")
    assert info.value.operator_error and not info.value.structured


def _pages(size, total, past_end):
    """Pages of `size` over `total` requests; past the last, `past_end` (status, body)."""

    def handler(call):
        page = int(call["query"].get("page", ["1"])[0])
        items = [{"service_request_id": f"r{i}"} for i in range(total)]
        chunk = items[(page - 1) * size : page * size]
        if not chunk and page > 1:
            return past_end[0], "application/json", past_end[1]
        return "200 OK", "application/json", chunk

    return handler


@pytest.mark.parametrize(
    "past_end",
    [
        ("404 Not Found", {"detail": "Invalid page."}),
        ("400 Bad Request", [{"code": 400, "description": "page out of range"}]),
        ("200 OK", []),
    ],
)
def test_paging_stops_past_the_last_page_and_keeps_what_was_read(server, past_end):
    from bot.open311.profile import Profile

    profile = Profile(name="paged", page_size=3)
    app, client = server(_pages(3, 6, past_end), profile)
    found = client.requests_query(service_code="1")
    assert [r["service_request_id"] for r in found] == [f"r{i}" for i in range(6)]
    assert len(app.calls) == 3


def test_paging_stops_at_a_short_page(server):
    from bot.open311.profile import Profile

    app, client = server(_pages(3, 5, ("500 Oops", {})), Profile(name="paged", page_size=3))
    assert len(client.requests_query(service_code="1")) == 5
    assert len(app.calls) == 2


def test_a_failure_on_the_first_page_is_still_an_error(server):
    from bot.open311.profile import Profile

    _, client = server(
        lambda call: ("404 Not Found", "application/json", {"detail": "Invalid page."}),
        Profile(name="paged", page_size=3),
    )
    with pytest.raises(Open311Error):
        client.requests_query(service_code="1")


def test_json_labelled_as_html_is_still_read(server):
    body = b'[{"service_request_id": "42", "status": "open"}]'
    _, client = server(lambda call: ("200 OK", "text/html; charset=utf-8", body))
    assert client.request("42") == {"service_request_id": "42", "status": "open"}
    assert client.create_request({"service_code": "1", "lat": 1, "long": 2}) == {
        "service_request_id": "42",
        "status": "open",
    }


def test_a_post_refused_with_406_is_not_posted_again_blind(server):
    def handler(call):
        if call["path"].endswith(".json"):
            return "406 Not Acceptable", "application/json", {"detail": "Not acceptable"}
        return "201 Created", "application/xml", XML_REQUESTS

    app, client = server(handler)
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "1", "lat": 1, "long": 2})
    # Some servers store before they refuse the format: the report is searched for first.
    assert info.value.uncertain and info.value.status_code == 406
    assert [c["method"] for c in app.calls] == ["POST"]
    # The next client for this endpoint in this process starts in the other format.
    again = Open311Client(client.endpoint, api_key=KEY, timeout=3)
    try:
        assert again.format == "xml"
        assert again.create_request({"service_code": "1", "lat": 1, "long": 2})
    finally:
        again.close()


@pytest.mark.parametrize(
    "status, description, setup",
    [
        ("400 Bad Request", "The location is outside the city jurisdiction", False),
        ("400 Bad Request", "Profanity is not allowed in the description", False),
        (
            "422 Unprocessable Entity",
            "You do not have permission to report on private property",
            False,
        ),
        ("429 Too Many Requests", "Rate limit exceeded for this API key", False),
        ("400 Bad Request", "jurisdiction_id was not provided", True),
        ("400 Bad Request", "Unknown jurisdiction", True),
        ("302 Found", "moved", True),
    ],
)
def test_only_our_setup_is_a_setup_failure(server, status, description, setup):
    body = {"detail": description}
    _, client = server(lambda call: (status, "application/json", body))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "1", "lat": 1, "long": 2})
    assert info.value.operator_error is setup


def test_a_record_with_a_field_named_like_a_record_stays_a_record(server):
    body = (
        b"<requests><request><service_request_id>3</service_request_id>"
        b"<service>Roads</service></request></requests>"
    )
    _, client = server(lambda call: ("200 OK", "application/xml", body), "generic")
    assert client.request("3") == {"service_request_id": "3", "service": "Roads"}


@pytest.mark.parametrize(
    "body, ids",
    [
        (
            b"<response><request><service_request_id>1</service_request_id></request>"
            b"<request><service_request_id>2</service_request_id></request><total>2</total>"
            b"</response>",
            ["1", "2"],
        ),
        (b"<root><count>0</count><next></next><results></results></root>", []),
    ],
)
def test_xml_wrappers_with_counts_are_read(server, body, ids):
    _, client = server(lambda call: ("200 OK", "application/xml", body), "generic")
    assert [r["service_request_id"] for r in client.requests(["1", "2"])] == ids


def test_an_empty_drf_page_is_no_such_request(server):
    body = {"count": 0, "next": None, "previous": None, "results": []}
    _, client = server(lambda call: ("200 OK", "application/json", body))
    assert client.request("1") is None


def test_a_web_page_past_the_first_page_is_an_error_not_the_end(server):
    from bot.open311.profile import Profile

    # A proxy's page is no word from the city that the list ended: a marker search must not
    # conclude from half a list that a report is not there.
    _, client = server(_html_on_page_2, Profile(name="paged", page_size=3))
    with pytest.raises(Open311Error):
        client.requests_query(service_code="1")


def _html_on_page_2(call):
    if call["query"].get("page") == ["2"]:
        return "404 Not Found", "text/html", b"<!DOCTYPE html><title>Not Found</title>"
    return "200 OK", "application/json", [{"service_request_id": f"r{i}"} for i in range(3)]
