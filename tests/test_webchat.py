"""The web chat channel end to end: the page, a session, a report from "hi" to the request
number, through the real Flask app, Redis, the database and the Open311 sandbox.

The "provider" is the page's own script (bot/channels/webchat.html); these calls are the ones
it makes, and `test_the_page_speaks_the_api_these_tests_use` keeps the two in step.
"""

from __future__ import annotations

import re

import pytest
import redis
from sqlmodel import select

from bot import ratelimits
from bot.channels import webchat
from bot.db import session_scope
from bot.models import Message, Report
from bot.settings import get_settings
from tests.conftest import run_jobs
from webhooks import create_app

SECRET = "webchat-test-secret"


@pytest.fixture
def chat(env, monkeypatch):
    monkeypatch.setenv("WEBCHAT_SECRET", SECRET)
    get_settings.cache_clear()
    return WebChatPage(create_app({"TESTING": True}).test_client())


class WebChatPage:
    """What the page's script does: take a session, post lines, poll for replies."""

    def __init__(self, client):
        self.client = client
        answer = client.post("/webhooks/webchat/session")
        assert answer.status_code == 200
        self.token = answer.get_json()["token"]
        self.after = 0
        self.sent = 0

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, text: str, message_id: str | None = None, reply_to: str | None = None):
        self.sent += 1
        body = {"id": message_id or f"m{self.sent}", "text": text, "reply_to": reply_to}
        return self.client.post("/webhooks/webchat", json=body, headers=self.headers)

    def say(self, text: str, **extra) -> list[dict]:
        assert self.post(text, **extra).get_json() == {"ok": True}
        run_jobs()
        return self.poll()

    def poll(self) -> list[dict]:
        answer = self.client.get(
            f"/webhooks/webchat/messages?after={self.after}", headers=self.headers
        )
        assert answer.status_code == 200
        replies = answer.get_json()["messages"]
        if replies:
            self.after = replies[-1]["seq"]
        return replies


def test_a_resident_reports_by_web_chat_and_gets_the_request_number(chat):
    [greeting] = chat.say("hi")
    assert "report" in greeting["text"].lower() and greeting["expects"] == "choice"
    assert greeting["buttons"][0] == [greeting["options"][0], "1"]
    replies = chat.say("pothole")
    replies += chat.say("120 Main St")
    [question] = chat.say("deep hole in the right lane")
    assert question["expects"] == "choice" and question["buttons"][0][1] == "1"
    replies += chat.say(question["buttons"][0][1], reply_to=question["id"])  # a tap
    texts = " ".join(reply["text"] for reply in replies)
    assert "Main" in texts
    summary = replies[-1]
    # The first summary asks for consent: Yes / Private / No buttons in the resident's words.
    assert [value for _, value in summary["buttons"]] == ["yes", "private", "no"]
    after_yes = chat.say("yes", reply_to=summary["id"])
    run_jobs()
    after_yes += chat.poll()
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        assert report.service_request_id, [reply["text"] for reply in after_yes]
        number = report.service_request_id
    assert any(number in reply["text"] for reply in after_yes), after_yes


def test_a_message_posted_twice_is_handled_once(chat):
    assert chat.post("hi", message_id="same").status_code == 200
    assert chat.post("hi", message_id="same").status_code == 200
    run_jobs()
    with session_scope() as session:
        assert len(session.exec(select(Message).where(Message.direction == "in")).all()) == 1
    assert len(chat.poll()) == 1


def test_a_multiple_choice_question_shows_its_options_as_lines(chat, redis_conn):
    from bot.channels.base import Outgoing
    from bot.payloads import OutboundPayload, ReplyIntent

    session = chat.token.partition(".")[0]
    reply = ReplyIntent("Which sides?", ("North", "South"), "choices")
    out = Outgoing(
        99, f"webchat:{session}", "Which sides?\n1 North\n2 South", OutboundPayload(reply)
    )
    webchat.CHANNEL.send(out, get_settings())
    [shown] = chat.poll()
    assert shown["buttons"] == [] and "1 North" in shown["text"] and "2 South" in shown["text"]


def test_a_mailbox_that_expired_begins_again_and_the_page_is_told(chat, redis_conn):
    chat.say("hi")
    chat.say("pothole")
    high = chat.after
    assert high > 1
    redis_conn.flushdb()  # a day of silence: the mailbox and its counter expired
    chat.post("hi again")
    run_jobs()
    answer = chat.client.get(f"/webhooks/webchat/messages?after={high}", headers=chat.headers)
    assert answer.get_json()["last"] < high  # so the page starts again from 0
    chat.after = 0
    assert chat.poll()


def test_a_page_id_like_one_of_our_reply_ids_is_not_a_redelivery(chat):
    [greeting] = chat.say("hi")
    ours = greeting["id"].rpartition(":")[2]
    chat.post("pothole", message_id=ours)
    chat.post("pothole", message_id=ours)  # the page resending is still one message
    with session_scope() as session:
        inbound = session.exec(select(Message).where(Message.direction == "in")).all()
    assert [m.text for m in inbound] == ["hi", "pothole"]


def test_a_reply_id_longer_than_any_of_ours_is_not_kept(chat):
    chat.post("1", reply_to="x" * 5000)
    with session_scope() as session:
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
    assert message.payload["reply_to"] is None


def test_a_body_larger_than_any_provider_sends_is_refused(chat):
    huge = "x" * (2 * 1024 * 1024)
    answer = chat.client.post("/webhooks/webchat", json={"text": huge}, headers=chat.headers)
    assert answer.status_code == 413


def test_a_poll_returns_only_what_is_new(chat):
    first = chat.say("hi")
    assert first and chat.poll() == []
    chat.after = 0
    assert [reply["seq"] for reply in chat.poll()] == [reply["seq"] for reply in first]


def test_forged_or_missing_tokens_are_refused(chat):
    forged = webchat.new_token("not-our-secret")
    for headers in ({}, {"Authorization": f"Bearer {forged}"}):
        posted = chat.client.post("/webhooks/webchat", json={"text": "hi"}, headers=headers)
        assert posted.status_code == 403
    polled = chat.client.get("/webhooks/webchat/messages", headers={"Authorization": "Bearer x"})
    assert polled.status_code == 403
    run_jobs()
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []


def test_malformed_messages_get_a_400_and_nothing_is_stored(chat):
    for body in ("not json", '{"text": 1}', "[]"):
        answer = chat.client.post(
            "/webhooks/webchat",
            data=body,
            headers={**chat.headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 400
    assert (
        chat.client.get("/webhooks/webchat/messages?after=x", headers=chat.headers).status_code
        == 400
    )
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []


def test_stop_confirms_once_and_then_nothing_is_sent(chat):
    chat.say("hi")
    [confirmation] = chat.say("STOP")
    assert "STOP" not in confirmation["text"] or "START" in confirmation["text"]
    assert chat.say("pothole") == []


def test_the_page_is_served_and_speaks_the_api_these_tests_use(chat):
    page = chat.client.get("/webhooks/webchat/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    script = page.get_data(as_text=True)
    for used in ('"/session"', '"/messages?after="', '"Authorization"', "reply_to", "seq"):
        assert used in script
    assert "innerHTML" not in script  # the bot's words are set as text, never as HTML
    assert re.search(r'maxlength="2000"', script)


def test_a_client_starting_too_many_sessions_is_told_when_to_try_again(chat, monkeypatch):
    monkeypatch.setenv("WEBCHAT_SESSIONS_PER_CLIENT", "3/hour")
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    started = [client.post("/webhooks/webchat/session") for _ in range(4)]
    assert [a.status_code for a in started] == [200, 200, 200, 429]
    refused = started[-1]
    assert refused.get_json() == {"error": webchat.SESSIONS_REFUSED}
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    # Another client is not held, nor is a session already started.
    other = client.post("/webhooks/webchat/session", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200
    assert chat.say("hi")


def test_the_session_limit_lets_everyone_through_when_redis_is_down(chat, monkeypatch, caplog):
    monkeypatch.setenv("WEBCHAT_SESSIONS_PER_CLIENT", "1/hour")
    get_settings.cache_clear()

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(ratelimits.MovingWindowRateLimiter, "hit", down)
    assert chat.client.post("/webhooks/webchat/session").status_code == 200
    assert "session limit not checked (Redis: ConnectionError)" in caplog.text


def test_the_page_shows_why_a_session_was_refused(chat):
    script = chat.client.get("/webhooks/webchat/").get_data(as_text=True)
    # It reads the error, shows it and stops (no retries), rather than "could not be sent".
    assert "found.error" in script and "answer.status === 429" in script
    assert "status.textContent = error.message; return;" in script


def test_without_a_secret_the_channel_is_off(env):
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/webhooks/webchat/session").status_code == 404
    assert client.get("/webhooks/webchat/").status_code == 404
    assert client.post("/webhooks/webchat", json={"text": "hi"}).status_code == 404


def test_an_erased_residents_mailbox_goes_soon_after_the_last_reply(chat, redis_conn):
    chat.say("hi")
    chat.say("pothole")
    [asked] = chat.say("delete my data")
    assert asked["text"].startswith("Delete everything we keep")
    [done] = chat.say("yes")
    assert done["text"].startswith("Deleted: ")  # the page still reads the last reply
    [mailbox] = [key for key in redis_conn.keys("intake311:webchat:*") if b":seq" not in key]
    assert 0 < redis_conn.ttl(mailbox) <= webchat.FORGOTTEN_MAILBOX_SECONDS
    assert 0 < redis_conn.ttl(mailbox + b":seq") <= webchat.FORGOTTEN_MAILBOX_SECONDS
