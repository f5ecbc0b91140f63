"""Facebook Messenger: Meta's signed webhook in, the Send API out to the Graph API stand-in
(tests/fakes/graph_api.py), and Messenger's 24-hour window: replies inside it, a notice tagged
after it, a reply after it recorded as failed for staff.

Everything is real: the Flask test client posting bodies signed as Meta signs them, Redis,
SQLite (and PostgreSQL where the end-to-end report is filed), rq jobs in-process, the Open311
sandbox and its geocoder, and the channel's own httpx client against the stand-in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot import jobs
from bot.channels import graph_api, messenger
from bot.channels.base import MalformedInbound, Outgoing, SendError, WebRequest
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.failures import list_failures
from bot.media.types import MediaRefused
from bot.models import Contact, Message, Report
from bot.pacing import buckets_for
from bot.payloads import OutboundPayload, ReplyIntent
from bot.settings import Settings, get_settings
from sandbox.server import serve
from tests.conftest import PUBLIC_BASE_URL, run_jobs
from tests.fakes.graph_api import (
    PAGE_ID,
    create_graph_api_app,
    event_body,
    fixture,
    message_event,
    reset_graph_api,
    sent,
    sign,
    signed_post,
)
from tests.test_end_to_end import POTHOLE, city_request, returning_resident, set_city_status
from webhooks import create_app

PAGE_TOKEN = "EAAGm0PX4ZCpsBAtestpagetoken0123456789abcdefZZ"
APP_SECRET = "5d41402abc4b2a76b9719d911017c592"
VERIFY_TOKEN = "verify-token_0123456789abcdefXYZ"
VERSION = "v25.0"
PSID = "6782041937154823"
ADDRESS = f"messenger:{PSID}"


@pytest.fixture(scope="module")
def graph_server():
    """The Graph API stand-in on loopback."""
    server = serve(create_graph_api_app(PAGE_TOKEN, VERSION))
    yield server
    server.stop()


@pytest.fixture
def graph(graph_server):
    """The stand-in's Flask app, emptied for this test."""
    reset_graph_api(graph_server._server.app)
    return graph_server._server.app


def configure(monkeypatch, graph_server, **values: str) -> Settings:
    """Messenger's settings pointed at the stand-in (and any others given), not paced."""
    env = {
        "META_APP_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "META_PAGE_TOKEN": PAGE_TOKEN,
        "META_GRAPH_BASE": graph_server.url,
        "META_GRAPH_VERSION": VERSION,
        "META_MEDIA_HOSTS": f"127.0.0.1:{graph_server.port}",
        "MESSENGER_SENDS_PER_SECOND": "0",
        "MESSENGER_USER_SENDS_PER_SECOND": "0",
        **values,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


class Resident:
    """A resident's Messenger: events go in as signed webhook calls, the page's messages come
    out of the Graph API stand-in."""

    def __init__(self, client, graph, psid: str = PSID):
        self.client = client
        self.graph = graph
        self.psid = psid
        self.read = 0
        self.last: list[dict] = []

    def post(self, *events: dict) -> list[dict]:
        response = signed_post(self.client, event_body(list(events)), APP_SECRET)
        assert response.status_code == 200, response.data
        run_jobs()
        return self.inbox()

    def say(self, text: str) -> list[dict]:
        """Type words; the page's messages since (Send API bodies)."""
        return self.post(message_event(self.psid, text))

    def tap(self, label: str) -> list[dict]:
        """Tap the quick reply whose title is or starts `label` on the latest message."""
        for body in reversed(self.last):
            for reply in body["message"].get("quick_replies", []):
                shown = reply["title"]
                if shown == label or shown.split(". ", 1)[-1].startswith(label.rstrip("…")):
                    event = message_event(
                        self.psid, shown, quick_reply={"payload": reply["payload"]}
                    )
                    return self.post(event)
        raise AssertionError(f"no quick reply {label!r} in {self.last}")

    def pin(self, lat: float, long: float) -> list[dict]:
        """Share a location from Messenger's menu."""
        attachment = fixture("location")["entry"][0]["messaging"][0]["message"]["attachments"]
        attachment = [dict(attachment[0], payload={"coordinates": {"lat": lat, "long": long}})]
        return self.post(message_event(self.psid, attachments=attachment))

    def inbox(self) -> list[dict]:
        """The page's messages since the last look."""
        mine = sent(self.graph, self.psid)
        new, self.read = mine[self.read :], len(mine)
        if new:
            self.last = new
        return new


def titles(body: dict) -> list[str]:
    return [reply["title"] for reply in body["message"].get("quick_replies", [])]


def text(body: dict) -> str:
    return body["message"]["text"]


@pytest.fixture
def resident(env, graph, graph_server, monkeypatch):
    configure(monkeypatch, graph_server)
    returning_resident(ADDRESS, "messenger")
    return Resident(create_app({"TESTING": True}).test_client(), graph)


@pytest.fixture
def quick_resident(sqlite_env, graph, graph_server, monkeypatch):
    """As `resident`, on SQLite alone (where the database does not matter)."""
    configure(monkeypatch, graph_server)
    returning_resident(ADDRESS, "messenger")
    return Resident(create_app({"TESTING": True}).test_client(), graph)


def only_report() -> Report:
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        return report


def outbound() -> list[Message]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
        )


def quiet_for(hours: float) -> None:
    """Move every message the resident sent `hours` into the past."""
    with session_scope() as session:
        for message in session.exec(select(Message).where(Message.direction == "in")):
            message.created_at -= timedelta(hours=hours)


def file_a_report(resident: Resident) -> Report:
    """A pothole at 120 Main St, filed from Messenger with quick replies."""
    resident.say("hi")
    resident.tap("Pothole in Street")
    resident.say("120 Main St")
    resident.say("Deep hole in the right lane")
    resident.tap("Crosswalk")
    resident.tap("Yes")
    report = only_report()
    assert report.state == "submitted"
    return report


# --- the end to end report ----------------------------------------------------------------------


def test_a_report_filed_with_quick_replies_and_a_pin_then_its_status(resident, graph):
    [menu] = resident.say("hi")
    assert text(menu).startswith("Hi! What would you like to report?")
    assert "1 Pothole in Street" in text(menu)  # the numbered lines stay: titles are cut
    assert titles(menu)[0] == "1. Pothole in Street"
    assert menu["message"]["quick_replies"][0]["payload"] == "1"
    assert menu["messaging_type"] == "RESPONSE" and menu["recipient"] == {"id": PSID}

    [ask_where] = resident.tap("Pothole in Street")
    assert "Where is it?" in text(ask_where)
    [taken] = resident.pin(39.8001, -89.6455)
    assert text(taken).startswith("Thanks, I have the location.")
    [where_exactly] = resident.say("Deep hole, cars swerving")
    assert text(where_exactly).startswith("Where is the pothole?")
    [summary] = resident.tap("Next to the curb")
    assert "Main Street" in text(summary)  # the pin, named by reverse geocoding
    assert titles(summary) == ["Yes", "No"]
    assert [r["payload"] for r in summary["message"]["quick_replies"]] == ["yes", "no"]

    thanks, filed = resident.tap("Yes")
    report = only_report()
    assert report.state == "submitted"
    assert f"Request number: {report.service_request_id}" in text(filed)
    assert (report.lat, report.lon) == (39.8001, -89.6455)
    city = city_request(report.service_request_id)
    assert city["service_code"] == POTHOLE and float(city["lat"]) == pytest.approx(39.8001)

    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
    assert contact.address == ADDRESS and contact.channel == "messenger"
    messages = outbound()
    assert {m.status for m in messages} == {"sent"}
    assert [m.external_id for m in messages] == [body["mid"] for body in sent(graph, PSID)]

    set_city_status(report.service_request_id, "closed", "Patched by the streets crew.")
    assert jobs.track() == 1
    run_jobs()
    [update] = resident.inbox()
    assert text(update) == (
        f"Update on request {report.service_request_id} (Pothole in Street): closed. "
        "Patched by the streets crew."
    )
    assert update["messaging_type"] == "UPDATE"  # a notice within the window: not a response
    # Every call: the version, the page token, nothing else in the query.
    assert all(call["params"] == {} for call in graph.config["CALLS"])
    assert graph.config["REFUSED"] == []
