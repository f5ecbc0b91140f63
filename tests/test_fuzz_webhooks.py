"""Fuzzing the webhooks end to end (issue #15), through the real Flask app, correctly signed
(Twilio's X-Twilio-Signature, Telegram's secret header, web chat's bearer token), on SQLite and
PostgreSQL; then every turn the calls queued is run, with its replies sent through the Twilio
and Telegram stand-ins.

Properties: no call is answered 500; no job fails and no resident's message is set aside as a
crashed turn; every contact stored and every reply sent is addressed to a sender of a call
that was accepted; each input is handled within tests.fuzzing.SLOWEST_ALLOWED.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot.channels import telegram, webchat
from bot.db import session_scope
from bot.models import Contact, Direction, Message, MessageStatus
from bot.queue import KINDS, get_queue
from bot.settings import get_settings
from tests.conftest import TELEGRAM_SECRET, run_jobs
from tests.fakes.telegram_api import sent as telegram_sent
from tests.fuzzing import figures, fuzz_settings, header_text, hostile_text, mutated
from tests.test_fuzz_parsers import telegram_bodies, telegram_senders, twilio_calls
from tests.test_messenger import graph, graph_server  # noqa: F401  the Graph API stand-in
from tests.twilio_webhooks import post_signed
from webhooks import create_app

WEBCHAT_SECRET = "fuzz-webchat-secret"
ANSWERS = {200, 204, 400, 403, 404, 405, 413}


@pytest.fixture
def client(env, monkeypatch):
    monkeypatch.setenv("WEBCHAT_SECRET", WEBCHAT_SECRET)
    # The abuse limits off (tests/test_limits.py floods them): every message takes its turn.
    for limit in (
        "INBOUND_LIMIT_PER_SENDER",
        "INBOUND_LIMIT_GLOBAL",
        "REPLY_LIMIT_PER_SENDER",
        "WEBCHAT_SESSIONS_PER_CLIENT",
    ):
        monkeypatch.setenv(limit, "")
    get_settings.cache_clear()
    return create_app({"TESTING": True}).test_client()


@pytest.fixture
def database(request) -> str:
    return request.node.callspec.params["env"]


def _addresses() -> tuple[set[str], set[str]]:
    """Every contact's address, and the addresses of contacts that were sent a reply."""
    with session_scope() as session:
        # A contact that said STOP or DELETE MY DATA keeps no address.
        contacts = {c.id: c.address for c in session.exec(select(Contact)).all() if c.address}
        replied = {
            contacts[m.contact_id]
            for m in session.exec(select(Message).where(Message.direction == Direction.OUT))
            if m.contact_id in contacts
        }
    return set(contacts.values()), replied


def _run_turns_and_check(senders: set[str], kept) -> None:
    """Run every queued turn and send; nothing crashed and no one but a sender was written to."""
    run_jobs(include_delayed=True)
    for kind in KINDS:
        assert get_queue(kind).failed_job_registry.count == 0, "a job failed"
    with session_scope() as session:
        crashed = session.exec(
            select(Message).where(
                Message.direction == Direction.IN, Message.status == MessageStatus.FAILED
            )
        ).all()
        handled = session.exec(
            select(Message).where(
                Message.direction == Direction.IN, Message.status == MessageStatus.PROCESSED
            )
        ).all()
        replies = session.exec(select(Message).where(Message.direction == Direction.OUT)).all()
    assert [(m.id, m.error_code) for m in crashed] == [], "a turn crashed"
    kept.outcome("messages answered", len(handled))  # STOP and DELETE MY DATA erase some
    kept.outcome("replies", len(replies))
    contacts, replied = _addresses()
    assert contacts <= senders
    assert replied <= senders
    kept.outcome("residents answered", len(replied))


def test_fuzz_twilio_webhooks(client, twilio_api, database):
    senders: set[str] = set()
    with figures(f"webhooks: Twilio, signed ({database})") as kept:

        @fuzz_settings(80)
        @given(call=twilio_calls(form_only=True))
        def one(call):
            subpath, form = call
            with kept.trying():
                response = post_signed(client, "/webhooks/twilio" + subpath, form)
                kept.outcome(response.status_code)
                assert response.status_code in ANSWERS, response.get_data(as_text=True)
                if response.status_code == 200 and subpath == "":
                    sender = form["From"].strip()  # WhatsApp's are addresses already
                    senders.add(sender if sender.startswith("whatsapp:") else f"tel:{sender}")

        one()
        _run_turns_and_check(senders, kept)
    sent_to = {to for item in twilio_api.config["SENT"] for to in item["form"].get("To", [])}
    assert {to if to.startswith("whatsapp:") else f"tel:{to}" for to in sent_to} <= senders


def test_fuzz_telegram_webhooks(client, telegram_api, database):
    senders: set[str] = set()
    with figures(f"webhooks: Telegram, signed ({database})") as kept:

        @fuzz_settings(80)
        @given(body=telegram_bodies())
        def one(body):
            update, raw = body
            with kept.trying():
                response = client.post(
                    "/webhooks/telegram",
                    data=raw,
                    headers={
                        telegram.SECRET_HEADER: TELEGRAM_SECRET,
                        "Content-Type": "application/json",
                    },
                )
                kept.outcome(response.status_code)
                assert response.status_code in ANSWERS, response.get_data(as_text=True)
                if response.status_code == 200:
                    senders.update(telegram_senders(update))

        one()
        _run_turns_and_check(senders, kept)
    chats = {telegram.address_for(int(call["chat_id"])) for call in telegram_sent(telegram_api)}
    assert chats <= senders


@st.composite
def webchat_posts(draw, tokens: list[str]) -> tuple[int, str, str, bytes, str]:
    """A web chat call from one of the sessions (or a forged token): method, path, body."""
    which = draw(st.integers(0, len(tokens)))
    token = tokens[which] if which < len(tokens) else draw(header_text(30))
    kind = draw(st.sampled_from(["message"] * 5 + ["poll", "session", "other"]))
    if kind == "message":
        body = mutated({"id": "m1", "text": "pothole on Elm", "reply_to": "x:9"}, draw, changes=3)
        if isinstance(body, dict) and draw(st.booleans()):
            body["id"] = draw(hostile_text(form=True, max_size=20))
        return which, "POST", "/webhooks/webchat", json.dumps(body).encode(), token
    if kind == "poll":
        after = draw(hostile_text(form=True, max_size=20))
        return which, "GET", "/webhooks/webchat/messages?" + json.dumps(after)[1:-1], b"", token
    if kind == "session":
        return which, "POST", "/webhooks/webchat/session", b"", token
    return which, draw(st.sampled_from(["GET", "POST"])), "/webhooks/webchat/x", b"{}", token


def test_fuzz_webchat_webhooks(client, database, redis_conn):
    tokens = [client.post("/webhooks/webchat/session").get_json()["token"] for _ in range(3)]
    sessions = [webchat.session_of(token, WEBCHAT_SECRET) for token in tokens]
    senders: set[str] = set()
    with figures(f"webhooks: web chat, signed ({database})") as kept:

        @fuzz_settings(80)
        @given(call=webchat_posts(tokens))
        def one(call):
            which, method, path, body, token = call
            with kept.trying():
                response = client.open(
                    path,
                    method=method,
                    data=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                kept.outcome(response.status_code)
                assert response.status_code in ANSWERS, response.get_data(as_text=True)
                if response.status_code == 200 and path == "/webhooks/webchat":
                    senders.add(webchat.CHANNEL.address_for(sessions[which]))

        one()
        _run_turns_and_check(senders, kept)
    for token, session in zip(tokens, sessions, strict=True):
        polled = client.get(
            "/webhooks/webchat/messages?after=0", headers={"Authorization": f"Bearer {token}"}
        ).get_json()["messages"]
        assert all(reply["id"].startswith(f"{session}:") for reply in polled)


def test_fuzz_messenger_webhooks(env, graph, graph_server, monkeypatch, database):  # noqa: F811
    from tests.fakes.graph_api import sent as messenger_sent
    from tests.fakes.graph_api import sign
    from tests.test_fuzz_parsers import messenger_bodies, messenger_senders
    from tests.test_messenger import APP_SECRET, configure

    for limit in ("INBOUND_LIMIT_PER_SENDER", "INBOUND_LIMIT_GLOBAL", "REPLY_LIMIT_PER_SENDER"):
        monkeypatch.setenv(limit, "")
    configure(monkeypatch, graph_server)
    client = create_app({"TESTING": True}).test_client()
    senders: set[str] = set()
    with figures(f"webhooks: Messenger, signed ({database})") as kept:

        @fuzz_settings(80)
        @given(body=messenger_bodies())
        def one(body):
            data, raw = body
            with kept.trying():
                response = client.post(
                    "/webhooks/messenger",
                    data=raw,
                    headers={
                        "X-Hub-Signature-256": sign(raw, APP_SECRET),
                        "Content-Type": "application/json",
                    },
                )
                kept.outcome(response.status_code)
                assert response.status_code in ANSWERS, response.get_data(as_text=True)
                if response.status_code == 200:
                    senders.update(messenger_senders(data))

        one()
        _run_turns_and_check(senders, kept)
    written = {f"messenger:{body['recipient']['id']}" for body in messenger_sent(graph)}
    assert written <= senders
