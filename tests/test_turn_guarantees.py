"""A resident's message is answered once and in order, even when two workers reach it at once
(a lock that lapsed), and a channel without message ids is not answered twice for a redelivery.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import timedelta

from click.testing import CliRunner
from sqlmodel import select

import bot.jobs.turns as turns
from bot.channels.base import Inbound
from bot.cli import main
from bot.db import session_scope
from bot.intake import receive
from bot.models import Conversation, Message
from bot.settings import get_settings
from bot.timeutil import utcnow
from tests.conftest import run_jobs
from tests.test_jobs import _confirm_pothole, phone
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

__all__ = ["phone"]


def test_two_workers_on_one_message_answer_it_once(phone, monkeypatch, twilio_api):
    phone.returning = False
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    with session_scope() as session:
        conversation_id = session.exec(select(Conversation.id)).one()
    real_handle = turns._handle
    started = threading.Event()

    def slow_handle(*args):
        started.set()
        time.sleep(0.5)  # the first worker is mid-turn when the second arrives
        return real_handle(*args)

    monkeypatch.setattr(turns, "_handle", slow_handle)
    real_handle_next = turns._handle_next
    results = []

    def handle_next(*args):
        results.append(real_handle_next(*args))
        return results[-1]

    monkeypatch.setattr(turns, "_handle_next", handle_next)
    settings = get_settings()

    def worker():
        turns._drain(conversation_id, settings)

    first = threading.Thread(target=worker)
    first.start()
    started.wait(5)
    worker()  # the second worker, without the Redis lock (as after it lapsed)
    first.join(10)
    handled = [r for r in results if r]
    assert len(handled) == 1  # one turn's replies were kept; the other found nothing or lost
    with session_scope() as session:
        outs = session.exec(select(Message).where(Message.direction == "out")).all()
        [inbound] = session.exec(select(Message).where(Message.direction == "in")).all()
    assert len(outs) == len(handled[0]) and inbound.status == "processed"


def test_messages_are_answered_in_the_order_they_arrived(phone):
    phone.returning = False
    said = ("hi", "pothole at 120 Main St", "deep hole in the right lane")
    for body in said:
        post_signed(phone.client, "/webhooks/twilio", sms_form(body, phone.number))
    run_jobs()
    with session_scope() as session:
        ins = session.exec(
            select(Message)
            .where(Message.direction == "in")
            .order_by(Message.updated_at, Message.id)
        ).all()
    assert [m.text for m in ins] == list(said)
    assert all(m.status == "processed" for m in ins)
    # Each answer follows the one before: the menu, the sure address and the description
    # asked, the description taken and the next question asked.
    menu, found, where = phone.inbox()
    assert "1 Pothole in Street" in menu
    assert found.startswith("Found: 120 Main Street, Springfield. Please describe")
    assert where.startswith("Where is the pothole?")


def console_says(text: str) -> Inbound:
    return Inbound(channel="console", address="console:ana", external_id=None, text=text)


def test_the_same_words_again_within_seconds_without_an_id_are_a_redelivery(env):
    first = receive(console_says("pothole at 120 Main St"))
    again = receive(console_says("pothole at 120 Main St"))
    other = receive(console_says("yes"))
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert not other.duplicate
    with session_scope() as session:  # later, the same words are a new message
        row = session.get(Message, first.message_id)
        row.created_at = utcnow() - timedelta(minutes=1)
    assert not receive(console_says("pothole at 120 Main St")).duplicate


def test_failures_are_listed_and_retried_by_hand(phone, twilio_api, monkeypatch):
    twilio_api.config["FAIL_TO"] = {phone.number: 21408}  # a region not enabled: permanent
    phone.text("hi")
    runner = CliRunner()
    listed = runner.invoke(main, ["failures"])
    with session_scope() as session:
        [failed] = session.exec(select(Message).where(Message.status == "failed")).all()
    assert listed.exit_code == 0 and f"send:{failed.id}" in listed.output
    assert "21408" in listed.output and phone.number not in listed.output  # masked
    assert "1 failure(s)" in listed.output

    twilio_api.config["FAIL_TO"] = {}  # the city enabled the region
    retried = runner.invoke(main, ["failures", "retry", f"send:{failed.id}", "send:999999"])
    assert (
        retried.exit_code == 0 and "1 sent back in line; not failed: send:999999" in retried.output
    )
    run_jobs()
    assert "1 Pothole in Street" in phone.inbox()[0]
    assert "0 failure(s)" in runner.invoke(main, ["failures"]).output
    bad = runner.invoke(main, ["failures", "retry", "nonsense"])
    assert bad.exit_code != 0 and "report:N, send:N, turn:N or photo:N" in bad.output


def test_a_turn_that_crashed_is_a_failure_staff_can_retry(phone, monkeypatch):
    real_step = turns.step

    def broken(state, event, context):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(turns, "step", broken)
    assert phone.text("hi") == []
    runner = CliRunner()
    listed = runner.invoke(main, ["failures"])
    assert "turn:" in listed.output and "RuntimeError" in listed.output
    monkeypatch.setattr(turns, "step", real_step)  # the bug is fixed and deployed
    assert "1 sent back in line" in runner.invoke(main, ["failures", "retry", "--all"]).output
    run_jobs()
    assert "1 Pothole in Street" in phone.inbox()[0]


def test_the_staff_page_lists_failures_and_retries_them_with_the_token(
    phone, twilio_api, monkeypatch
):
    twilio_api.config["FAIL_TO"] = {phone.number: 21408}
    phone.text("hi")
    closed = phone.client.get("/admin/failures")
    assert closed.status_code == 404  # no ADMIN_TOKEN: no staff pages at all

    monkeypatch.setenv("ADMIN_TOKEN", "staff-secret")
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/admin/failures").status_code == 401
    assert (
        client.get("/admin/failures", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    basic = "Basic " + base64.b64encode(b"staff:staff-secret").decode()
    page = client.get("/admin/failures", headers={"Authorization": basic})
    assert page.status_code == 200 and b"send:" in page.data and b"21408" in page.data
    listed = client.get(
        "/admin/failures?format=json", headers={"Authorization": "Bearer staff-secret"}
    ).get_json()
    [name] = [f["name"] for f in listed["failures"]]

    twilio_api.config["FAIL_TO"] = {}
    # A browser signed in with Basic cannot be made to retry; the bearer token can.
    assert (
        client.post(
            "/admin/failures/retry", json={"all": True}, headers={"Authorization": basic}
        ).status_code
        == 401
    )
    done = client.post(
        "/admin/failures/retry",
        json={"names": [name]},
        headers={"Authorization": "Bearer staff-secret"},
    )
    assert done.get_json() == {"retried": [name], "not_failed": [], "refused": {}}
    run_jobs()
    assert "1 Pothole in Street" in phone.inbox()[0]


def test_the_citys_calls_ride_their_own_queue_so_a_hanging_city_never_holds_a_reply(
    phone, twilio_api
):
    from bot.queue import get_queue, queue_for
    from bot.worker import run_burst

    assert queue_for("bot.jobs.submit").name == "intake311-test-city"
    assert queue_for("bot.jobs.run_turn").name == "intake311-test"
    _confirm_pothole(phone)
    post_signed(phone.client, "/webhooks/twilio", sms_form("yes", phone.number))
    # Only residents' workers run: the city's queue waits, the resident still hears back.
    for _ in range(5):
        run_burst(("residents",))
    assert [job.func_name for job in get_queue("city").jobs] == ["bot.jobs.submit"]
    assert phone.inbox()  # the reply to "yes" went out without the city
    run_jobs()
    assert get_queue("city").count == 0


def test_a_database_error_mid_turn_leaves_the_message_for_the_next_job(phone, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def database_gone(*args):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(turns, "_handle", database_gone)
    phone.returning = False
    post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
    run_jobs()  # the job fails (rq keeps it as failed); the message is not set aside
    with session_scope() as session:
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
    assert message.status == "pending"
