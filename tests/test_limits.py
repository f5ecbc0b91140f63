"""Abuse limits (bot.ratelimits): per sender and for everyone on the way in, a reply limit per
resident on the way out, and the daily SMS alarm.

Real Redis (the run's own), SQLite and PostgreSQL, signed Twilio webhooks through the Flask
test client, rq jobs in-process, the Twilio stand-in counting sends.
"""

from __future__ import annotations

import logging
import socket
import uuid

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import select

from bot import jobs, queue, ratelimits
from bot.channels import console
from bot.channels.base import Inbound
from bot.cli import main
from bot.db import session_scope
from bot.intake import receive
from bot.models import Contact, Message
from bot.payloads import InboundPayload
from bot.personal_data import address_key
from bot.settings import Settings, get_settings
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone, phone
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

__all__ = ["phone"]

TOO_MANY = texts.TOO_MANY.format(number="911")
MENU = "Pothole in Street"


def configure(monkeypatch, **values: str) -> None:
    """Set settings for this test (after `env` configured the process)."""
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), value)
    get_settings.cache_clear()


def inbound(address: str) -> list[tuple[str, str | None]]:
    """(status, error_code) of the contact's inbound messages, in order."""
    return [(status, code) for status, code, _ in _messages(address, "in")]


def outbound(address: str) -> list[tuple[str, str | None, str]]:
    """(status, error_code, text) of the contact's outbound messages, in order."""
    return _messages(address, "out")


def _messages(address: str, direction: str) -> list[tuple[str, str | None, str]]:
    with session_scope() as session:
        rows = session.exec(
            select(Message.status, Message.error_code, Message.text)
            .join(Contact, Contact.id == Message.contact_id)
            .where(Contact.address_key == address_key(address), Message.direction == direction)
            .order_by(Message.id)
        ).all()
    return [(str(status), code, text) for status, code, text in rows]


# --- inbound -----------------------------------------------------------------------------------


def test_a_sender_past_the_limit_is_told_once_and_their_messages_are_kept_unanswered(
    phone, monkeypatch
):
    configure(monkeypatch, inbound_limit_per_sender="3/minute")
    answers = [phone.text("hi") for _ in range(6)]
    assert [len(a) for a in answers] == [1, 1, 1, 1, 0, 0]
    assert all(MENU in a[0] for a in answers[:3])
    assert answers[3] == [TOO_MANY]
    # Nothing is lost: every message is stored; those past the limit had no turn.
    address = f"tel:{phone.number}"
    assert inbound(address) == [("processed", None)] * 3 + [("processed", "SenderLimit")] * 3


def test_messages_sent_at_once_past_the_limit_cost_no_turn(phone, monkeypatch):
    configure(monkeypatch, inbound_limit_per_sender="3/minute")
    Phone.text(phone, "hi")  # a returning resident
    for _ in range(20):
        post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    # One turn waits in line for the two let through (each turn answers one, then queues the
    # next); the other 18 are stored with no turn, and one notice is queued.
    waiting = [job.func_name for job in queue.get_queue().jobs]
    assert waiting == ["bot.jobs.run_turn", "bot.jobs.tell_limited"]
    run_jobs()
    told = phone.inbox()
    assert len(told) == 3 and told.count(TOO_MANY) == 1  # two answers and the notice, once


def test_the_notice_is_in_the_residents_language(phone, monkeypatch):
    configure(monkeypatch, inbound_limit_per_sender="1/minute")
    phone.text("hola, hay un bache")
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        assert contact.language == "es"
    [notice] = phone.text("hola")
    assert notice.startswith("Ha enviado más mensajes") and "911" in notice


def test_stop_always_gets_through(phone, monkeypatch):
    configure(monkeypatch, inbound_limit_per_sender="1/minute")
    phone.text("hi")
    assert phone.text("hi") == [TOO_MANY]
    phone.text("STOP")
    with session_scope() as session:
        assert session.exec(select(Contact)).one().opted_out  # applied: STOP was not held


def test_delete_my_data_always_gets_through(phone, monkeypatch):
    configure(monkeypatch, inbound_limit_per_sender="1/minute")
    phone.text("hi")
    assert phone.text("hi") == [TOO_MANY]
    assert phone.text("delete my data") == [texts.FORGET_ASK]


def test_start_from_a_resident_who_never_opted_out_is_an_ordinary_message(phone, monkeypatch):
    """Only an opted-out resident's START skips the limits: from anyone else it is a message
    like any other, answered (a menu) like any other."""
    configure(monkeypatch, inbound_limit_per_sender="1/minute")
    answers = [phone.text("START") for _ in range(6)]
    assert [len(a) for a in answers] == [1, 1, 0, 0, 0, 0]
    assert answers[1] == [TOO_MANY]
    assert inbound(f"tel:{phone.number}")[1:] == [("processed", "SenderLimit")] * 5


def test_start_from_an_opted_out_resident_always_gets_through(phone, monkeypatch):
    configure(monkeypatch, inbound_limit_per_sender="1/minute")
    phone.text("STOP")
    phone.text("START")
    with session_scope() as session:
        assert not session.exec(select(Contact)).one().opted_out  # applied: START was not held


def test_past_the_global_limit_busy_senders_are_held_but_not_a_resident_texting_once(
    phone, twilio_api, monkeypatch
):
    configure(monkeypatch, inbound_limit_global="8/minute")
    residents = [Phone(phone.client, twilio_api, number=f"+1312555020{i}") for i in range(4)]
    for resident in residents[:3]:
        for _ in range(5):
            post_signed(phone.client, "/webhooks/twilio", sms_form("hi", resident.number))
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", residents[3].number))
    run_jobs()
    # 5 fit; 3 more fill the limit; the third sender's first 3 pass all the same (quiet).
    held = [("processed", "GlobalLimit")] * 2
    assert inbound(f"tel:{residents[0].number}") == [("processed", None)] * 5
    assert inbound(f"tel:{residents[1].number}") == [("processed", None)] * 3 + held
    assert inbound(f"tel:{residents[2].number}") == [("processed", None)] * 3 + held
    assert inbound(f"tel:{residents[3].number}") == [("processed", None)]
    told = [resident.inbox() for resident in residents]
    assert [len(t) for t in told] == [5, 4, 4, 1]
    assert [t.count(TOO_MANY) for t in told] == [0, 1, 1, 0]


def test_past_the_global_limit_quiet_senders_have_a_limit_of_their_own(env, monkeypatch):
    """Many numbers texting once each: the global limit, then as many quiet senders again,
    then every one held, however many numbers there are."""
    configure(monkeypatch, inbound_limit_global="4/minute")
    refused = [ratelimits.inbound_refusal("sms", f"tel:+1312555{n:04d}", "hi") for n in range(20)]
    assert [r is None for r in refused] == [True] * 8 + [False] * 12
    assert {r.code for r in refused if r is not None} == {"GlobalLimit"}


def test_redis_down_loses_nothing(phone, monkeypatch, env):
    """Redis is down while the text arrives: no limit is checked, nothing is queued; the
    message is kept and answered once the reconciler sees it."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    configure(monkeypatch, redis_url=f"redis://127.0.0.1:{closed}/0", reconcile_grace="0")
    assert ratelimits.inbound_refusal("sms", "tel:+13125550142", "hi") is None
    response = post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    assert response.status_code == 200
    assert inbound(f"tel:{phone.number}") == [("pending", None)]
    configure(monkeypatch, redis_url=env.redis_url)  # Redis is back
    assert jobs.reconcile() == 1
    run_jobs()
    [menu] = phone.inbox()
    assert MENU in menu


def test_limits_fail_open_and_say_so(phone, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(ratelimits.MovingWindowRateLimiter, "hit", down)
    with caplog.at_level(logging.WARNING, logger="bot.ratelimits"):
        [menu] = phone.text("hi")
    assert MENU in menu
    assert "inbound limits not checked (Redis: ConnectionError)" in caplog.text
    assert "reply limit not checked" in caplog.text


# --- replies ---------------------------------------------------------------------------------


def test_past_the_reply_limit_replies_are_kept_unsent_after_one_last_notice(phone, monkeypatch):
    configure(monkeypatch, reply_limit_per_sender="3/day")
    answers = [phone.text("hi") for _ in range(6)]
    assert [len(a) for a in answers] == [1, 1, 1, 1, 0, 0]
    assert answers[3] == [TOO_MANY]
    sent = outbound(f"tel:{phone.number}")
    assert [(status, code) for status, code, _ in sent] == (
        [("sent", None)] * 3
        + [("suppressed", "ReplyLimit"), ("sent", None)]
        + [("suppressed", "ReplyLimit")] * 2
    )


def test_erasing_their_data_does_not_restart_a_residents_reply_limit(phone, monkeypatch):
    """DELETE MY DATA then YES makes the next text a new contact: the limit is kept by the
    address's keyed hash, and the question and the confirmation count against it."""
    configure(monkeypatch, reply_limit_per_sender="3/day")
    told: list[str] = []
    for _ in range(5):
        told += phone.text("delete my data")
        told += phone.text("yes")
    assert told[:2] == [texts.FORGET_ASK, told[1]] and told[1].startswith("Deleted")
    assert told[2:] == [texts.FORGET_ASK, TOO_MANY]  # the limit, then one last notice
    assert len(told) == 4


def test_an_opt_out_is_confirmed_past_the_reply_limit(env, monkeypatch):
    """On a channel that confirms opt-outs itself (not SMS, where the carrier does)."""
    configure(monkeypatch, reply_limit_per_sender="1/day")
    address = f"console:{uuid.uuid4().hex[:8]}"
    transmitted: list[str] = []
    send = console.CHANNEL.send
    monkeypatch.setattr(
        console.CHANNEL,
        "send",
        lambda out, settings: transmitted.append(out.text) or send(out, settings),
    )
    for text in ("hi", "hi", "STOP"):
        receive(Inbound("console", address, uuid.uuid4().hex, text, InboundPayload()))
        run_jobs()
    # The second reply was held by the limit; the notice and the opt-out's confirmation went.
    # (Once STOP is confirmed only the opt-out is kept: the messages themselves are erased.)
    assert len(transmitted) == 3
    assert transmitted[1:] == [TOO_MANY, texts.OPTED_OUT]
    assert outbound(address) == []


def test_an_opt_outs_confirmation_counts_against_the_reply_limit(env, monkeypatch):
    configure(monkeypatch, reply_limit_per_sender="2/day")
    address = f"console:{uuid.uuid4().hex[:8]}"
    transmitted: list[str] = []
    send = console.CHANNEL.send
    monkeypatch.setattr(
        console.CHANNEL,
        "send",
        lambda out, settings: transmitted.append(out.text) or send(out, settings),
    )
    for text in ("STOP", "START", "hi", "hi"):
        receive(Inbound("console", address, uuid.uuid4().hex, text, InboundPayload()))
        run_jobs()
    # STOP's confirmation was the first of two: one menu, then the last notice.
    assert transmitted[0] == texts.OPTED_OUT
    assert len(transmitted) == 3 and MENU in transmitted[1] and transmitted[2] == TOO_MANY


# --- the daily SMS alarm ---------------------------------------------------------------------


def test_the_sms_alarm_rings_once_a_day_past_its_threshold(phone, monkeypatch, caplog):
    configure(monkeypatch, sms_alarm_per_day="2")
    assert ratelimits.sms_alarm() is None
    with caplog.at_level(logging.ERROR, logger="bot.ratelimits"):
        for _ in range(4):
            phone.text("hi")
    rings = [r for r in caplog.records if r.levelno == logging.ERROR and "SMS alarm" in r.message]
    assert len(rings) == 1 and "more than 2 texts sent today" in rings[0].message
    assert ratelimits.sms_sent_today() == 4
    listed = CliRunner().invoke(main, ["failures"])
    assert listed.exit_code == 0, listed.output
    assert "SMS alarm: 4 texts sent today, past SMS_ALARM_PER_DAY (2)" in listed.output
    configure(monkeypatch, admin_token="a" * 32)
    staff = create_app({"TESTING": True}).test_client()
    bearer = {"Authorization": "Bearer " + "a" * 32}
    page = staff.get("/admin/failures", headers=bearer).get_data(as_text=True)
    assert "SMS alarm: 4 texts sent today" in page
    as_json = staff.get("/admin/failures?format=json", headers=bearer).get_json()
    assert as_json["sms_alarm"].startswith("SMS alarm: 4 texts")


# --- settings ----------------------------------------------------------------------------------


def test_limits_and_job_timeouts_are_checked_at_start():
    settings = Settings(_env_file=None)
    assert settings.inbound_limit_per_sender == "20/minute;120/hour"
    assert settings.resident_job_timeout() == settings.lock_timeout // 2 == 150
    assert Settings(_env_file=None, job_timeout=100).resident_job_timeout() == 100
    with pytest.raises(ValidationError, match="at most half of LOCK_TIMEOUT"):
        Settings(_env_file=None, job_timeout=200)
    with pytest.raises(ValidationError, match="at most half of LOCK_TIMEOUT"):
        Settings(_env_file=None, lock_timeout=20, job_timeout=11)
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(_env_file=None, inbound_limit_global="lots")
    assert Settings(_env_file=None, reply_limit_per_sender="").reply_limit_per_sender == ""


def test_each_job_is_queued_with_a_timeout_inside_its_lock(env, monkeypatch):
    configure(monkeypatch, lock_timeout="60")
    queue.enqueue("bot.jobs.run_turn", 1)
    queue.enqueue("bot.jobs.deliver", 2)
    queue.enqueue("bot.jobs.submit", 3)
    timeouts = {
        job.func_name: job.timeout for kind in queue.KINDS for job in queue.get_queue(kind).jobs
    }
    assert timeouts == {"bot.jobs.run_turn": 30, "bot.jobs.deliver": 30, "bot.jobs.submit": 300}
