"""Answers real servers give when things go wrong, and what the client makes of them."""

from __future__ import annotations

import pytest

from bot.open311.client import Open311Client, Open311Error
from sandbox.server import serve
from tests.test_open311_client import Canned

SERVICES_XML = (
    b'<?xml version="1.0" encoding="utf-8"?><services><service><service_code>001</service_code>'
    b"<service_name>Cans left out 24x7</service_name><metadata>false</metadata>"
    b"<type>realtime</type></service></services>"
)


class Headers(Canned):
    """Canned, with extra response headers."""

    def __init__(self, status, body, headers):
        super().__init__(status, body)
        self.extra = headers

    def __call__(self, environ, start_response):
        def start(status, headers):
            return start_response(status, headers + self.extra)

        return super().__call__(environ, start)


@pytest.fixture
def answering():
    servers = []

    def start(app, profile="sandbox"):
        server = serve(app)
        servers.append(server)
        return Open311Client(f"{server.url}/v2/", profile=profile, timeout=3)

    yield start
    for server in servers:
        server.stop()


def test_an_unreadable_answer_to_a_post_is_uncertain_not_retried(answering):
    client = answering(Canned("201 Created", b""))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "001", "address_string": "120 Main St"})
    assert info.value.uncertain and not info.value.retryable


def test_a_post_answer_without_id_or_token_is_uncertain(answering):
    client = answering(Canned("200 OK", b'[{"service_notice": "thanks"}]'))
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "001", "address_string": "120 Main St"})
    assert info.value.uncertain


def test_an_unreadable_answer_to_a_get_is_retryable(answering):
    client = answering(Canned("200 OK", b"<html>Service Unavailable"))
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.retryable and not info.value.uncertain


def test_a_body_that_fails_to_decode_is_an_open311_error(answering):
    client = answering(Headers("200 OK", b"not gzip at all", [("Content-Encoding", "gzip")]))
    with pytest.raises(Open311Error) as info:
        client.services()
    assert "unreadable answer" in str(info.value) and info.value.retryable


def test_a_redirect_is_a_setup_error(answering):
    client = answering(Headers("301 Moved Permanently", b"", [("Location", "https://x.test/")]))
    with pytest.raises(Open311Error) as info:
        client.services()
    assert not info.value.retryable and "OPEN311_ENDPOINT" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf" + SERVICES_XML, SERVICES_XML.decode().encode("utf-16")],
    ids=["utf-8 BOM", "utf-16"],
)
def test_xml_with_a_bom_or_in_utf16_is_read(answering, body):
    client = answering(Canned("200 OK", body, "text/xml"), profile="sandbox_xml")
    assert [s["service_code"] for s in client.services()] == ["001"]


def test_entities_are_refused_however_deep(answering):
    body = (
        b"<?xml version='1.0'?>" + b"<!--" + b"x" * 4000 + b"-->"
        b"<!DOCTYPE s [<!ENTITY a 'AAAA'>]><services>&a;</services>"
    )
    client = answering(Canned("200 OK", body, "text/xml"), profile="sandbox_xml")
    with pytest.raises(Open311Error) as info:
        client.services()
    assert "DOCTYPE" in str(info.value) or "not valid" in str(info.value)


@pytest.mark.parametrize("status, operator", [(403, True), (401, True), (404, True), (400, False)])
def test_refusals_of_our_setup_are_told_apart_from_refusals_of_a_report(status, operator):
    errors = [{"code": str(status), "description": "x"}]
    assert (
        Open311Error("x", retryable=False, status_code=status, errors=errors).operator_error
        is operator
    )
