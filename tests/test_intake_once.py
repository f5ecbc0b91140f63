"""A resident's message is stored exactly once however its webhook arrives (bot.inbox's upsert):
redeliveries racing each other, a new sender's texts racing to create the contact, a channel
without provider ids, a contact erased after STOP, and a pooled connection the database
dropped. Each test runs on SQLite and PostgreSQL unless it says otherwise.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot import db
from bot.channels.base import Inbound
from bot.db import get_engine, session_scope
from bot.intake import Received, receive
from bot.models import Contact, Conversation, Direction, Message
from bot.personal_data import address_key
from tests.twilio_webhooks import post_signed, sms_form

THREADS = 8


def _at_once(work, count: int = THREADS) -> list:
    """Run `work(i)` in `count` threads released together; their results in order."""
    start = threading.Barrier(count)

    def run(i):
        start.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _count(model, *where) -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _inbound(address: str, external_id: str | None, text: str = "pothole on Main") -> Inbound:
    return Inbound(channel="sms", address=address, external_id=external_id, text=text)


def test_redeliveries_racing_store_the_message_once(env):
    address = "tel:+13125550401"
    results: list[Received] = _at_once(lambda _: receive(_inbound(address, "SM" + "a" * 32)))
    assert [r.duplicate for r in results].count(False) == 1
    assert len({r.message_id for r in results}) == 1
    assert len({r.conversation_id for r in results}) == 1
    assert _count(Message, Message.external_id == "SM" + "a" * 32) == 1
    assert _count(Contact, Contact.address_key == address_key(address)) == 1
    assert _count(Conversation) == 1


def test_a_new_senders_texts_racing_make_one_contact_and_keep_every_text(env):
    address = "tel:+13125550402"
    results = _at_once(lambda i: receive(_inbound(address, f"SM{i:032x}", f"text {i}")))
    assert not any(r.duplicate for r in results)
    assert len({r.message_id for r in results}) == THREADS
    assert len({r.conversation_id for r in results}) == 1
    assert _count(Message, Message.direction == Direction.IN) == THREADS
    assert _count(Contact) == 1
    assert _count(Conversation) == 1
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        assert contact.address == address  # stored encrypted, read back


def test_many_new_senders_at_once_each_get_their_own_conversation(env):
    results = _at_once(lambda i: receive(_inbound(f"tel:+1312555050{i}", f"SM{i + 100:032x}")))
    assert len({r.conversation_id for r in results}) == THREADS
    assert _count(Contact) == THREADS
    assert _count(Message) == THREADS


def test_a_redelivery_without_a_provider_id_is_recognised(env):
    address = "tel:+13125550403"
    first = receive(_inbound(address, None, "the light is out"))
    again = receive(_inbound(address, None, "the light is out"))
    other = receive(_inbound(address, None, "and another one"))
    assert not first.duplicate and again.duplicate and not other.duplicate
    assert again.message_id == first.message_id
    assert other.conversation_id == first.conversation_id
    assert _count(Message) == 2


def test_a_contact_erased_after_stop_gets_its_address_back(env):
    address = "tel:+13125550404"
    first = receive(_inbound(address, "SM" + "b" * 32))
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        contact.address, contact.opted_out = None, True
    second = receive(_inbound(address, "SM" + "c" * 32, "START"))
    assert second.conversation_id == first.conversation_id and not second.duplicate
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        assert contact.address == address and contact.opted_out


def _drop_connections() -> int:
    """Terminate every server connection to the test database but this one; how many."""
    url = get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


@pytest.fixture
def no_pre_ping(env):
    """Engines that use a pooled connection without testing it first, as the web process's."""
    db.dispose_engines()
    db.ping_on_checkout(False)
    yield env
    db.dispose_engines()
    db.ping_on_checkout(True)


def test_a_dropped_pooled_connection_loses_no_message(no_pre_ping):
    if get_engine().dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to drop")
    receive(_inbound("tel:+13125550405", "SM" + "d" * 32))  # a connection in the pool
    assert _drop_connections() >= 1
    received = receive(_inbound("tel:+13125550405", "SM" + "e" * 32))
    assert not received.duplicate
    assert _count(Message) == 2


def test_a_webhook_on_a_dropped_connection_is_answered_and_stored(no_pre_ping, redis_conn):
    from webhooks import create_app

    if get_engine().dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to drop")
    client = create_app({"TESTING": True}).test_client()
    assert post_signed(client, "/webhooks/twilio", sms_form("hi")).status_code == 200
    assert _drop_connections() >= 1
    form = sms_form("the light on 5th is out")
    assert post_signed(client, "/webhooks/twilio", form).status_code == 200
    assert _count(Message, Message.external_id == form["MessageSid"]) == 1
