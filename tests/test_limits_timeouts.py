"""Locks outlive jobs: a resident's job times out (JOB_TIMEOUT) well before the lock it holds
lapses (LOCK_TIMEOUT), so no second worker takes its conversation while it runs; and a turn
that dies of its timeout has its work released for one retry, then set aside for staff.

The overrunning turn is real: an engine step that sleeps, the city's STATUS look-up held at a
gate (tests/test_turn_unlocked.py), and a step that cannot be interrupted (SIGALRM blocked, as in
C code), which only the forking worker's kill ends. Jobs run in rq workers in burst, in-process
(rq's own timeout, SIGALRM) and forking (a work-horse killed from the worker's side).
"""

from __future__ import annotations

import signal
import time

import pytest
from sqlmodel import select

import bot.jobs.turns as turns
from bot.db import session_scope
from bot.failures import list_failures, retry
from bot.models import Conversation, Message
from bot.queue import enqueue, get_queue, get_redis
from bot.settings import get_settings
from bot.worker import ForkingWorker
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import phone
from tests.test_turn_unlocked import NUMBER, STATUS_PATH, gate, texted
from tests.twilio_webhooks import post_signed, sms_form

__all__ = ["gate", "phone"]

SLOW = "slow words"  # what makes the engine overrun


def configure(monkeypatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), value)
    get_settings.cache_clear()


@pytest.fixture
def slow_engine(monkeypatch):
    """An engine that takes `seconds` over SLOW (interruptible: time.sleep); `stuck` makes it
    immune to rq's alarm as a long call into C code is."""
    real_step = turns.step
    how = {"seconds": 30.0, "stuck": False, "calls": 0, "times": None}

    def step(state, event, context):
        if getattr(event, "text", None) == SLOW and how["calls"] != how["times"]:
            how["calls"] += 1
            if how["stuck"]:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(how["seconds"])
        return real_step(state, event, context)

    monkeypatch.setattr(turns, "step", step)
    return how


def the_message(text: str) -> Message:
    with session_scope() as session:
        return session.exec(
            select(Message).where(Message.direction == "in", Message.text == text)
        ).one()


def test_a_turn_that_overruns_is_retried_once_then_set_aside(phone, monkeypatch, slow_engine):
    configure(monkeypatch, lock_timeout="10", job_timeout="1")
    started = time.monotonic()
    assert phone.text(SLOW) == []  # the first turn and its one retry both overran
    assert slow_engine["calls"] == 2 and time.monotonic() - started < 8
    message = the_message(SLOW)
    assert (message.status, message.error_code, message.attempts) == ("failed", "TurnTimeout", 2)
    assert [f.name for f in list_failures()] == [f"turn:{message.id}"]  # a dead letter
    # The conversation is free: the resident's next text is answered at once.
    [menu] = phone.text("hi")
    assert "Pothole in Street" in menu
    # Staff send it back in line once the cause is fixed: it has its tries again.
    slow_engine["seconds"] = 0
    assert retry(f"turn:{message.id}")
    run_jobs()
    assert the_message(SLOW).status == "processed"


def test_a_turn_that_overruns_once_is_answered_by_its_retry(phone, monkeypatch, slow_engine):
    configure(monkeypatch, lock_timeout="10", job_timeout="1")
    slow_engine["times"] = 1  # only the first turn overruns
    post_signed(phone.client, "/webhooks/twilio", sms_form(SLOW, phone.number))
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    run_jobs()
    answered = phone.inbox()
    assert len(answered) == 2 and all("Pothole in Street" in a for a in answered)
    message = the_message(SLOW)
    assert (message.status, message.error_code, message.attempts) == ("processed", None, 1)
    assert list_failures() == []


def test_a_status_look_up_that_outlives_its_job_is_retried_once_then_set_aside(
    phone, gate, monkeypatch
):
    configure(monkeypatch, lock_timeout="10", job_timeout="1")
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    gate.hold(STATUS_PATH)  # the city never answers within the job
    enqueue("bot.jobs.run_turn", conversation_id)
    run_jobs()
    message = the_message(f"STATUS {NUMBER}")
    assert (message.status, message.error_code, message.attempts) == ("failed", "TurnTimeout", 2)
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).followup is None
    assert gate.seen == 2  # the look-up and its one retry
    gate.release()
    [menu] = phone.text("hi")
    assert "Pothole in Street" in menu


def test_a_work_horse_stuck_past_its_timeout_is_killed_and_its_turn_released(
    phone, monkeypatch, slow_engine
):
    configure(monkeypatch, lock_timeout="10", job_timeout="1", understanding="fuzzy")
    slow_engine["stuck"] = True
    post_signed(phone.client, "/webhooks/twilio", sms_form(SLOW, phone.number))
    worker = ForkingWorker([get_queue()], connection=get_redis(), job_monitoring_interval=1)
    worker.hard_kill_after = 0.5
    started = time.monotonic()
    worker.work(burst=True)
    took = time.monotonic() - started
    message = the_message(SLOW)
    assert (message.status, message.error_code, message.attempts) == ("failed", "TurnTimeout", 2)
    assert took < 10, took  # each work-horse killed within a few seconds of its timeout
    lock = f"intake311:lock:conversation:{message.conversation_id}"
    assert not get_redis().exists(lock)  # released with its dead holder
    [menu] = phone.text("hi")
    assert "Pothole in Street" in menu
    assert texts.TOO_MANY not in menu
