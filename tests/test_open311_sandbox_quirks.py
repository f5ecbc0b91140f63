"""The real client against the sandbox in every mode: JSON and XML, attributes of every datatype,
both multi-value styles, tokens, paging, updates and each quirk switch."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.open311.client import Open311Client, Open311Error
from bot.open311.profile import Profile, load_profile
from sandbox.app import create_sandbox_app
from sandbox.server import serve

POTHOLE = "4fd3b656e750846c53000004"
DUMPING = "002"
KEY = "quirk-key"
SANDBOX = load_profile("sandbox")
SANDBOX_XML = load_profile("sandbox_xml")


@pytest.fixture
def city(tmp_path, servers):
    """city(profile, **switches) -> (running sandbox, client factory)."""
    clients = []

    def start(profile: Profile = SANDBOX, **switches):
        server = serve(
            create_sandbox_app(
                str(tmp_path / f"{len(clients)}-{time.time()}.sqlite3"), api_key=KEY, **switches
            )
        )
        servers.append(server)

        def client(p: Profile = profile, **kwargs) -> Open311Client:
            kwargs.setdefault("api_key", KEY)
            c = Open311Client(f"{server.url}/open311/v2/", profile=p, **kwargs)
            clients.append(c)
            return c

        return server, client

    yield start
    for c in clients:
        c.close()


def pothole_fields() -> dict:
    return {
        "service_code": POTHOLE,
        "lat": "39.8",
        "long": "-89.645",
        "description": "Deep hole",
        "address_string": "120 Main St",
    }


def every_datatype() -> dict:
    return {"WHEREIS": "TRAFFIC", "HOWDEEP": "4.5", "NOTICED": "2026-03-01T08:30:00-06:00"}


def stored(server, rid: str) -> dict:
    return server._server.app.extensions["sandbox"].store.private(rid)


# -- JSON and XML, attributes of every datatype ----------------------------------------------


@pytest.mark.parametrize("profile", [SANDBOX, SANDBOX_XML], ids=["json", "xml"])
def test_post_with_every_datatype(city, profile):
    server, make = city(profile)
    client = make()
    assert {a["datatype"] for a in client.service_definition(POTHOLE)["attributes"]} == {
        "singlevaluelist",
        "number",
        "datetime",
    }
    filed = client.create_request(pothole_fields(), attributes=every_datatype())
    rid = filed["service_request_id"]
    assert rid.startswith("20") and "repaired within 7 days" in filed["service_notice"]
    assert stored(server, rid)["attributes"] == every_datatype()
    graffiti = client.create_request(
        {"service_code": "4fd3b167e750846744000005", "address_string": "45 Oak Ave"},
        attributes={"SURFACE": "BRICK", "DETAILS": "North wall,\nabove the door"},
    )
    assert stored(server, graffiti["service_request_id"])["attributes"]["DETAILS"].endswith("door")
    light = client.create_request(
        {"service_code": "4ffa9f2d6018277d400000c8", "lat": 39.8, "long": -89.64},
        attributes={"LIGHTISS": "OUT", "POLENUM": "SL-10482"},
    )
    got = client.request(light["service_request_id"])
    assert got["status"] == "open" and got["service_code"] == "4ffa9f2d6018277d400000c8"
    assert isinstance(got["lat"], float) and got["address"].endswith("Street")


@pytest.mark.parametrize("style", ["brackets", "repeat"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_multivaluelist_both_styles(city, style, fmt):
    profile = replace(SANDBOX, format=fmt, multi_value_style=style)
    server, make = city(profile)
    filed = make().create_request(
        {"service_code": DUMPING, "address_string": "45 Oak Ave"},
        attributes={"DUMPED": ["TIRES", "FURNITURE"], "AMOUNT": "SMALL"},
    )
    assert stored(server, filed["service_request_id"])["attributes"] == {
        "DUMPED": ["TIRES", "FURNITURE"],
        "AMOUNT": "SMALL",
    }


@pytest.mark.parametrize("profile", [SANDBOX, SANDBOX_XML], ids=["json", "xml"])
@pytest.mark.parametrize(
    ("attributes", "words"),
    [
        ({}, "attribute[DUMPED] is required"),
        ({"DUMPED": ["TIRES", "BOATS"]}, "attribute[DUMPED] must be one of"),
        ({"DUMPED": "TIRES", "AMOUNT": ["SMALL", "LARGE"]}, "attribute[AMOUNT] takes one value"),
    ],
)
def test_bad_attributes_are_permanent_400s(city, profile, attributes, words):
    _, make = city(profile)
    with pytest.raises(Open311Error) as info:
        make().create_request(
            {"service_code": DUMPING, "lat": 39.8, "long": -89.645}, attributes=attributes
        )
    err = info.value
    assert err.status_code == 400 and err.retryable is False
    assert any(words in e["description"] for e in err.errors)


@pytest.mark.parametrize(
    ("attributes", "words"),
    [
        ({"WHEREIS": "SKY", "HOWDEEP": "deep"}, ["WHEREIS] must be one of", "must be a number"]),
        ({"WHEREIS": "BIKE", "NOTICED": "yesterday"}, ["ISO 8601"]),
        ({"WHEREIS": "BIKE", "HOWDEEP": "nan"}, ["must be a number"]),
    ],
)
def test_every_bad_value_is_listed(city, attributes, words):
    _, make = city()
    with pytest.raises(Open311Error) as info:
        make().create_request(pothole_fields(), attributes=attributes)
    descriptions = " | ".join(e["description"] for e in info.value.errors)
    assert all(w in descriptions for w in words) and len(info.value.errors) == len(words)


def test_string_attribute_refuses_line_breaks(city):
    _, make = city()
    with pytest.raises(Open311Error, match="single line"):
        make().create_request(
            {"service_code": "4ffa9f2d6018277d400000c8", "lat": 39.8, "long": -89.64},
            attributes={"LIGHTISS": "OUT", "POLENUM": "SL-1\nSL-2"},
        )


# -- what the client sends, shaped by the profile ---------------------------------------------


def test_description_is_cut_on_a_word_boundary(city):
    server, make = city()
    client = make(replace(SANDBOX, description_limit=20))
    filed = client.create_request(
        {**pothole_fields(), "description": "A very deep pothole in the right lane of Main Street"},
        {"WHEREIS": "TRAFFIC"},
    )
    text = client.request(filed["service_request_id"])["description"]
    assert text == "A very deep pothole…" and len(text) <= 20


def test_location_styles(city):
    server, make = city()
    both = make(replace(SANDBOX, name="chicago-like", location="both"))
    with pytest.raises(Open311Error, match="needs lat/long and address_string") as info:
        both.create_request({"service_code": "001", "lat": 39.8, "long": -89.645})
    assert info.value.retryable is False
    rid = both.create_request(
        {
            "service_code": "001",
            "lat": 39.8001,
            "long": -89.645,
            "address_string": "Corner of Main and Oak",
        }
    )["service_request_id"]
    assert both.request(rid)["address"] == "Corner of Main and Oak"
    anywhere = make()
    filed = anywhere.create_request(
        {
            "service_code": "001",
            "lat": 39.8001,
            "long": -89.645,
            "address_string": "Corner of Main and Oak",
        }
    )
    rid = filed["service_request_id"]
    assert anywhere.request(rid)["address"] == "Corner of Main and Oak"  # whatever we know is sent
    latlong = make(replace(SANDBOX, location="latlong"))
    rid = latlong.create_request(
        {
            "service_code": "001",
            "lat": 39.8001,
            "long": -89.645,
            "address_string": "Corner of Main and Oak",
        }
    )["service_request_id"]
    assert latlong.request(rid)["address"].endswith("Main Street")  # lat/long only: city's text
    address = make(replace(SANDBOX, location="address"))
    with pytest.raises(Open311Error, match="needs address_string or address_id"):
        address.create_request({"service_code": "001", "lat": 39.8, "long": -89.645})


# -- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [SANDBOX, SANDBOX_XML], ids=["json", "xml"])
def test_token_path(city, profile):
    _, make = city(profile, token_mode=True, token_delay=0.3)
    client = make()
    filed = client.create_request(pothole_fields(), every_datatype())
    assert set(filed) == {"token"}
    assert client.token(filed["token"]) == {"token": filed["token"]}
    time.sleep(0.35)
    ready = client.token(filed["token"])
    assert ready["service_request_id"] and client.request(ready["service_request_id"])
    assert client.token("no-such-token") is None


# -- quirk switches --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_paging(city, fmt):
    _, make = city(replace(SANDBOX, format=fmt, page_size=2), page_size=2)
    client = make()
    ids = [
        client.create_request({"service_code": "001", "lat": 39.8, "long": -89.645})[
            "service_request_id"
        ]
        for _ in range(5)
    ]
    assert sorted(r["service_request_id"] for r in client.requests(ids)) == sorted(ids)
    assert len(client.requests_query(status="open")) == 5
    unpaged = make(SANDBOX)
    assert len(unpaged.requests(ids)) == 2  # a client that does not page sees one page


def test_errors_with_200(city):
    _, make = city(errors_with_200=True)
    client = make()
    with pytest.raises(Open311Error) as info:
        client.create_request({"service_code": "nope", "lat": 39.8, "long": -89.645})
    assert info.value.status_code == 200 and info.value.retryable is False
    assert "not a valid service code" in info.value.errors[0]["description"]
    assert client.request("1999-000001") is None
    xml = make(SANDBOX_XML)
    with pytest.raises(Open311Error) as info:
        xml.create_request(pothole_fields())
    assert info.value.status_code == 200 and "WHEREIS" in str(info.value)


def test_xml_only_server(city):
    server, make = city(SANDBOX_XML, formats="xml")
    assert httpx.get(f"{server.url}/open311/v2/services.json").status_code == 400
    with pytest.raises(Open311Error) as info:
        make(SANDBOX).services()
    assert info.value.status_code == 400 and "use .xml" in info.value.errors[0]["description"]
    client = make()
    assert len(client.services()) == 11
    assert client.discovery()["endpoints"][0]["formats"] == ["text/xml"]


def test_slow_server_times_out_as_retryable(city):
    _, make = city(slow=0.5)
    with pytest.raises(Open311Error) as info:
        make(timeout=0.2).services()
    assert info.value.retryable is True and "timed out" in str(info.value)
    assert len(make(timeout=3).services()) == 11


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_required_jurisdiction(city, fmt):
    profile = replace(SANDBOX, format=fmt)
    _, make = city(profile, require_jurisdiction="springfield.example")
    with pytest.raises(Open311Error) as info:
        make().services()
    assert info.value.status_code == 400 and "jurisdiction_id" in str(info.value)
    with pytest.raises(Open311Error) as info:
        make(jurisdiction_id="shelbyville.example").services()
    assert info.value.status_code == 404
    client = make(replace(profile, jurisdiction_id="springfield.example"))
    assert client.services()
    rid = client.create_request(pothole_fields(), every_datatype())["service_request_id"]
    assert client.requests([rid])[0]["service_request_id"] == rid


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_drop_empty(city, fmt):
    _, make = city(replace(SANDBOX, format=fmt), drop_empty=True)
    client = make()
    rid = client.create_request({"service_code": "SWR-017", "lat": 39.8, "long": -89.645})[
        "service_request_id"
    ]
    got = client.request(rid)
    assert "status_notes" not in got and "media_url" not in got
    assert got["service_request_id"] == rid and got["status"] == "open"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_request_updates(city, fmt):
    server, make = city(replace(SANDBOX, format=fmt, updates=True), updates=True)
    client = make()
    since = datetime.now(UTC) - timedelta(minutes=1)
    rid = client.create_request({"service_code": "001", "lat": 39.8, "long": -89.645})[
        "service_request_id"
    ]
    assert client.service_request_updates(since) == []
    for status, notes in (("closed", "Picked up"), ("open", None)):
        httpx.post(
            f"{server.url}/admin/requests/{rid}/status",
            data={"status": status, **({"status_notes": notes} if notes else {})},
        )
    updates = client.service_request_updates(since, datetime.now(UTC) + timedelta(minutes=1))
    assert [(u["service_request_id"], u["status"]) for u in updates] == [
        (rid, "closed"),
        (rid, "open"),
    ]
    assert updates[0]["description"] == "Picked up" and updates[1]["description"] is None
    assert len({u["update_id"] for u in updates}) == 2
    with pytest.raises(Open311Error) as info:
        make(api_key="wrong").service_request_updates(since)
    assert info.value.status_code == 403


def test_updates_are_404_without_the_switch(city):
    _, make = city()
    with pytest.raises(Open311Error) as info:
        make(replace(SANDBOX, updates=True)).service_request_updates(datetime.now(UTC))
    assert info.value.status_code == 404


def test_query_filters_and_date_styles(city):
    server, make = city()
    client = make()
    rid = client.create_request({"service_code": "001", "lat": 39.8, "long": -89.645})[
        "service_request_id"
    ]
    now = datetime.now(UTC)
    found = client.requests_query(
        status=["open", "closed"],
        service_code="001",
        start_date=now - timedelta(hours=1),
        end_date=now + timedelta(minutes=1),
    )
    assert [r["service_request_id"] for r in found] == [rid]
    assert client.requests_query(service_code=["003"]) == []
    no_z = make(replace(SANDBOX, date_style="no_z"))
    assert (
        no_z.requests_query(
            start_date=now - timedelta(days=400), end_date=now - timedelta(days=399)
        )
        == []
    )
    with pytest.raises(Open311Error, match="updated_after"):
        client.requests_query(updated_after=now)
    with pytest.raises(ValueError, match="timezone-aware"):
        client.requests_query(start_date=datetime(2026, 1, 1))


def test_discovery_lists_both_formats(city):
    _, make = city()
    discovery = make().discovery()
    assert discovery["endpoints"][0]["formats"] == ["application/json", "text/xml"]
    assert make(SANDBOX_XML).discovery()["changeset"] == discovery["changeset"]
