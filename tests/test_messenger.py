"""Facebook Messenger: Meta's signed webhook in, the Send API out to the Graph API stand-in
(tests/fakes/graph_api.py), and Messenger's 24-hour window: replies inside it, a notice tagged
after it, a reply after it recorded as failed for staff.

Everything is real: the Flask test client posting bodies signed as Meta signs them, Redis,
SQLite (and PostgreSQL where the end-to-end report is filed), rq jobs in-process, the Open311
sandbox and its geocoder, and the channel's own httpx client against the stand-in.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot import jobs
from bot.channels import graph_api, messenger
from bot.channels.base import Outgoing, SendError, WebRequest
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

NEAR = r"Thanks, I have the location: near \d+ [A-Z][a-z]+ (Street|Avenue)"  # a pin read back

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
    assert re.match(NEAR, text(taken))
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


# --- the webhook: handshake, signatures, batches, replays ---------------------------------------


def hub(client, **query: str):
    return client.get("/webhooks/messenger", query_string=query)


def test_the_handshake_answers_the_challenge_only_for_our_verify_token(quick_resident):
    client = quick_resident.client
    ok = hub(
        client,
        **{
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "1158201444")
    assert ok.mimetype == "text/plain"
    for query in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ):
        refused = hub(client, **query)
        assert refused.status_code == 403 and "1" not in refused.get_data(as_text=True)


def test_no_verify_token_set_refuses_every_handshake():
    settings = Settings(meta_verify_token="")
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "5"}
    assert messenger.handshake(query, settings).status == 403


def inbound() -> list[Message]:
    with session_scope() as session:
        return list(session.exec(select(Message).where(Message.direction == "in")).all())


def test_a_forged_or_unsigned_call_is_refused_and_nothing_stored(quick_resident):
    client = quick_resident.client
    body = fixture("text")
    assert signed_post(client, body, "not-the-app-secret").status_code == 403
    assert signed_post(client, body, None).status_code == 403
    raw = json.dumps(body).encode()
    tampered = client.post(
        "/webhooks/messenger",
        data=raw.replace(b"pothole", b"POTHOLE"),
        headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)},
    )
    assert tampered.status_code == 403
    assert inbound() == []


def test_a_form_encoded_call_is_checked_over_its_raw_body(quick_resident):
    """A signature over an empty body must not pass for a call whose body is form-encoded."""
    raw = json.dumps(fixture("text")).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = quick_resident.client.post(
        "/webhooks/messenger",
        data=raw,
        headers={**form, "X-Hub-Signature-256": sign(b"", APP_SECRET)},
    )
    assert forged.status_code == 403 and inbound() == []
    genuine = quick_resident.client.post(
        "/webhooks/messenger",
        data=raw,
        headers={**form, "X-Hub-Signature-256": sign(raw, APP_SECRET)},
    )
    assert genuine.status_code == 200 and len(inbound()) == 1


def test_a_replayed_event_is_stored_once(quick_resident):
    client = quick_resident.client
    body = fixture("text")
    for _ in range(2):
        response = signed_post(client, body, APP_SECRET)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "EVENT_RECEIVED")
    [message] = inbound()
    mid = body["entry"][0]["messaging"][0]["message"]["mid"]
    assert (message.channel, message.external_id) == ("messenger", mid)
    assert message.text == "There's a big pothole outside 120 Main St"
    # Only the event's kind, mid and time are kept: not the PSID nor the page's id.
    assert PSID not in json.dumps(message.payload) and PAGE_ID not in json.dumps(message.payload)


def test_a_batch_is_read_whole_and_echoes_and_reads_ignored(quick_resident):
    events = [
        message_event(PSID, "first"),
        fixture("echo")["entry"][0]["messaging"][0],
        fixture("read")["entry"][0]["messaging"][0],
        message_event("6782041937154824", "second, from another resident"),
    ]
    response = signed_post(quick_resident.client, event_body(events), APP_SECRET)
    assert response.status_code == 200
    assert sorted(m.text for m in inbound()) == ["first", "second, from another resident"]


def test_a_postback_without_a_mid_is_named_without_the_psid():
    event = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1764989990120,
        "postback": {"title": "Get Started", "payload": "GET_STARTED"},
    }
    [postback] = messenger.parse_body(event_body([event]))
    [again] = messenger.parse_body(event_body([event]))
    assert postback.external_id == again.external_id  # a redelivery is still stored once
    assert postback.external_id.startswith("pb:") and postback.external_id.endswith(
        ":1764989990120"
    )
    assert PSID not in postback.external_id
    assert PSID not in json.dumps(postback.payload.raw)  # kept_raw keeps no sender's id
    other = dict(event, sender={"id": "1234567890"})
    assert messenger.parse_body(event_body([other]))[0].external_id != postback.external_id


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"object": "page"}', b'{"object": "page", "entry": [{"messaging": 1}]}'],
)
def test_a_malformed_body_is_400_not_500(quick_resident, body):
    response = signed_post(quick_resident.client, body, APP_SECRET)
    assert response.status_code == 400
    assert inbound() == []


def test_a_delivery_marks_our_message_delivered(quick_resident, graph):
    [menu] = quick_resident.say("hi")
    delivery = fixture("delivery")["entry"][0]["messaging"][0]
    delivery["delivery"]["mids"] = [menu["mid"]]
    assert signed_post(quick_resident.client, event_body([delivery]), APP_SECRET).status_code == 200
    [reply] = outbound()
    assert (reply.external_id, reply.status) == (menu["mid"], "delivered")


def test_an_unstorable_call_is_still_answered_200():
    request = WebRequest("POST", "u", "/webhooks/messenger", "", "", {}, {}, {}, b"")
    assert messenger.CHANNEL.unstorable(request, "a value the database refuses").status == 200


# --- the 24-hour window ---------------------------------------------------------------------


def test_a_status_update_after_24_hours_goes_tagged(resident, graph):
    report = file_a_report(resident)
    quiet_for(25)
    graph.config["WINDOW_CLOSED"].add(PSID)  # Meta refuses anything untagged now
    set_city_status(report.service_request_id, "closed", "Patched.")
    assert jobs.track() == 1
    run_jobs()
    [update] = resident.inbox()
    assert update["messaging_type"] == "MESSAGE_TAG" and update["tag"] == "ACCOUNT_UPDATE"
    assert text(update).endswith("closed. Patched.")
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "sent" and notice.external_id == update["mid"]


def test_a_reply_after_24_hours_is_failed_and_listed_for_staff(quick_resident, graph):
    quick_resident.say("hi")
    before = len(sent(graph))
    quiet_for(25)
    with session_scope() as session:
        from bot.intake import conversation_for

        conversation = conversation_for(session, "messenger", ADDRESS)
        from bot.jobs.common import store_reply
        from conversations.types import Reply

        reply = store_reply(session, conversation, Reply("Are you still there?"))
        session.flush()
        reply_id = reply.id
    jobs.deliver(reply_id)
    run_jobs(include_delayed=True)
    assert len(sent(graph)) == before  # nothing went out
    with session_scope() as session:
        message = session.get(Message, reply_id)
        assert (message.status, message.error_code) == ("failed", messenger.OUTSIDE_WINDOW)
    [failure] = [f for f in list_failures() if f.name == f"send:{reply_id}"]
    assert failure.what.endswith("on messenger") and failure.error == messenger.OUTSIDE_WINDOW
    assert "a reply cannot be" in failure.hint


def test_without_a_tag_a_notice_after_24_hours_is_failed_with_the_setting_to_set(
    resident, graph, graph_server, monkeypatch
):
    report = file_a_report(resident)
    configure(monkeypatch, graph_server, META_MESSAGE_TAG="")
    before = len(sent(graph))
    quiet_for(25)
    set_city_status(report.service_request_id, "closed", "Patched.")
    jobs.track()
    run_jobs(include_delayed=True)
    assert len(sent(graph)) == before
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "failed" and notice.error_code == messenger.OUTSIDE_WINDOW
    [failure] = [f for f in list_failures() if f.name == f"send:{notice.id}"]
    assert "set META_MESSAGE_TAG" in failure.hint


def test_a_reply_meta_refuses_as_outside_the_window_is_failed_for_staff(quick_resident, graph):
    """Our clock and Meta's disagree: Meta's 10/2018278 for a reply ends as ours does (a reply
    may not go tagged), tried once."""
    graph.config["WINDOW_CLOSED"].add(PSID)
    assert quick_resident.say("hi") == []
    [menu] = outbound()
    assert (menu.status, menu.error_code) == ("failed", "10/2018278")
    [failure] = [f for f in list_failures() if f.name == f"send:{menu.id}"]
    assert "a reply cannot be" in failure.hint
    assert len([c for c in graph.config["CALLS"] if c["path"] == "me/messages"]) == 1


def test_a_notice_meta_says_is_outside_the_window_goes_again_at_once_tagged(resident, graph):
    """Meta counts the window from the resident's message, we from when we stored it (a batch
    redelivered after an outage): Meta says closed while we say open."""
    report = file_a_report(resident)
    resident.inbox()
    graph.config["WINDOW_CLOSED"].add(PSID)
    set_city_status(report.service_request_id, "closed", "Patched.")
    jobs.track()
    run_jobs(include_delayed=True)
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    [update] = resident.inbox()
    assert (update["messaging_type"], update["tag"]) == ("MESSAGE_TAG", "ACCOUNT_UPDATE")
    assert notice.status == "sent" and notice.external_id == update["mid"]
    tries = [c["body"].get("messaging_type") for c in graph.config["CALLS"][-2:]]
    assert tries == ["UPDATE", "MESSAGE_TAG"]  # refused untagged once, then tagged


def test_a_notice_meta_refuses_without_a_tag_set_tells_staff_to_set_it(
    quick_resident, graph, graph_server, monkeypatch
):
    configure(monkeypatch, graph_server, META_MESSAGE_TAG="")
    quick_resident.say("hi")  # our window is open
    before = len(sent(graph))
    graph.config["WINDOW_CLOSED"].add(PSID)
    notice_id = quick_notice()
    run_jobs(include_delayed=True)
    with session_scope() as session:
        notice = session.get(Message, notice_id)
        assert (notice.status, notice.error_code) == ("failed", messenger.OUTSIDE_WINDOW)
    [failure] = [f for f in list_failures() if f.name == f"send:{notice_id}"]
    assert "set META_MESSAGE_TAG" in failure.hint and "by our clock or Meta's" in failure.hint
    assert len(sent(graph)) == before
    assert graph.config["CALLS"][-1]["status"] == 400  # Meta refused it, not we


def quick_notice() -> int:
    """A notice to the resident of `quick_resident` (no report needed), queued; its id."""
    from bot.intake import conversation_for
    from bot.jobs.common import store_reply
    from bot.payloads import OutboundPayload as Payload
    from conversations.types import Reply

    with session_scope() as session:
        conversation = conversation_for(session, "messenger", ADDRESS)
        message = store_reply(session, conversation, Reply("Update on request 1: closed."))
        message.payload = Payload(notice="status", status_notice=True).to_dict()
        session.flush()
        message_id = message.id
    jobs.deliver(message_id)
    return message_id


# --- Send API failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected"),
    [
        (400, 613, None, ("pending", "613")),  # a rate limit: waits, the try not spent
        (400, 613, 2534040, ("pending", "613/2534040")),
        (400, 4, None, ("pending", "4")),
        (400, 32, None, ("pending", "32")),
        (400, 613, 2018338, ("failed", "613/2018338")),  # Meta's warning: never sent again
        (400, 613, 1893016, ("failed", "613/1893016")),
        (500, 1200, None, ("pending", "1200")),  # temporary
        (500, 2, None, ("pending", "2")),
        (400, 190, None, ("failed", "190")),  # a token Meta refuses: no retry fixes it
        (400, 551, 1545041, ("failed", "551/1545041")),
        (400, 100, None, ("failed", "100")),
    ],
)
def test_send_api_errors_are_retried_or_failed(
    quick_resident, graph, status, code, subcode, expected
):
    graph.config["FAIL_NEXT"].append((status, code, subcode))
    assert quick_resident.say("hi") == []
    [menu] = outbound()
    assert (menu.status, menu.error_code) == expected
    if expected[0] == "pending":
        assert menu.next_attempt_at is not None
        run_jobs(include_delayed=True)
        assert [m.status for m in outbound()] == ["sent"]


def test_each_error_is_mapped_as_meta_documents_it():
    from bot.channels.graph_api import GraphError

    rate = messenger.send_error(GraphError("limit", 400, 613))
    assert rate.retryable and rate.retry_after == messenger.RATE_LIMIT_WAIT
    assert messenger.send_error(GraphError("timeout")).retryable  # no answer at all
    assert messenger.send_error(GraphError("bad gateway", 502)).retryable
    token = messenger.send_error(GraphError("token", 400, 190, 460))
    assert not token.retryable and token.code == "190/460"
    hint = messenger.CHANNEL.failure_hint(token.code, "", Settings())
    assert "META_PAGE_TOKEN" in hint
    assert "blocked" in messenger.CHANNEL.failure_hint("551/1545041", "", Settings())


@pytest.mark.parametrize("subcode", [2018338, 1893016])
def test_metas_warning_about_tagged_messages_fails_for_good_with_a_hint(subcode):
    from bot.channels.graph_api import GraphError

    refused = messenger.send_error(GraphError("(#613) Warning!", 400, 613, subcode))
    assert not refused.retryable and refused.retry_after is None
    assert refused.code == f"613/{subcode}"
    hint = messenger.CHANNEL.failure_hint(refused.code, "status", Settings())
    assert "warning the page" in hint and "fewer tagged messages" in hint
    assert messenger.CHANNEL.failure_hint("613", "status", Settings()) == ""


def test_metas_tag_warning_is_tried_once_and_listed_for_staff(quick_resident, graph):
    graph.config["FAIL_NEXT"].extend([(400, 613, 2018338)] * 5)
    quick_resident.say("hi")
    run_jobs(include_delayed=True)
    [menu] = outbound()
    refused = [c for c in graph.config["CALLS"] if c["path"] == "me/messages"]
    assert len(refused) == 1 and (menu.status, menu.error_code) == ("failed", "613/2018338")
    [failure] = [f for f in list_failures() if f.name == f"send:{menu.id}"]
    assert "fewer tagged messages" in failure.hint


@pytest.mark.parametrize(("code", "page_held"), [(4, True), (32, True), (613, False), (17, False)])
def test_an_app_or_page_limit_holds_the_page_and_a_persons_limit_only_theirs(
    quick_resident, graph, graph_server, monkeypatch, code, page_held
):
    from bot import pacing

    settings = configure(
        monkeypatch,
        graph_server,
        MESSENGER_SENDS_PER_SECOND="100",
        MESSENGER_USER_SENDS_PER_SECOND="100",
    )
    graph.config["FAIL_NEXT"].append((400, code, None))
    assert quick_resident.say("hi") == []
    [menu] = outbound()
    assert menu.status == "pending" and menu.error_code == str(code)
    others = pacing.buckets_for("messenger", "messenger:1234567890", settings)
    assert (pacing.take(others) > 0) is page_held  # another person's send waits, or not
    assert pacing.take(pacing.buckets_for("messenger", ADDRESS, settings)) > 0


def test_no_answer_is_retryable_and_names_no_token():
    settings = Settings(
        meta_page_token=PAGE_TOKEN, meta_graph_base="http://127.0.0.1:9", meta_app_secret="x" * 9
    )
    out = Outgoing(1, ADDRESS, "hi", last_inbound_at=datetime.now(UTC))
    with pytest.raises(SendError) as refused:
        messenger.CHANNEL.send(out, settings)
    assert refused.value.retryable and PAGE_TOKEN not in str(refused.value)


def test_a_send_that_times_out_is_retried(quick_resident, graph, monkeypatch):
    monkeypatch.setattr(graph_api, "TIMEOUT", 0.3)
    graph.config["SLOW"] = 1.5
    assert quick_resident.say("hi") == []
    [menu] = outbound()
    assert menu.status == "pending" and menu.next_attempt_at is not None
    run_jobs(include_delayed=True)
    [menu] = outbound()
    assert menu.status == "sent"
    # The slow send reached Meta too (once its answer came, too late): without find_sent the
    # message went twice: at least once, not exactly once.
    deadline = time.monotonic() + 5
    while len(sent(graph, PSID)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sent(graph, PSID)) == 2


def test_the_token_is_only_ever_the_documented_query_parameter(quick_resident, graph, caplog):
    quick_resident.say("hi")
    [call] = [c for c in graph.config["CALLS"] if c["path"] == "me/messages"]
    assert PAGE_TOKEN not in json.dumps(call["body"])  # not in the body, only access_token
    assert PAGE_TOKEN not in caplog.text


# --- rendering ---------------------------------------------------------------------------------


def test_more_options_than_quick_replies_are_numbered_lines_alone():
    options = tuple(f"Service {n}" for n in range(1, 15))
    reply = ReplyIntent("Which?", options, "choice")
    assert messenger.quick_replies(reply) == []
    assert len(messenger.quick_replies(ReplyIntent("Which?", options[:13], "choice"))) == 13


def test_a_long_option_title_is_cut_to_twenty_characters():
    [long] = messenger.quick_replies(
        ReplyIntent("Which?", ("Abandoned Vehicle on a Public Street",), "choice")
    )
    assert long == {"content_type": "text", "title": "1. Abandoned Vehicl…", "payload": "1"}
    assert len(long["title"]) <= messenger.MAX_TITLE


def test_yes_private_no_in_the_residents_language():
    from bot.languages import load_languages

    spanish = load_languages()["es"]
    replies = messenger.quick_replies(ReplyIntent("¿Enviar?", (), "yes_no_private", "es"), spanish)
    assert [r["payload"] for r in replies] == ["yes", "private", "no"]
    assert replies[0]["title"] == spanish("Yes") != "Yes"


# --- photos ---------------------------------------------------------------------------------------

PHOTO = "https://311.springfield.example/photos/after.jpg"


def send_status_photo(report: Report, url: str = PHOTO) -> int:
    """The city's status update with its photo, stored and sent; its message id."""
    with session_scope() as session:
        notice = jobs.common.add_notice(
            session,
            session.get(Report, report.id),
            "Update on request 1: closed.",
            media_url=url,
            status=True,
            kind="status",
            values={"status": "closed"},
        )
        notice_id = notice.id
    jobs.deliver(notice_id)
    return notice_id


def test_a_status_photo_goes_as_an_image_after_the_words(quick_resident, graph):
    report = file_a_report(quick_resident)
    quick_resident.inbox()
    send_status_photo(report)
    words, image = quick_resident.inbox()
    assert text(words) == "Update on request 1: closed."
    assert image["message"] == {"attachment": {"type": "image", "payload": {"url": PHOTO}}}
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.external_id == words["mid"]  # the words' mid names the message


def test_a_photo_meta_cannot_fetch_goes_as_its_link_after_the_words(quick_resident, graph):
    report = file_a_report(quick_resident)
    quick_resident.inbox()
    graph.config["UNFETCHABLE"].add(PHOTO)
    send_status_photo(report)
    words, link = quick_resident.inbox()
    assert (text(words), text(link)) == ("Update on request 1: closed.", PHOTO)
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "sent" and notice.external_id == words["mid"]


def test_a_photo_that_fails_after_its_words_is_not_sent_again_nor_are_they(quick_resident, graph):
    report = file_a_report(quick_resident)
    quick_resident.inbox()
    graph.config["FAIL_NEXT"].extend([None, (500, 1200, None)])  # the second call: the photo
    send_status_photo(report)
    run_jobs(include_delayed=True)
    [words] = quick_resident.inbox()
    assert text(words) == "Update on request 1: closed."
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "sent" and notice.external_id == words["mid"]
    calls = [c for c in graph.config["CALLS"] if c["path"] == "me/messages"]
    assert [c["status"] for c in calls[-2:]] == [200, 500]


def test_words_that_fail_go_again_with_their_photo_each_once(quick_resident, graph):
    report = file_a_report(quick_resident)
    quick_resident.inbox()
    graph.config["FAIL_NEXT"].append((500, 1200, None))  # the words, the first time
    notice_id = send_status_photo(report)
    run_jobs(include_delayed=True)
    words, image = quick_resident.inbox()
    assert text(words) == "Update on request 1: closed." and "attachment" in image["message"]
    with session_scope() as session:
        assert session.get(Message, notice_id).status == "sent"


def test_the_photo_is_sent_once_when_only_the_words_fail(monkeypatch):
    """Whichever call fails retryably, the delivery job's retry never repeats one that went."""
    bodies: list[dict] = []

    def answer(settings, method, path, *, body=None, params=None):
        bodies.append(body)
        if len(bodies) == 2:  # the second call, the first time: Meta's temporary failure
            raise graph_api.GraphError("(#1200) Temporary send message failure", 500, 1200)
        return {"message_id": f"m_{len(bodies)}"}

    monkeypatch.setattr(graph_api, "call", answer)
    settings = Settings(meta_page_token=PAGE_TOKEN)
    out = Outgoing(
        7,
        ADDRESS,
        "Update on request 1: closed.",
        OutboundPayload(media_url=PHOTO, notice="status"),
        last_inbound_at=datetime.now(UTC),
    )
    try:
        messenger.CHANNEL.send(out, settings)
    except SendError as exc:
        assert exc.retryable
        messenger.CHANNEL.send(out, settings)  # the delivery job's retry
    gone = [b for n, b in enumerate(bodies, start=1) if n != 2]
    images = [b for b in gone if "attachment" in b["message"]]
    words = [b for b in gone if "text" in b["message"]]
    assert len(images) <= 1 and len(words) == 1, f"{len(images)} photos, {len(words)} words"


def test_a_residents_photo_is_fetched_from_the_cdn_without_credentials(
    quick_resident, graph, graph_server
):
    from bot.models import Photo

    graph.config["FILES"]["photo.jpg"] = _jpeg()
    url = f"{graph_server.url}/cdn/photo.jpg"
    image = {"type": "image", "payload": {"url": url}}
    quick_resident.post(message_event(PSID, "pothole on Main St", attachments=[image]))
    run_jobs(include_delayed=True)
    with session_scope() as session:
        photos = session.exec(select(Photo)).all()
    assert photos and all(p.state == "stored" for p in photos), [p.state for p in photos]
    assert graph.config["FILE_REQUESTS"] and {h for _, h in graph.config["FILE_REQUESTS"]} == {None}
    assert [p.reference for p in photos] == [url]


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "url",
    [
        "http://scontent.xx.fbcdn.net/v/photo.jpg",  # not https
        "https://fbcdn.net.evil.example/photo.jpg",
        "https://evil.example/scontent.xx.fbcdn.net/photo.jpg",
        "https://user:pw@scontent.xx.fbcdn.net/photo.jpg",
        "https://127.0.0.1/cdn/photo.jpg",
    ],
)
def test_only_metas_cdn_is_fetched(url):
    with pytest.raises(MediaRefused):
        messenger.CHANNEL.media_request(url, Settings())


def test_metas_cdn_hosts_are_fetched_over_https_with_no_credentials():
    for url in (
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/1_n.jpg?oh=1&oe=2",
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
        "https://cdn.fbsbx.com/v/t59.2708-21/1.jpg",
    ):
        request = messenger.CHANNEL.media_request(url, Settings())
        assert request.schemes == frozenset({"https"}) and request.auth is None
        assert request.credential_hosts == frozenset()


# --- pacing, settings, production, the CLI ---------------------------------------------------


def test_messenger_is_paced_per_page_and_per_person():
    settings = Settings(messenger_sends_per_second=300, messenger_user_sends_per_second=1)
    page, person = messenger.CHANNEL.send_rates(ADDRESS, settings)
    assert (page.key, page.per_second) == ("messenger:page", 300)
    assert person.per_second == 1 and PSID not in person.key
    assert len(buckets_for("messenger", ADDRESS, settings)) == 2


def test_the_secrets_are_hidden_masked_and_checked_in_production():
    from bot.logs import secret_values
    from bot.production import problems

    settings = Settings(
        meta_app_secret=APP_SECRET, meta_verify_token=VERIFY_TOKEN, meta_page_token=PAGE_TOKEN
    )
    for secret in (APP_SECRET, VERIFY_TOKEN, PAGE_TOKEN):
        assert secret not in repr(settings) and secret in secret_values(settings)
    unverifiable = Settings(meta_page_token=PAGE_TOKEN)
    assert any("META_APP_SECRET is not" in p for p in problems(unverifiable))
    assert not any("META_APP_SECRET" in p for p in problems(settings))
    weak = Settings(meta_app_secret=APP_SECRET, meta_verify_token="aaaa")
    assert any("META_VERIFY_TOKEN" in p for p in problems(weak))


@pytest.mark.parametrize(
    "tag", ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "HUMAN_AGENT", "NOT_A_TAG"]
)
def test_only_the_account_update_tag_fits_a_citys_notice(tag):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be ACCOUNT_UPDATE or empty") as refused:
        Settings(meta_message_tag=tag)
    assert tag in str(refused.value)
    assert Settings(meta_message_tag="account_update").meta_message_tag == "ACCOUNT_UPDATE"
    assert Settings(meta_message_tag="").meta_message_tag == ""


def test_a_person_not_available_is_not_a_missing_permission():
    for code in ("200/1545041", "551/1545041"):
        hint = messenger.CHANNEL.failure_hint(code, "", Settings())
        assert "cannot be reached" in hint and "permissions" not in hint, code
    assert "permissions" in messenger.CHANNEL.failure_hint("200", "", Settings())


@pytest.mark.parametrize("timestamp", ["²³", "١٢٣", "12³"])
def test_a_timestamp_of_digits_that_are_not_ascii_is_malformed(timestamp):
    from bot.channels.base import MalformedInbound

    event = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp,
        "postback": {"title": "Get Started", "payload": "GET_STARTED"},
    }
    with pytest.raises(MalformedInbound):
        messenger.parse_body(event_body([event]))
    assert "timestamp" not in messenger.kept_raw("message", "m_1", timestamp, [])


@pytest.mark.parametrize(
    "setting", [{"meta_message_tag": "NOT_A_TAG"}, {"meta_graph_version": "latest"}]
)
def test_a_tag_or_version_meta_does_not_name_is_refused(setting):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(**setting)


def test_messenger_is_registered_with_its_webhook_and_window():
    channel = channel_for("messenger")
    assert channel.webhook_path == "/webhooks/messenger" and channel.scheme == "messenger"
    assert channel.abilities.reply_window == timedelta(hours=24)
    assert channel.abilities.buttons and not channel.abilities.finds_sent
    assert Settings(meta_graph_version="25.0").meta_graph_version == "v25.0"


def test_set_webhook_subscribes_the_page_and_prints_no_token(
    sqlite_env, graph, graph_server, monkeypatch
):
    from bot.cli import main

    configure(monkeypatch, graph_server)
    result = CliRunner().invoke(main, ["messenger", "set-webhook"])
    assert result.exit_code == 0, result.output
    assert f"{PUBLIC_BASE_URL}/webhooks/messenger" in result.output
    assert graph.config["SUBSCRIBED"] == list(messenger.SUBSCRIBED_FIELDS)
    [subscribe] = [c for c in graph.config["CALLS"] if c["method"] == "POST"]
    assert subscribe["path"] == f"{PAGE_ID}/subscribed_apps"
    assert subscribe["params"] == {
        "subscribed_fields": "messages,messaging_postbacks,message_deliveries"
    }
    info = CliRunner().invoke(main, ["messenger", "info"])
    assert info.exit_code == 0, info.output
    assert "City of Springfield 311" in info.output and "messaging_postbacks" in info.output
    for secret in (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in result.output + info.output


def test_a_refused_token_is_a_clear_error_without_the_token(
    sqlite_env, graph, graph_server, monkeypatch
):
    from bot.cli import main

    configure(monkeypatch, graph_server, META_PAGE_TOKEN="EAAwrong-token-0123456789")
    result = CliRunner().invoke(main, ["messenger", "info"])
    assert result.exit_code != 0 and "Meta refused" in result.output
    assert "190" in result.output and "EAAwrong-token-0123456789" not in result.output
