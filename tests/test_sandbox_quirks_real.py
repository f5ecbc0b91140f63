"""The sandbox switches that reproduce real GeoReport v2 servers (Django REST framework ones
above all): content negotiation, list roots, error shapes, paging past the end, id styles,
expected_datetime at creation, moderation, slow storage, addresses ignored, and the POST log."""

from __future__ import annotations

import re
import time
from xml.etree import ElementTree

import httpx
import pytest
from click.testing import CliRunner

from sandbox import cli
from sandbox.app import create_sandbox_app
from sandbox.server import ServerThread
from sandbox.store import parse_iso

POTHOLE = "4fd3b656e750846c53000004"
GRAFFITI = "4fd3b167e750846744000005"
KEY = "real-key"
OPEN = "/open311/v2"
LOC = {"lat": "39.8036", "long": "-89.6500"}
NOT_ACCEPTABLE = {"detail": "Could not satisfy the request Accept header."}


@pytest.fixture
def make(tmp_path):
    """make(**switches) -> a Flask test client of a sandbox started with those switches."""
    made = []

    def start(**switches):
        app = create_sandbox_app(str(tmp_path / f"{len(made)}.sqlite3"), api_key=KEY, **switches)
        made.append(app)
        return app.test_client()

    return start


def graffiti(**fields) -> dict:
    """A valid POST form for Graffiti Removal at LOC (fields override)."""
    form = {"api_key": KEY, "service_code": GRAFFITI, "attribute[SURFACE]": "BRICK", **LOC}
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None}


def file(web, fmt: str = "json", **fields) -> str:
    """POST a valid request and return its service_request_id."""
    done = web.post(f"{OPEN}/requests.{fmt}", data=graffiti(**fields))
    assert done.status_code == 200, done.data
    body = done.get_json()
    return (body["results"] if isinstance(body, dict) else body)[0]["service_request_id"]


# -- 1. accept_only: DRF's content negotiation -----------------------------------------------


def test_accept_only_refuses_an_accept_header_without_the_type(make):
    web = make(accept_only="application/xml")
    refused = web.get(f"{OPEN}/services.xml", headers={"Accept": "text/xml"})
    assert refused.status_code == 406
    assert refused.mimetype == "application/json"
    assert refused.get_json() == NOT_ACCEPTABLE
    posted = web.post(f"{OPEN}/requests.xml", data=graffiti(), headers={"Accept": "text/xml"})
    assert posted.status_code == 406 and posted.get_json() == NOT_ACCEPTABLE
    assert web.get("/admin/posts").get_json()[0]["status"] == 406
    assert (
        web.get(f"{OPEN}/requests.xml", headers={"Accept": "application/xml"}).data.count(
            b"<request>"
        )
        == 0
    )  # the refused POST stored nothing


@pytest.mark.parametrize(
    "accept", [None, "application/xml", "*/*", "application/*", "text/xml, application/xml;q=0.5"]
)
def test_accept_only_answers_with_its_type_when_allowed(make, accept):
    web = make(accept_only="application/xml")
    headers = {"Accept": accept} if accept else {}
    done = web.get(f"{OPEN}/services.xml", headers=headers)
    assert done.status_code == 200
    assert done.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert ElementTree.fromstring(done.data).tag == "services"
    missing = web.get(f"{OPEN}/requests/nope.xml", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == "application/xml"


def test_accept_only_leaves_the_other_format_and_lists_its_type(make):
    web = make(accept_only="application/xml")
    done = web.get(f"{OPEN}/services.json", headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.mimetype == "application/json"
    discovery = web.get(f"{OPEN}/discovery.json").get_json()
    assert discovery["endpoints"][0]["formats"] == ["application/json", "application/xml"]


def test_without_accept_only_text_xml_is_served(make):
    done = make().get(f"{OPEN}/services.xml", headers={"Accept": "text/xml"})
    assert done.status_code == 200 and done.mimetype == "text/xml"


# -- 2. list_root and json_wrap ---------------------------------------------------------------


def test_list_root_renames_xml_request_lists(make):
    web = make(list_root="requests")
    posted = web.post(f"{OPEN}/requests.xml", data=graffiti())
    created = ElementTree.fromstring(posted.data)
    assert created.tag == "requests" and [c.tag for c in created] == ["request"]
    rid = created.find("request/service_request_id").text
    for path in (f"requests.xml?service_request_id={rid}", f"requests/{rid}.xml", "requests.xml"):
        root = ElementTree.fromstring(web.get(f"{OPEN}/{path}").data)
        assert root.tag == "requests" and [c.tag for c in root] == ["request"]
        assert root.find("request/service_request_id").text == rid
    assert ElementTree.fromstring(web.get(f"{OPEN}/services.xml").data).tag == "services"
    assert ElementTree.fromstring(web.get(f"{OPEN}/requests/x.xml").data).tag == "errors"


def test_default_xml_request_lists_are_the_specs(make):
    web = make()
    rid = file(web)
    root = ElementTree.fromstring(web.get(f"{OPEN}/requests/{rid}.xml").data)
    assert root.tag == "service_requests" and root[0].tag == "request"


def test_json_wrap_puts_request_lists_in_an_object(make):
    web = make(json_wrap="results")
    posted = web.post(f"{OPEN}/requests.json", data=graffiti()).get_json()
    assert list(posted) == ["results"] and len(posted["results"]) == 1
    rid = posted["results"][0]["service_request_id"]
    for path in (
        f"requests.json?service_request_id={rid}",
        f"requests/{rid}.json",
        "requests.json",
    ):
        body = web.get(f"{OPEN}/{path}").get_json()
        assert list(body) == ["results"]
        assert [r["service_request_id"] for r in body["results"]] == [rid]
    assert isinstance(web.get(f"{OPEN}/services.json").get_json(), list)
    assert isinstance(web.get(f"{OPEN}/requests/x.json").get_json(), list)  # errors stay the spec's


# -- 3. error_shape ---------------------------------------------------------------------------


FORBIDDEN = {
    "spec": [{"code": 403, "description": "Invalid api_key"}],
    "drf": {"detail": "Invalid api_key"},
    "drf-code": {"code": 403, "detail": ["Invalid api_key"]},
    "fields": {"detail": "Invalid api_key"},
    "message": {"message": "Invalid api_key"},
}
MISSING_CODE = {
    "spec": [{"code": 400, "description": "service_code is required"}],
    "drf": {"detail": "service_code is required"},
    "drf-code": {"code": 400, "detail": ["service_code is required"]},
    "fields": {"service_code": ["This field is required."]},
    "message": {"message": "service_code is required"},
}


@pytest.mark.parametrize("shape", sorted(FORBIDDEN))
def test_error_shape_json_bodies_keep_the_status(make, shape):
    web = make(error_shape=shape)
    forbidden = web.post(f"{OPEN}/requests.json", data=graffiti(api_key="wrong"))
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/json"
    assert forbidden.get_json() == FORBIDDEN[shape]
    missing = web.post(f"{OPEN}/requests.json", data=graffiti(service_code=None))
    assert missing.status_code == 400 and missing.get_json() == MISSING_CODE[shape]


def test_error_shape_fields_names_the_field_at_fault(make):
    web = make(error_shape="fields")
    unknown = web.post(f"{OPEN}/requests.json", data=graffiti(service_code="NOPE"))
    assert unknown.get_json() == {"service_code": ['"NOPE" is not a valid choice.']}
    nowhere = web.post(f"{OPEN}/requests.json", data=graffiti(lat=None, long=None))
    assert nowhere.status_code == 400 and list(nowhere.get_json()) == ["non_field_errors"]
    unanswered = web.post(f"{OPEN}/requests.json", data=graffiti(**{"attribute[SURFACE]": None}))
    assert unanswered.status_code == 400 and list(unanswered.get_json()) == ["attribute"]
    assert web.get(f"{OPEN}/requests/x.json").get_json() == {
        "detail": "service_request_id x not found"
    }


def test_error_shape_text_and_html(make):
    text = make(error_shape="text").get(f"{OPEN}/requests/x.json")
    assert text.status_code == 404 and text.mimetype == "text/plain"
    assert text.get_data(as_text=True) == "service_request_id x not found\n"
    page = make(error_shape="html").post(f"{OPEN}/requests.xml", data=graffiti(api_key="wrong"))
    assert page.status_code == 403 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "<h1>403 Forbidden</h1>" in html
    assert "<p>Invalid api_key</p>" in html


def test_error_shape_drf_in_xml_is_drfs_root(make):
    drf = ElementTree.fromstring(make(error_shape="drf").get(f"{OPEN}/requests/x.xml").data)
    assert drf.tag == "root" and drf.find("detail").text == "service_request_id x not found"
    coded = make(error_shape="drf-code").post(f"{OPEN}/requests.xml", data=graffiti(api_key="no"))
    root = ElementTree.fromstring(coded.data)
    assert coded.status_code == 403 and root.find("code").text == "403"
    assert [i.text for i in root.find("detail")] == ["Invalid api_key"]
    assert root.find("detail")[0].tag == "list-item"


def test_error_shape_applies_to_faults_and_errors_with_200(make):
    web = make(error_shape="drf")
    web.post("/admin/faults", json={"mode": "500"})
    failed = web.get(f"{OPEN}/services.json")
    assert failed.status_code == 500
    assert failed.get_json() == {"detail": "Internal server error (sandbox fault)"}
    quiet = make(error_shape="message", errors_with_200=True).get(f"{OPEN}/requests/x.json")
    assert quiet.status_code == 200
    assert quiet.get_json() == {"message": "service_request_id x not found"}


def test_error_shape_refuses_an_unknown_shape(tmp_path):
    with pytest.raises(ValueError, match="error_shape"):
        create_sandbox_app(str(tmp_path / "s.sqlite3"), error_shape="yaml")


# -- 4. page_past_end -------------------------------------------------------------------------


def test_page_past_end_404_is_drfs_invalid_page(make):
    web = make(page_size=2, page_past_end="404")
    for _ in range(3):
        file(web)
    assert len(web.get(f"{OPEN}/requests.json?page=2").get_json()) == 1
    past = web.get(f"{OPEN}/requests.json?page=3")
    assert past.status_code == 404 and past.mimetype == "application/json"
    assert past.get_json() == {"detail": "Invalid page."}
    xml = ElementTree.fromstring(web.get(f"{OPEN}/requests.xml?page=9").data)
    assert xml.tag == "root" and xml.find("detail").text == "Invalid page."
    empty_first = web.get(f"{OPEN}/requests.json?service_code={POTHOLE}&page=1")
    assert empty_first.status_code == 200 and empty_first.get_json() == []
    assert web.get(f"{OPEN}/requests.json?service_code={POTHOLE}&page=2").status_code == 404


def test_page_past_end_by_default_is_an_empty_list(make):
    web = make(page_size=2)
    file(web)
    past = web.get(f"{OPEN}/requests.json?page=3")
    assert past.status_code == 200 and past.get_json() == []


# -- 5. id_style ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "pattern"),
    [("letters", r"[a-z]{8}"), ("digits", r"[0-9]+"), ("dashed", r"[0-9]{4}-[0-9]{6}")],
)
def test_id_style_shapes_new_ids(make, style, pattern):
    web = make(id_style=style)
    ids = [file(web) for _ in range(3)]
    assert all(re.fullmatch(pattern, rid) for rid in ids) and len(set(ids)) == 3
    for rid in ids:
        assert web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]["service_request_id"] == rid


def test_id_style_digits_is_the_sequence(make):
    web = make(id_style="digits")
    assert [file(web), file(web)] == ["1", "2"]


def test_id_style_refuses_an_unknown_style(tmp_path):
    with pytest.raises(ValueError, match="id_style"):
        create_sandbox_app(str(tmp_path / "s.sqlite3"), id_style="uuid")


# -- 6. expected_on_create --------------------------------------------------------------------


def test_expected_on_create_sets_expected_datetime(make):
    web = make(expected_on_create=48)
    posted = web.post(f"{OPEN}/requests.json", data=graffiti()).get_json()[0]
    found = web.get(f"{OPEN}/requests/{posted['service_request_id']}.json").get_json()[0]
    assert found["expected_datetime"] == posted["expected_datetime"]
    late = parse_iso(found["expected_datetime"]) - parse_iso(found["requested_datetime"])
    assert 48 * 3600 - 2 <= late <= 48 * 3600 + 2


def test_expected_datetime_is_empty_by_default(make):
    web = make()
    posted = web.post(f"{OPEN}/requests.json", data=graffiti()).get_json()[0]
    assert "expected_datetime" not in posted
    rid = posted["service_request_id"]
    assert web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]["expected_datetime"] is None


# -- 7. moderated and moderate_after ----------------------------------------------------------


def hidden(web, rid: str) -> bool:
    """True when no GET of the Open311 routes shows `rid`."""
    one = web.get(f"{OPEN}/requests/{rid}.json")
    by_id = web.get(f"{OPEN}/requests.json?service_request_id={rid}").get_json()
    by_filters = web.get(f"{OPEN}/requests.json?service_code={GRAFFITI}&status=open").get_json()
    listed = [r["service_request_id"] for r in by_id + by_filters]
    return one.status_code == 404 and rid not in listed


def test_moderated_requests_are_hidden_until_moderated(make):
    web = make(moderated=True)
    rid = file(web)
    assert hidden(web, rid)
    published = web.post(f"/admin/requests/{rid}/moderate")
    assert published.status_code == 200
    assert published.get_json()[0]["service_request_id"] == rid
    assert not hidden(web, rid)
    assert web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]["status"] == "open"
    again = web.post(f"/admin/requests/{rid}/moderate")
    assert again.status_code == 200  # moderating twice is harmless
    unknown = web.post("/admin/requests/nope/moderate")
    assert unknown.status_code == 404 and unknown.get_json()[0]["code"] == 404


def test_moderate_after_publishes_by_itself(make):
    web = make(moderate_after=0.4)
    rid = file(web)
    assert hidden(web, rid)
    time.sleep(0.6)
    assert not hidden(web, rid)


def test_unmoderated_sandbox_shows_requests_at_once(make):
    web = make()
    assert not hidden(web, file(web))


# -- 8. store_delay ---------------------------------------------------------------------------


def test_store_delay_stores_at_the_end_of_the_wait(tmp_path):
    app = create_sandbox_app(str(tmp_path / "s.sqlite3"), api_key=KEY, store_delay=1.0)
    with ServerThread(app) as server, httpx.Client(base_url=server.url + OPEN) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.post("/requests.json", data=graffiti(description="lost"), timeout=0.3)
        found = http.get(f"/requests.json?service_code={GRAFFITI}", timeout=5).json()
        assert found == []  # the client gave up, and a search finds nothing yet
        log = httpx.get(f"{server.url}/admin/posts", timeout=5).json()
        assert len(log) == 1 and log[0]["status"] is None
        time.sleep(max(0.0, 1.4 - (time.monotonic() - started)))
        found = http.get(f"/requests.json?service_code={GRAFFITI}", timeout=5).json()
        assert [r["description"] for r in found] == ["lost"]  # the record appeared later
        log = httpx.get(f"{server.url}/admin/posts", timeout=5).json()
        assert log[0]["status"] == 200
        assert log[0]["service_request_id"] == found[0]["service_request_id"]


def test_store_delay_holds_the_answer(tmp_path):
    app = create_sandbox_app(str(tmp_path / "s.sqlite3"), api_key=KEY, store_delay=0.5)
    started = time.monotonic()
    rid = file(app.test_client())
    assert time.monotonic() - started >= 0.5
    assert app.test_client().get(f"{OPEN}/requests/{rid}.json").status_code == 200


# -- 9. ignore_address ------------------------------------------------------------------------


def test_ignore_address_crashes_without_a_point(make):
    web = make(ignore_address=True)
    typed = graffiti(lat=None, long=None, address_string="120 Main St")
    crashed = web.post(f"{OPEN}/requests.json", data=typed)
    assert crashed.status_code == 500 and crashed.mimetype == "application/json"
    [error] = crashed.get_json()
    assert error["code"] == 500 and "lat and long" in error["description"]
    assert web.get(f"{OPEN}/requests.json").get_json() == []
    by_id = web.post(f"{OPEN}/requests.json", data=graffiti(lat=None, long=None, address_id="77"))
    assert by_id.status_code == 500


def test_ignore_address_crash_is_in_the_error_shape_and_never_200(make):
    web = make(ignore_address=True, error_shape="drf", errors_with_200=True)
    crashed = web.post(f"{OPEN}/requests.json", data=graffiti(lat=None, long=None))
    assert crashed.status_code == 500 and list(crashed.get_json()) == ["detail"]
    page = make(ignore_address=True, error_shape="html").post(
        f"{OPEN}/requests.json", data=graffiti(lat=None, long=None, address_string="120 Main St")
    )
    assert page.status_code == 500 and "<h1>500 Internal Server Error</h1>" in page.text


def test_ignore_address_files_points_and_drops_the_typed_address(make):
    web = make(ignore_address=True)
    rid = file(web, address_string="Somewhere Else 999")
    found = web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]
    assert found["lat"] == float(LOC["lat"]) and found["address"] != "Somewhere Else 999"


def test_by_default_a_typed_address_is_enough(make):
    web = make()
    rid = file(web, lat=None, long=None, address_string="120 Main St")
    found = web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]
    assert found["address"] == "120 Main St" and found["lat"] is not None


# -- 10. address_field ------------------------------------------------------------------------


def test_address_field_reads_the_typed_address_from_that_field(make):
    web = make(address_field="address")
    rid = file(web, lat=None, long=None, address="120 Main St")
    found = web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]
    assert found["address"] == "120 Main St" and found["lat"] is not None
    spec = web.post(f"{OPEN}/requests.json", data=graffiti(lat=None, long=None, address_string="x"))
    assert spec.status_code == 400  # address_string is not read


def test_address_field_with_ignore_address(make):
    web = make(ignore_address=True, address_field="address")
    rid = file(web, lat=None, long=None, address="120 Main St")
    assert web.get(f"{OPEN}/requests/{rid}.json").get_json()[0]["lat"] is not None
    typed = graffiti(lat=None, long=None, address_string="120 Main St")
    assert web.post(f"{OPEN}/requests.json", data=typed).status_code == 500
    unknown = graffiti(lat=None, long=None, address="1 Nowhere Lane, Atlantis")
    assert web.post(f"{OPEN}/requests.json", data=unknown).status_code == 500


# -- 11. the POST log -------------------------------------------------------------------------


def test_admin_posts_lists_every_post_with_the_key_masked(make):
    web = make()
    assert web.get("/admin/posts").get_json() == []
    rid = file(web, description="Tags", **{"attribute[DUMPED][]": ["TIRES", "FURN"]})
    web.post(f"{OPEN}/requests.json", data=graffiti(service_code=None))
    web.get(f"{OPEN}/services.json")
    posts = web.get("/admin/posts").get_json()
    assert [p["status"] for p in posts] == [200, 400]
    assert [p["service_request_id"] for p in posts] == [rid, None]
    first = posts[0]
    assert first["path"] == f"{OPEN}/requests.json" and first["received"]
    assert first["form"]["api_key"] == "***" and KEY not in str(posts)
    assert first["form"]["description"] == "Tags"
    assert first["form"]["attribute[DUMPED][]"] == ["TIRES", "FURN"]
    assert "service_code" not in posts[1]["form"]
    assert web.delete("/admin/posts").get_json() == {"cleared": 2}
    assert web.get("/admin/posts").get_json() == []


def test_admin_posts_logs_posts_refused_by_a_fault(make):
    web = make()
    web.post("/admin/faults", json={"mode": "500"})
    web.post(f"{OPEN}/requests.json", data=graffiti())
    [post] = web.get("/admin/posts").get_json()
    assert post["status"] == 500 and post["service_request_id"] is None


# -- the CLI and the index --------------------------------------------------------------------


class _Captured(Exception):
    """Raised by the fake server so the CLI stops once it has built the app."""


def test_cli_options_reach_the_sandbox(monkeypatch, tmp_path):
    built = {}

    class FakeServer:
        host, port, url = "127.0.0.1", 1, "http://127.0.0.1:1"

        def __init__(self, app, host, port):
            built["config"] = app.extensions["sandbox"]

        def start(self):
            raise _Captured

    monkeypatch.setattr("sandbox.server.ServerThread", FakeServer)
    args = ["--db", str(tmp_path / "s.sqlite3"), "--accept-only", "application/xml"]
    args += ["--list-root", "requests", "--json-wrap", "results", "--error-shape", "drf-code"]
    args += ["--page-past-end", "404", "--id-style", "letters", "--expected-on-create", "72"]
    args += ["--moderated", "--moderate-after", "30", "--store-delay", "5", "--ignore-address"]
    args += ["--address-field", "address"]
    done = CliRunner().invoke(cli.sandbox, args)
    assert isinstance(done.exception, _Captured), done.output
    config = built["config"]
    assert (config.accept_only, config.list_root, config.json_wrap) == (
        "application/xml",
        "requests",
        "results",
    )
    assert (config.error_shape, config.page_past_end, config.id_style) == (
        "drf-code",
        "404",
        "letters",
    )
    assert (config.expected_on_create, config.moderate_after, config.store_delay) == (72, 30, 5)
    assert config.moderated and config.ignore_address and config.address_field == "address"
    assert "--id-style letters" in done.output and "/admin/posts" in done.output


def test_index_documents_the_switches_and_shows_those_on(make):
    index = make(id_style="letters", moderated=True).get("/").get_data(as_text=True)
    for flag in (
        "--accept-only",
        "--list-root",
        "--json-wrap",
        "--error-shape",
        "--page-past-end",
        "--id-style",
        "--expected-on-create",
        "--moderated",
        "--moderate-after",
        "--store-delay",
        "--ignore-address",
        "--address-field",
        "/admin/posts",
        "/moderate",
    ):
        assert flag in index
    assert "On here: --id-style letters, --moderated" in index
    assert "On here: no switch" in make().get("/").get_data(as_text=True)
