"""Each reply reaches the resident once and in order, when Twilio's answer is lost, a worker
dies mid-send or a send has to wait for a retry.

Twilio is tests/fakes/twilio_api.py: its LOSE_ANSWERS knob stores a message and answers 500,
as when Twilio accepted a send whose answer never reached us.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.jobs.common import store_reply
from bot.models import Conversation, Message
from bot.settings import get_settings
from conversations import Reply
from tests.conftest import run_jobs
from tests.test_end_to_end import RESIDENT
from tests.test_jobs import _age, phone
from tests.twilio_webhooks import post_signed, sms_form

__all__ = ["phone"]


def outbound() -> list[Message]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
        )


def sends_to(twilio_api, number: str = RESIDENT) -> list[dict]:
    return [s for s in twilio_api.config["SENT"] if s["form"]["To"] == [number]]


def _reply_in_flight_and_redis_flushed(phone, redis_conn) -> int:
    """A turn's reply marked "sending" by a worker, then Redis flushed (its jobs and locks);
    the reply's id."""
    phone.returning = False
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    with session_scope() as session:
        conversation_id = session.exec(select(Conversation.id)).one()
    jobs.run_turn(conversation_id)
    redis_conn.flushdb()
    with session_scope() as session:
        row = session.exec(select(Message).where(Message.direction == "out")).one()
        row.status, row.attempts = "sending", 1
        return row.id


def test_a_send_whose_answer_was_lost_is_looked_up_not_sent_again(phone, twilio_api):
    twilio_api.config["LOSE_ANSWERS"] = 1
    phone.text("hi")
    [menu] = outbound()
    assert menu.status == "pending" and menu.attempts == 1  # Twilio took it; we heard a 500
    run_jobs(include_delayed=True)
    [menu] = outbound()
    [sent] = sends_to(twilio_api)
    assert menu.status == "sent" and menu.external_id == sent["sid"]


def test_a_send_left_in_flight_by_a_dead_worker_is_settled_once(phone, twilio_api):
    phone.text("hi")
    [menu] = outbound()
    sid = menu.external_id
    with session_scope() as session:  # as a worker killed after Twilio's answer leaves it
        row = session.get(Message, menu.id)
        row.status, row.external_id = "sending", None
    assert jobs.reconcile() == 0  # it may still be in flight
    _age(Message, direction="out")
    assert jobs.reconcile() == 1
    run_jobs()
    [menu] = outbound()
    assert menu.status == "sent" and menu.external_id == sid
    assert len(sends_to(twilio_api)) == 1


def test_a_send_the_dead_worker_never_made_is_made_once(phone, twilio_api, redis_conn):
    _reply_in_flight_and_redis_flushed(phone, redis_conn)  # the deliver job is lost too
    _age(Message, direction="out")
    assert jobs.reconcile() == 1
    run_jobs()
    [message] = outbound()
    assert message.status == "sent"
    assert len(sends_to(twilio_api)) == 1


def test_replies_wait_behind_one_that_is_retried_and_arrive_in_order(phone, twilio_api):
    phone.text("hi")
    with session_scope() as session:
        conversation = session.exec(select(Conversation)).one()
        ids = []
        for text in ("first", "second", "third"):
            message = store_reply(session, conversation, Reply(text))
            session.flush()
            ids.append(message.id)
    twilio_api.config["FAIL_NEXT"] = [503]
    assert jobs.deliver(ids[0]) == 0  # Twilio is down for a moment: retried later
    assert jobs.deliver(ids[1]) == 0  # and the second waits behind the first
    assert [m.status for m in outbound()[1:]] == ["pending"] * 3
    run_jobs(include_delayed=True)
    assert [s["form"]["Body"][0] for s in sends_to(twilio_api)][1:] == ["first", "second", "third"]
    assert [m.status for m in outbound()] == ["sent"] * 4


def test_send_max_attempts_counts_each_try_once(phone, twilio_api, monkeypatch):
    monkeypatch.setenv("SEND_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()
    twilio_api.config["FAIL_NEXT"] = [503]
    phone.text("hi")
    [menu] = outbound()
    assert (menu.status, menu.attempts) == ("pending", 1)  # one try of two: retried
    twilio_api.config["FAIL_NEXT"] = [503]
    run_jobs(include_delayed=True)
    [menu] = outbound()
    assert (menu.status, menu.attempts) == ("failed", 2)  # the second try was the last
    assert sends_to(twilio_api) == []


def test_a_message_another_worker_is_sending_is_left_to_it(phone, twilio_api, redis_conn):
    message_id = _reply_in_flight_and_redis_flushed(phone, redis_conn)  # the lock is gone
    assert jobs.deliver(message_id) == 0
    assert sends_to(twilio_api) == []
    assert jobs.reconcile() == 0  # nor queued again while it may be on its way


def test_only_one_worker_claims_a_message(env):
    from bot.jobs.delivery import _claim

    with session_scope() as session:
        conversation = _conversation(session)
        message = store_reply(session, conversation, Reply("hello"))
        session.flush()
        seen = Message(id=message.id, status="pending", attempts=0)
    with session_scope() as session:
        assert _claim(session, seen)
    with session_scope() as session:
        assert not _claim(session, seen)  # it read the message before the first claim


def _conversation(session) -> Conversation:
    from bot.intake import conversation_for

    return conversation_for(session, "sms", "tel:+13125550111")


def test_a_staff_retry_of_a_send_looks_it_up_first(phone, twilio_api, monkeypatch):
    from bot.failures import retry
    from bot.settings import get_settings

    monkeypatch.setenv("SEND_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    twilio_api.config["LOSE_ANSWERS"] = 1
    phone.text("hi")
    [menu] = outbound()
    assert menu.status == "failed"  # its one try got a 500, though Twilio took it
    assert retry(f"send:{menu.id}")
    run_jobs()
    [menu] = outbound()
    assert menu.status == "sent" and len(sends_to(twilio_api)) == 1


def test_a_look_up_never_takes_another_messages_send(phone, twilio_api):
    from bot.channels.base import Outgoing
    from bot.channels.sms import CHANNEL
    from bot.settings import get_settings

    phone.text("hi")
    [menu] = outbound()
    again = Outgoing(menu.id + 1, f"tel:{RESIDENT}", menu.text)
    since = menu.created_at
    assert CHANNEL.find_sent(again, since, get_settings(), set()) == menu.external_id  # same words
    assert CHANNEL.find_sent(again, since, get_settings(), {menu.external_id}) is None  # not ours


@pytest.mark.parametrize("in_flight, sends", [("60", 0), ("3", 1)])
def test_send_in_flight_sets_how_long_a_sending_message_is_left_to_its_worker(
    phone, twilio_api, redis_conn, monkeypatch, in_flight, sends
):
    message_id = _reply_in_flight_and_redis_flushed(phone, redis_conn)
    with session_scope() as session:  # the worker marked it "sending" 10 s ago, then died
        row = session.get(Message, message_id)
        row.updated_at = row.updated_at - timedelta(seconds=10)
    monkeypatch.setenv("SEND_IN_FLIGHT", in_flight)
    get_settings.cache_clear()
    assert jobs.deliver(message_id) == sends
    assert len(sends_to(twilio_api)) == sends
