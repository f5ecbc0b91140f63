"""The Open311 client against the served sandbox, recorded payloads and failing servers."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from bot.open311.client import Open311Client, Open311Error
from sandbox.app import create_sandbox_app
from sandbox.server import ServerThread, serve

FIXTURES = Path(__file__).parent / "fixtures" / "open311"
API_KEY = "s3cret-key-123"
POTHOLE = "4fd3b656e750846c53000004"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Canned:
    """A tiny WSGI app answering every call with one fixed response, recording what it got."""

    def __init__(self, status: str, body: bytes, content_type: str = "application/json"):
        self.status, self.body, self.content_type = status, body, content_type
        self.calls: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = environ["wsgi.input"].read(length).decode() if length else ""
        self.calls.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": parse_qs(environ.get("QUERY_STRING", "")),
                "form": parse_qs(form),
            }
        )
        start_response(self.status, [("Content-Type", self.content_type)])
        return [self.body]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sandbox")
    server = serve(create_sandbox_app(str(folder / "s.sqlite3"), api_key=API_KEY))
    yield server
    server.stop()


@pytest.fixture
def client(sandbox):
    c = Open311Client(f"{sandbox.url}/open311/v2/", api_key=API_KEY)
    yield c
    c.close()


@pytest.fixture(scope="module")
def canned_server():
    app = Canned("200 OK", b"[]")
    server = serve(app)
    yield app, server
    server.stop()


@pytest.fixture
def canned(canned_server):
    """Set the canned answer; returns (the recording app, a client pointed at it)."""
    app, server = canned_server
    clients = []

    def start(status: str, body: bytes, content_type: str = "application/json"):
        app.status, app.body, app.content_type = status, body, content_type
        app.calls.clear()
        client = Open311Client(f"{server.url}/open311/v2", api_key=API_KEY, timeout=3)
        clients.append(client)
        return app, client

    yield start
    for client in clients:
        client.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pothole(**extra) -> dict:
    fields = {
        "service_code": POTHOLE,
        "lat": 39.8,
        "long": -89.645,
        "description": "Deep pothole in the right lane",
        "attribute[WHEREIS]": "TRAFFIC",
        "attribute[HOWDEEP]": 4,
        "email": "resident@example.org",
    }
    fields.update(extra)
    return fields


# -- against the sandbox -------------------------------------------------------------------


def test_services_lists_the_catalogue_with_string_codes(client):
    services = client.services()
    codes = {s["service_code"] for s in services}
    assert {"001", "002", POTHOLE} <= codes
    assert all(isinstance(s["service_code"], str) for s in services)
    assert all(isinstance(s["metadata"], bool) for s in services)
    trash = next(s for s in services if s["service_code"] == "001")
    assert trash["service_name"] == "Missed Trash Pickup"
    assert "garbage" in trash["keywords"] and trash["group"] == "Sanitation"
    assert sum(s["metadata"] for s in services) == 4


def test_service_definition_has_ordered_attributes(client):
    definition = client.service_definition(POTHOLE)
    assert definition["service_code"] == POTHOLE
    codes = [a["code"] for a in definition["attributes"]]
    assert codes == ["WHEREIS", "HOWDEEP", "NOTICED"]
    where = definition["attributes"][0]
    assert where["datatype"] == "singlevaluelist" and where["required"] is True
    assert {"key": "TRAFFIC", "name": "Traffic lane"} in where["values"]


def test_post_then_get_round_trip(client):
    filed = client.create_request(pothole())
    rid = filed["service_request_id"]
    assert isinstance(rid, str) and len(rid) == 11 and rid[4] == "-"
    assert "repaired within 7 days" in filed["service_notice"]
    got = client.request(rid)
    assert got["service_request_id"] == rid
    assert got["status"] == "open"
    assert got["service_code"] == POTHOLE and got["service_name"] == "Pothole in Street"
    assert got["description"] == "Deep pothole in the right lane"
    assert got["lat"] == pytest.approx(39.8) and got["long"] == pytest.approx(-89.645)
    assert got["address"].endswith("Main Street") and got["zipcode"] == "62701"
    assert got["requested_datetime"][-6:] == "-06:00"
    assert "email" not in got  # personal data is not published


def test_bulk_get_returns_every_asked_id(client):
    ids = [client.create_request(pothole())["service_request_id"] for _ in range(3)]
    assert len(set(ids)) == 3
    found = client.requests([*ids, "1999-000001"])
    assert sorted(r["service_request_id"] for r in found) == sorted(ids)
    assert client.requests([]) == []


def test_status_change_through_admin_is_seen(client, sandbox):
    rid = client.create_request(pothole())["service_request_id"]
    before = client.requests([rid])[0]
    answer = httpx.post(
        f"{sandbox.url}/admin/requests/{rid}/status",
        data={"status": "closed", "status_notes": "Crew patched the hole."},
    )
    assert answer.status_code == 200
    after = client.requests([rid])[0]
    assert before["status"] == "open" and after["status"] == "closed"
    assert after["status_notes"] == "Crew patched the hole."
    assert after["updated_datetime"] >= before["updated_datetime"]
    assert after["requested_datetime"] == before["requested_datetime"]


def test_token_mode_gives_a_token_then_an_id(tmp_path):
    app = create_sandbox_app(str(tmp_path / "t.sqlite3"), token_mode=True, token_delay=0.2)
    with ServerThread(app) as server, Open311Client(server.url + "/open311/v2") as client:
        filed = client.create_request(pothole())
        assert "service_request_id" not in filed
        token = filed["token"]
        assert isinstance(token, str) and token
        pending = client.token(token)
        assert pending == {"token": token}
        time.sleep(0.3)
        ready = client.token(token)
        rid = ready["service_request_id"]
        assert isinstance(rid, str) and rid
        assert client.request(rid)["service_code"] == POTHOLE
        assert client.token("no-such-token") is None


def test_jurisdiction_and_trailing_slash(sandbox):
    with Open311Client(f"{sandbox.url}/open311/v2", jurisdiction_id="springfield.example") as c:
        assert len(c.services()) >= 10


# -- error mapping ---------------------------------------------------------------------------


def test_missing_location_is_refused_before_sending(client):
    fields = pothole()
    del fields["lat"], fields["long"]
    with pytest.raises(Open311Error) as info:
        client.create_request(fields)
    err = info.value
    assert err.status_code is None and err.retryable is False
    assert "needs lat/long, address_string or address_id" in str(err)


def test_missing_location_is_a_permanent_400_from_the_server(sandbox):
    answer = httpx.post(
        f"{sandbox.url}/open311/v2/requests.json", data={"api_key": API_KEY, "service_code": "001"}
    )
    assert answer.status_code == 400 and "location" in answer.json()[0]["description"]


def test_missing_required_attribute_is_a_400(client):
    fields = pothole()
    del fields["attribute[WHEREIS]"]
    with pytest.raises(Open311Error) as info:
        client.create_request(fields)
    assert info.value.status_code == 400 and "WHEREIS" in str(info.value)


def test_unknown_service_is_a_400(client):
    with pytest.raises(Open311Error) as info:
        client.create_request(pothole(service_code="999"))
    assert info.value.status_code == 400 and not info.value.retryable


def test_bad_api_key_is_a_permanent_403_and_the_key_is_not_leaked(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    c = Open311Client(sandbox.url + "/open311/v2/", api_key="wrong-key-456")
    with c, pytest.raises(Open311Error) as info:
        c.create_request(pothole())
    err = info.value
    assert err.status_code == 403 and err.retryable is False
    assert err.errors == [{"code": "403", "description": "Invalid api_key"}]
    assert "wrong-key-456" not in str(err) and "wrong-key-456" not in repr(err)
    assert "wrong-key-456" not in caplog.text


def test_unknown_request_is_none_and_unknown_service_is_404(client):
    assert client.request("1999-999999") is None
    with pytest.raises(Open311Error) as info:
        client.service_definition("nope")
    assert info.value.status_code == 404 and not info.value.retryable


def test_404_from_a_wrong_endpoint_is_an_error_not_none(canned):
    _, client = canned("404 Not Found", b"<html>no such page</html>", "text/html")
    with pytest.raises(Open311Error) as info:
        client.request("2026-000001")
    assert info.value.status_code == 404 and not info.value.retryable


@pytest.mark.parametrize("status", ["500 Internal Server Error", "503 Service Unavailable"])
def test_5xx_is_retryable(canned, status):
    _, client = canned(status, b"<html>oops</html>", "text/html")
    with pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.retryable is True and info.value.status_code == int(status[:3])


def test_429_is_retryable(canned):
    _, client = canned("429 Too Many Requests", b'[{"code":429,"description":"slow down"}]')
    with pytest.raises(Open311Error) as info:
        client.requests(["1"])
    assert info.value.retryable is True


def test_recorded_403_fixture_is_permanent(canned):
    _, client = canned("403 Forbidden", fixture("spec_error_403.json"))
    with pytest.raises(Open311Error) as info:
        client.create_request(pothole())
    assert not info.value.retryable
    assert info.value.errors == [{"code": "403", "description": "Invalid api_key"}]


def test_200_with_a_4xx_error_list_is_permanent(canned):
    _, client = canned("200 OK", b'[{"code":"400","description":"service_code missing"}]')
    with pytest.raises(Open311Error) as info:
        client.create_request({"lat": 1, "long": 2})
    assert info.value.retryable is False and info.value.status_code == 200
    assert info.value.errors[0]["description"] == "service_code missing"


def test_200_with_a_5xx_error_list_is_retryable(canned):
    _, client = canned("200 OK", b'[{"code":500,"description":"backend down"}]')
    with pytest.raises(Open311Error) as info:
        client.requests(["1", "2"])
    assert info.value.retryable is True and info.value.errors[0]["code"] == "500"


def test_malformed_json_is_retryable(canned):
    _, client = canned("200 OK", b'[{"service_request_id": "1",')
    with pytest.raises(Open311Error) as info:
        client.request("1")
    assert info.value.retryable is True and "not valid JSON" in str(info.value)


def test_post_without_id_or_token_is_permanent(canned):
    _, client = canned("200 OK", b'[{"service_notice": "thanks"}]')
    with pytest.raises(Open311Error) as info:
        client.create_request(pothole())
    assert info.value.retryable is False


def test_connection_refused_is_retryable():
    client = Open311Client(f"http://127.0.0.1:{closed_port()}/open311/v2/", timeout=2)
    with client, pytest.raises(Open311Error) as info:
        client.services()
    assert info.value.retryable is True and info.value.status_code is None


def test_timeout_is_retryable():
    # A listening socket that never answers.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        client = Open311Client(f"http://127.0.0.1:{port}/v2", timeout=0.3)
        with client, pytest.raises(Open311Error) as info:
            client.services()
    assert info.value.retryable is True and "timed out" in str(info.value)


# -- recorded payloads: ids stay strings, unknown fields are kept ----------------------------


def test_spec_services_keep_leading_zeros(canned):
    _, client = canned("200 OK", fixture("spec_services.json"))
    codes = [s["service_code"] for s in client.services()]
    assert codes == ["001", "002", "003"]


def test_integer_service_codes_become_strings(canned):
    _, client = canned("200 OK", fixture("bloomington_services.json"))
    services = client.services()
    assert [s["service_code"] for s in services][:2] == ["2", "37"]
    assert services[1]["metadata"] is True and services[0]["metadata"] is False


def test_spec_definition_keys_become_strings(canned):
    _, client = canned("200 OK", fixture("spec_service_definition.json"))
    attr = client.service_definition("DMV66")["attributes"][0]
    assert [v["key"] for v in attr["values"]] == ["123", "124"]


def test_numeric_request_ids_become_strings_and_ids_are_joined(canned):
    app, client = canned("200 OK", fixture("spec_requests.json"))
    found = client.requests(["638344", "638349"])
    assert [r["service_request_id"] for r in found] == ["638344", "638349"]
    assert found[0]["zipcode"] == "94122" and found[0]["address_id"] == "545483"
    assert found[0]["service_code"] == "006"
    assert app.calls[0]["path"] == "/open311/v2/requests.json"
    assert app.calls[0]["query"]["service_request_id"] == ["638344,638349"]


def test_chicago_ids_and_extensions_are_kept(canned):
    _, client = canned("200 OK", fixture("chicago_requests.json"))
    first = client.request("14-01370163")
    assert first["service_request_id"] == "14-01370163"
    assert first["attributes"]["WHATISTH"] == "New construction multiple units"
    assert first["notes"][-1]["type"] == "closed"
    assert first["extended_attributes"]["ward"] == "32"


def test_post_sends_form_with_key_and_jurisdiction(canned):
    app2, client = canned("200 OK", fixture("spec_post_response.json"))
    client.jurisdiction_id = "city.example.gov"
    filed = client.create_request(pothole())
    assert filed["service_request_id"] == "293944"
    call = app2.calls[0]
    assert call["method"] == "POST" and call["path"] == "/open311/v2/requests.json"
    assert call["form"]["api_key"] == [API_KEY]
    assert call["form"]["jurisdiction_id"] == ["city.example.gov"]
    assert call["form"]["attribute[WHEREIS]"] == ["TRAFFIC"]
    assert call["form"]["lat"] == ["39.8"]


def test_token_fixture_is_a_string(canned):
    _, client = canned("200 OK", fixture("spec_post_token.json"))
    assert client.create_request(pothole()) == {"token": "12345"}


def test_get_sends_jurisdiction_on_every_call(canned):
    app, client = canned("200 OK", json.dumps([]).encode())
    client.jurisdiction_id = "city.example.gov"
    client.services()
    client.requests(["a", "b"])
    assert all(c["query"]["jurisdiction_id"] == ["city.example.gov"] for c in app.calls)
    assert "api_key" not in app.calls[0]["query"]
