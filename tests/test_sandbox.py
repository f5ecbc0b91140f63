"""The sandbox GeoReport v2 server: validation, filters, admin, store and CLI."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from xml.etree import ElementTree

import httpx
import pytest
from click.testing import CliRunner

from sandbox.app import create_sandbox_app, load_catalog
from sandbox.cli import sandbox as sandbox_cli
from sandbox.server import serve
from sandbox.store import SandboxStore

POTHOLE = "4fd3b656e750846c53000004"
GRAFFITI = "4fd3b167e750846744000005"
LOC = {"lat": "39.8036", "long": "-89.6500"}


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(str(tmp_path / "s.sqlite3"), api_key="key1")


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.fixture
def strict_web(web):
    """The seeded sandbox: its list attributes are required, as many cities have them."""
    return web


def post(web, **form):
    data = {"api_key": "key1", **form}
    return web.post("/open311/v2/requests.json", data=data)


def test_catalogue_is_realistic():
    catalog = load_catalog()
    services = catalog["services"]
    assert len(services) >= 10
    assert len({s["service_code"] for s in services}) == len(services)
    keys = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert all(keys <= set(s) and s["type"] == "realtime" for s in services)
    with_metadata = [s["service_code"] for s in services if s["metadata"]]
    assert sorted(with_metadata) == sorted(catalog["definitions"])
    datatypes = {a["datatype"] for d in catalog["definitions"].values() for a in d["attributes"]}
    assert datatypes == {
        "singlevaluelist",
        "multivaluelist",
        "string",
        "number",
        "datetime",
        "text",
    }
    required = {
        a["code"] for d in catalog["definitions"].values() for a in d["attributes"] if a["required"]
    }
    assert required == {"WHEREIS", "LIGHTISS", "SURFACE", "DUMPED"}


def test_index_and_discovery(web):
    index = web.get("/")
    assert index.status_code == 200 and index.mimetype == "text/plain"
    assert "/open311/v2/services.json" in index.get_data(as_text=True)
    disc = web.get("/open311/v2/discovery.json").json
    endpoint = disc["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")


def test_unknown_format_is_a_404(web):
    answer = web.get("/open311/v2/services.html")
    assert answer.status_code == 404
    assert answer.json[0]["code"] == 404 and "format" in answer.json[0]["description"]


def test_definition_of_a_service_without_metadata_is_empty(web):
    assert web.get("/open311/v2/services/001.json").json == {
        "service_code": "001",
        "attributes": [],
    }
    assert web.get("/open311/v2/services/zzz.json").status_code == 404


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"service_code": "001"}, 400, "location"),
        ({"service_code": "", **LOC}, 400, "service_code"),
        ({"service_code": "nope", **LOC}, 400, "not a valid service code"),
        ({"service_code": "001", "lat": "north", "long": "west"}, 400, "decimal degrees"),
        ({"service_code": POTHOLE, **LOC}, 400, "WHEREIS"),
        ({"service_code": POTHOLE, **LOC, "attribute[WHEREIS]": "SKY"}, 400, "one of"),
        (
            {
                "service_code": POTHOLE,
                **LOC,
                "attribute[WHEREIS]": "BIKE",
                "attribute[HOWDEEP]": "very",
            },
            400,
            "number",
        ),
        ({"service_code": GRAFFITI, **LOC}, 400, "SURFACE"),
    ],
)
def test_post_validation(strict_web, form, status, words):
    answer = post(strict_web, **form)
    assert answer.status_code == status
    assert answer.json[0]["code"] == status
    assert words in answer.json[0]["description"]


def test_lat_long_get_an_address_from_the_town(web):
    rid = post(web, service_code="001", lat="39.8001", long="-89.645").json[0]["service_request_id"]
    [got] = web.get(f"/open311/v2/requests/{rid}.json").json
    assert got["address"].endswith(" Main Street") and got["zipcode"] == "62701"


def test_wrong_or_missing_key_is_403(web):
    for key in ("bad", ""):
        answer = web.post(
            "/open311/v2/requests.json", data={"api_key": key, "service_code": "001", **LOC}
        )
        assert answer.status_code == 403
        assert answer.json == [{"code": 403, "description": "Invalid api_key"}]


def test_no_key_configured_accepts_any(tmp_path):
    web = create_sandbox_app(str(tmp_path / "n.sqlite3")).test_client()
    answer = web.post("/open311/v2/requests.json", data={"service_code": "001", **LOC})
    assert answer.status_code == 200 and answer.json[0]["service_request_id"]


def test_post_answers_like_the_spec_and_stores_every_field(web, app):
    answer = post(
        web,
        service_code=GRAFFITI,
        address_string="45 Oak Ave",
        description="Tag on wall",
        media_url="https://example.org/p.jpg",
        email="a@example.org",
        first_name="Ann",
        **{"attribute[SURFACE]": "BRICK", "attribute[DETAILS]": "north wall"},
    )
    assert answer.status_code == 200
    [body] = answer.json
    assert set(body) == {"service_request_id", "service_notice", "account_id"}
    assert body["account_id"] is None
    rid = body["service_request_id"]
    assert len(rid) == 11 and rid[:4].isdigit() and rid[5:].isdigit()
    [got] = web.get(f"/open311/v2/requests/{rid}.json").json
    assert list(got) == [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ]
    assert got["address"] == "45 Oak Ave" and got["zipcode"] == "62702"
    # On Oak Avenue (latitude 39.8036), 8 m to its odd side as the city's geocoder places it.
    assert got["lat"] == pytest.approx(39.8036 + 8 / 111_320, abs=1e-6)
    assert -89.665 < got["long"] < -89.66
    assert got["media_url"] == "https://example.org/p.jpg"
    assert got["agency_responsible"] == "Streets and Sanitation"
    private = app.extensions["sandbox"].store.private(rid)
    assert private["email"] == "a@example.org" and private["first_name"] == "Ann"
    assert private["attributes"] == {"SURFACE": "BRICK", "DETAILS": "north wall"}


def test_ids_are_sequential_and_unique_under_concurrency(tmp_path):
    store = SandboxStore(str(tmp_path / "c.sqlite3"))
    ids: list[str] = []

    def file_some():
        for _ in range(10):
            ids.append(store.create({"service_code": "001"})["service_request_id"])

    threads = [threading.Thread(target=file_some) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 50 and len(set(ids)) == 50
    assert sorted(int(i.split("-")[1]) for i in ids) == list(range(1, 51))


def test_filters_by_status_service_and_dates(web, app):
    a = post(web, service_code="001", **LOC).json[0]["service_request_id"]
    dumped = {"attribute[DUMPED][]": "TIRES"}
    b = post(web, service_code="002", **LOC, **dumped).json[0]["service_request_id"]
    c = post(web, service_code="002", **LOC, **dumped).json[0]["service_request_id"]
    web.post(f"/admin/requests/{c}/status", json={"status": "closed", "status_notes": "done"})

    def ids(query):
        return {r["service_request_id"] for r in web.get("/open311/v2/requests.json?" + query).json}

    assert ids("") == {a, b, c}
    assert ids("status=open") == {a, b}
    assert ids("status=closed") == {c}
    assert ids("service_code=002") == {b, c}
    assert ids("service_code=001,002&status=open") == {a, b}
    assert ids("start_date=2001-01-01T00:00:00Z&end_date=2001-02-01T00:00:00Z") == set()
    assert web.get("/open311/v2/requests.json?status=maybe").status_code == 400
    assert web.get("/open311/v2/requests.json?start_date=yesterday").status_code == 400
    # A request older than 90 days drops out of the default window but not out of an id lookup.
    db = sqlite3.connect(app.extensions["sandbox"].store.path)
    with db:
        db.execute(
            "UPDATE requests SET requested_ts = ? WHERE service_request_id = ?",
            (time.time() - 100 * 86400, a),
        )
    db.close()
    assert ids("") == {b, c}
    assert ids(f"service_request_id={a},{b}") == {a, b}


def test_admin_status_change_and_errors(web):
    rid = post(web, service_code="001", **LOC).json[0]["service_request_id"]
    answer = web.post(f"/admin/requests/{rid}/status", data={"status": "closed"})
    assert answer.status_code == 200 and answer.json[0]["status"] == "closed"
    [got] = web.get(f"/open311/v2/requests/{rid}.json").json
    assert got["status"] == "closed" and got["status_notes"] is None
    unknown = web.post("/admin/requests/1999-000001/status", data={"status": "open"})
    assert unknown.status_code == 404
    assert web.post(f"/admin/requests/{rid}/status", data={"status": "gone"}).status_code == 400
    assert web.get("/open311/v2/requests/1999-000001.json").json[0]["code"] == 404


def test_token_is_404_when_unknown_and_id_appears_after_delay(tmp_path):
    app = create_sandbox_app(str(tmp_path / "t.sqlite3"), token_mode=True, token_delay=0.2)
    web = app.test_client()
    [body] = web.post("/open311/v2/requests.json", data={"service_code": "001", **LOC}).json
    assert set(body) == {"token"}
    assert web.get(f"/open311/v2/tokens/{body['token']}.json").json == [{"token": body["token"]}]
    assert web.get("/open311/v2/requests.json").json == []
    time.sleep(0.25)
    [ready] = web.get(f"/open311/v2/tokens/{body['token']}.json").json
    assert ready["token"] == body["token"] and ready["service_request_id"]
    assert len(web.get("/open311/v2/requests.json").json) == 1
    assert web.get("/open311/v2/tokens/nope.json").status_code == 404


def test_custom_catalog_file(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('[{"service_code": 7, "service_name": "Rats", "metadata": false}]')
    web = create_sandbox_app(str(tmp_path / "x.sqlite3"), catalog_path=str(path)).test_client()
    assert [s["service_code"] for s in web.get("/open311/v2/services.json").json] == ["7"]


def test_cli_set_status_against_a_running_sandbox(tmp_path):
    server = serve(create_sandbox_app(str(tmp_path / "cli.sqlite3")))
    try:
        rid = httpx.post(
            f"{server.url}/open311/v2/requests.json", data={"service_code": "001", **LOC}
        ).json()[0]["service_request_id"]
        runner = CliRunner()
        done = runner.invoke(
            sandbox_cli, ["set-status", rid, "closed", "--notes", "Picked up", "--url", server.url]
        )
        assert done.exit_code == 0, done.output
        assert '"status": "closed"' in done.output and "Picked up" in done.output
        missing = runner.invoke(
            sandbox_cli, ["set-status", "1999-000001", "open", "--url", server.url]
        )
        assert missing.exit_code == 1 and "not found" in missing.output
    finally:
        server.stop()


def test_cli_set_status_when_sandbox_is_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = CliRunner().invoke(
        sandbox_cli, ["set-status", "2026-000001", "open", "--url", f"http://127.0.0.1:{port}"]
    )
    assert done.exit_code == 2 and "is it running" in done.output


def test_cli_help_lists_the_options():
    done = CliRunner().invoke(sandbox_cli, ["--help"])
    assert done.exit_code == 0
    for option in ("--host", "--port", "--db", "--api-key", "--catalog", "--token-mode"):
        assert option in done.output


def test_catalog_from_a_bare_services_list_and_definitions(tmp_path):
    services = tmp_path / "services.json"
    services.write_text(
        json.dumps(
            [
                {"service_code": 7, "service_name": "Rats", "metadata": "true"},
                {"service_code": "008", "service_name": "Bins", "metadata": False},
            ]
        )
    )
    mapping = tmp_path / "definitions.json"
    mapping.write_text(
        json.dumps(
            {
                "7": {
                    "service_code": 7,
                    "attributes": [
                        {
                            "code": 1,
                            "datatype": "multivaluelist",
                            "required": "true",
                            "variable": "true",
                            "order": 1,
                            "description": "Where?",
                            "values": [{"key": 10, "name": "Yard"}, {"key": 11, "name": "Alley"}],
                        }
                    ],
                }
            }
        )
    )
    catalog = load_catalog(services, mapping)
    assert [s["service_code"] for s in catalog["services"]] == ["7", "008"]
    [attr] = catalog["definitions"]["7"]["attributes"]
    assert attr["code"] == "1" and attr["required"] is True
    assert [v["key"] for v in attr["values"]] == ["10", "11"]
    as_list = tmp_path / "definitions-list.json"
    as_list.write_text(json.dumps([{"service_code": 7, "attributes": []}]))
    assert load_catalog(services, as_list)["definitions"]["7"]["attributes"] == []
    web = create_sandbox_app(
        str(tmp_path / "c.sqlite3"), catalog_path=str(services), definitions_path=str(mapping)
    ).test_client()
    refused = web.post("/open311/v2/requests.json", data={"service_code": "7", **LOC})
    assert refused.status_code == 400
    assert "attribute[1] is required" in refused.json[0]["description"]
    accepted = web.post(
        "/open311/v2/requests.json", data={"service_code": "7", **LOC, "attribute[1]": ["10", "11"]}
    )
    assert accepted.status_code == 200


def test_xml_answers_and_errors(web):
    services = web.get("/open311/v2/services.xml")
    assert services.status_code == 200 and services.mimetype == "text/xml"
    root = ElementTree.fromstring(services.data)
    assert root.tag == "services" and root[0].tag == "service"
    assert root[0].find("service_code").text == POTHOLE
    missing = web.get("/open311/v2/requests/1999-000001.xml")
    assert missing.status_code == 404
    error = ElementTree.fromstring(missing.data)
    assert error.tag == "errors" and error.find("error/code").text == "404"
    refused = web.post(
        "/open311/v2/requests.xml",
        data={"api_key": "key1", "service_code": POTHOLE, **LOC, "attribute[HOWDEEP]": "x"},
    )
    codes = [e.find("description").text for e in ElementTree.fromstring(refused.data)]
    assert refused.status_code == 400 and len(codes) == 2
    definition = ElementTree.fromstring(web.get(f"/open311/v2/services/{POTHOLE}.xml").data)
    assert [a.find("code").text for a in definition.find("attributes")] == [
        "WHEREIS",
        "HOWDEEP",
        "NOTICED",
    ]


def test_cli_passes_the_quirk_switches(tmp_path):
    done = CliRunner().invoke(sandbox_cli, ["--help"])
    for option in (
        "--page-size",
        "--errors-with-200",
        "--formats",
        "--slow",
        "--require-jurisdiction",
        "--drop-empty",
        "--updates",
        "--definitions",
    ):
        assert option in done.output
    with pytest.raises(ValueError, match="formats"):
        create_sandbox_app(str(tmp_path / "f.sqlite3"), formats="yaml")
