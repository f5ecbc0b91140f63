"""A turn holds no lock and no transaction while the city or the geocoder answers (issue 14).

The city and its geocoder are the sandbox on loopback behind a gate that holds chosen requests
(a STATUS look-up, an address search, a pin's reverse geocoding, the catalogue) until the test
lets them go, so the real clients wait on a real socket. Meanwhile the test looks at the
database from outside: no connection of ours is checked out (so no transaction is open), the
conversation's row can be locked at once on PostgreSQL (SELECT ... FOR UPDATE NOWAIT) and
written on SQLite (BEGIN IMMEDIATE), the resident's next webhook is stored at once, and other
residents are answered. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from datetime import timedelta

import httpx
import psycopg
import pytest
from redis.exceptions import LockNotOwnedError
from sqlalchemy.exc import OperationalError
from sqlmodel import select

import bot.jobs.turns as turns
from bot import jobs
from bot.channels.base import Inbound
from bot.db import get_engine, session_scope
from bot.failures import list_failures
from bot.intake import receive
from bot.models import CatalogCache, Contact, Conversation, Message
from bot.payloads import InboundPayload
from bot.personal_data import address_key
from bot.queue import get_queue
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import StatusFound, texts
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone
from tests.test_jobs import phone
from tests.twilio_webhooks import post_signed, sms_form

__all__ = ["phone"]

STATUS_PATH = r"^/open311/v2/requests/"  # GET requests/<id>.json: one request's status
SEARCH_PATH = r"^/nominatim/search"
REVERSE_PATH = r"^/nominatim/reverse"
CATALOGUE_PATH = r"^/open311/v2/services\.json"
NUMBER = "2026-000777"  # a request the city does not know: "I couldn't find request ..."
NOT_FOUND = texts.STATUS_NOT_FOUND.format(number=NUMBER)
HOLD_AT_MOST = 20.0  # seconds a held request waits if a test never lets it go


class Gate:
    """WSGI middleware over the sandbox: requests whose path matches `hold()` wait until
    `release()` (the first `first` of them only, when given); `entered` is set when one waits."""

    def __init__(self, app):
        self.app = app
        self.pattern: re.Pattern | None = None
        self.first: int | None = None
        self.seen = 0
        self.entered = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def hold(self, pattern: str, first: int | None = None) -> None:
        self.pattern, self.first, self.seen = re.compile(pattern), first, 0
        self.entered.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def __call__(self, environ, start_response):
        if self.pattern is not None and self.pattern.search(environ.get("PATH_INFO", "")):
            with self._lock:
                self.seen += 1
                held = self.first is None or self.seen <= self.first
            if held:
                self.entered.set()
                self.released.wait(HOLD_AT_MOST)
        return self.app(environ, start_response)


@pytest.fixture
def gate(env, tmp_path, monkeypatch):
    """The sandbox city and geocoder behind a Gate; the settings point at it, with timeouts
    longer than any hold (a held request is answered, not given up on)."""
    gate = Gate(create_sandbox_app(str(tmp_path / "gated-city.sqlite3")))
    server = serve(gate)
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    monkeypatch.setenv("GEOCODER_DOMAIN", f"127.0.0.1:{server.port}/nominatim")
    monkeypatch.setenv("OPEN311_TIMEOUT", "60")
    monkeypatch.setenv("GEOCODER_TIMEOUT", "60")
    get_settings.cache_clear()
    yield gate
    gate.release()
    server.stop()


class Turn(threading.Thread):
    """run_turn in a thread of its own, as a worker would run it; what it raised, if anything."""

    def __init__(self, conversation_id: int):
        super().__init__(daemon=True)
        self.conversation_id = conversation_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            jobs.run_turn(self.conversation_id)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc


def start_turn(gate: Gate, conversation_id: int) -> Turn:
    """Start the conversation's turn and wait until it is held at the gate."""
    turn = Turn(conversation_id)
    turn.start()
    assert gate.entered.wait(10), "the turn never reached the city"
    return turn


def texted(phone: Phone, body: str) -> int:
    """Post the resident's text as Twilio would, without running the queued turn (the test
    runs it); the conversation's id."""
    assert (
        post_signed(phone.client, "/webhooks/twilio", sms_form(body, phone.number)).status_code
        == 200
    )
    get_queue().empty()
    return conversation_of(f"tel:{phone.number}")


def conversation_of(address: str) -> int:
    with session_scope() as session:
        return session.exec(
            select(Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.address_key == address_key(address))
        ).one()


def assert_nothing_held(conversation_id: int) -> None:
    """No transaction of ours is open and the conversation's row is free: another connection
    locks it at once on PostgreSQL and writes it at once on SQLite."""
    engine = get_engine()
    assert engine.pool.checkedout() == 0, "a connection is checked out: a transaction is open"
    if engine.dialect.name == "postgresql":
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as other:
            locked = other.execute(
                "SELECT id FROM conversation WHERE id = %s FOR UPDATE NOWAIT", (conversation_id,)
            ).fetchall()
            assert locked == [(conversation_id,)]
            other.rollback()
    else:
        other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" at once if a write is open
            other.execute(
                "UPDATE conversation SET updated_at = updated_at WHERE id = ?", (conversation_id,)
            )
            other.execute("ROLLBACK")
        finally:
            other.close()


def finish(turn: Turn) -> None:
    turn.join(30)
    assert not turn.is_alive()


def test_a_status_look_up_holds_nothing_while_the_city_hangs(phone, gate):
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    gate.hold(STATUS_PATH)
    turn = start_turn(gate, conversation_id)
    assert_nothing_held(conversation_id)
    with session_scope() as session:  # the message is taken; the look-up waits on its own
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
        followup = session.get(Conversation, conversation_id).followup
    assert message.status == "processed"
    assert followup["actions"] == [{"kind": "status", "number": NUMBER}]
    gate.release()
    finish(turn)
    assert turn.error is None
    run_jobs()
    assert phone.inbox() == [NOT_FOUND]
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).followup is None


def test_an_address_search_holds_nothing_while_the_geocoder_hangs(phone, gate):
    conversation_id = texted(phone, "pothole at 120 Main St")
    gate.hold(SEARCH_PATH)
    turn = start_turn(gate, conversation_id)
    assert_nothing_held(conversation_id)
    gate.release()
    finish(turn)
    run_jobs()
    [found] = phone.inbox()
    assert found.startswith("Found: 120 Main Street, Springfield. Please describe")


def test_other_residents_are_answered_while_one_waits_for_the_city(phone, gate, twilio_api):
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    gate.hold(STATUS_PATH)
    turn = start_turn(gate, conversation_id)
    other = Phone(phone.client, twilio_api, number="+13125550177")
    [menu] = other.text("hi")  # webhook, turn and delivery, in this thread
    assert "1 Pothole in Street" in menu
    assert turn.is_alive()  # answered while the first resident's look-up still hangs
    assert_nothing_held(conversation_id)
    gate.release()
    finish(turn)
    run_jobs()
    assert phone.inbox() == [NOT_FOUND]


def test_the_residents_next_text_is_taken_at_once_and_answered_after_the_look_up(phone, gate):
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    gate.hold(STATUS_PATH)
    turn = start_turn(gate, conversation_id)
    # The next text arrives while the city hangs: its webhook stores it and answers at once
    # (a held row would make its INSERT wait on the row's lock on PostgreSQL).
    answered = []
    webhook = threading.Thread(
        target=lambda: answered.append(
            post_signed(phone.client, "/webhooks/twilio", sms_form("hi", phone.number))
        ),
        daemon=True,
    )
    webhook.start()
    webhook.join(5)
    assert answered and answered[0].status_code == 200 and turn.is_alive()
    assert_nothing_held(conversation_id)
    gate.release()
    finish(turn)
    run_jobs()
    told, menu = phone.inbox()  # in the order the resident sent them
    assert told == NOT_FOUND and "1 Pothole in Street" in menu


class WorkerKilled(BaseException):
    """What a worker killed in the middle of a call looks like from inside: not an Exception."""


@pytest.fixture
def dies_asking_the_city(monkeypatch):
    """The worker dies while it asks the city about a request (once)."""
    real = httpx.HTTPTransport.handle_request
    calls = []

    def handle_request(self, request):
        if "/requests/" in request.url.path and not calls:
            calls.append(request.url.path)
            raise WorkerKilled
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    return calls


def _killed_mid_look_up(phone) -> int:
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    with pytest.raises(WorkerKilled):
        jobs.run_turn(conversation_id)
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
        replies = session.exec(select(Message).where(Message.direction == "out")).all()
    # Transaction 1 committed: the message is taken and the look-up is left to do.
    assert message.status == "processed" and replies == []
    assert conversation.followup["actions"] == [{"kind": "status", "number": NUMBER}]
    return conversation_id


def test_a_look_up_whose_worker_died_is_done_once_by_the_next_turn(
    phone, env, dies_asking_the_city
):
    _killed_mid_look_up(phone)
    told, menu = phone.text("hi")  # its turn does the look-up first, then the new text
    assert told == NOT_FOUND and "1 Pothole in Street" in menu
    assert NOT_FOUND not in phone.text("help")  # nothing else was waiting


def test_a_look_up_whose_worker_died_is_done_once_through_the_reconciler(
    phone, env, dies_asking_the_city, redis_conn
):
    conversation_id = _killed_mid_look_up(phone)
    assert jobs.reconcile() == 0  # its worker may still be at it
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        conversation.updated_at = utcnow() - timedelta(seconds=env.reconcile_grace + 1)
    assert jobs.reconcile() == 1
    run_jobs()
    assert phone.inbox() == [NOT_FOUND]
    assert jobs.reconcile() == 0
    run_jobs()
    assert phone.inbox() == []


def test_a_lapsed_workers_late_answer_is_not_applied_twice(phone, gate, redis_conn):
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    gate.hold(STATUS_PATH, first=1)  # the first worker's look-up hangs; later ones do not
    late = start_turn(gate, conversation_id)
    assert_nothing_held(conversation_id)
    texted(phone, "hi")
    # The first worker's Redis lock lapses (it was held past LOCK_TIMEOUT); a second worker
    # takes the conversation, asks the city itself, and goes on to the next text.
    redis_conn.delete(f"intake311:lock:conversation:{conversation_id}")
    assert jobs.run_turn(conversation_id) == 1
    assert late.is_alive()
    gate.release()  # the first worker's answer comes back: too late, it is dropped
    finish(late)
    assert late.error is None or isinstance(late.error, LockNotOwnedError)
    run_jobs()
    told, menu = phone.inbox()
    assert told == NOT_FOUND and "1 Pothole in Street" in menu
    assert phone.inbox() == []


def test_an_answer_that_crashes_the_engine_is_set_aside_and_the_next_text_flows(
    phone, env, monkeypatch
):
    real_step = turns.step

    def step(state, event, context):
        if isinstance(event, StatusFound):
            raise RuntimeError("engine bug")
        return real_step(state, event, context)

    monkeypatch.setattr(turns, "step", step)
    assert phone.text(f"STATUS {NUMBER}") == []
    with session_scope() as session:
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
        assert session.exec(select(Conversation.followup)).one() is None
    assert (message.status, message.error_code) == ("failed", "RuntimeError")
    assert [f.name for f in list_failures()] == [f"turn:{message.id}"]  # for staff
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu


def test_a_database_error_while_answering_leaves_the_follow_up_for_the_next_job(
    phone, env, monkeypatch
):
    def database_gone(*args):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    real_with_own = turns.with_own
    monkeypatch.setattr(turns, "with_own", database_gone)
    conversation_id = texted(phone, f"STATUS {NUMBER}")
    with pytest.raises(OperationalError):
        jobs.run_turn(conversation_id)
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).followup is not None
    monkeypatch.setattr(turns, "with_own", real_with_own)  # the database is back
    told, menu = phone.text("hi")
    assert told == NOT_FOUND and "1 Pothole in Street" in menu


def _console(text: str = "", **extras) -> int:
    receive(Inbound("console", "console:pin", uuid.uuid4().hex, text, InboundPayload(**extras)))
    get_queue().empty()
    return conversation_of("console:pin")


def _console_replies() -> list[str]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Message.text).where(Message.direction == "out").order_by(Message.id)
            ).all()
        )


def test_a_pin_is_named_with_nothing_held_and_answered_once(env, gate, redis_conn):
    conversation_id = _console("pothole")
    jobs.run_turn(conversation_id)
    asked = len(_console_replies())
    _console(location=(39.8001, -89.6455))
    gate.hold(REVERSE_PATH, first=1)
    late = start_turn(gate, conversation_id)  # naming the pin, before its turn
    assert_nothing_held(conversation_id)
    redis_conn.delete(f"intake311:lock:conversation:{conversation_id}")
    assert jobs.run_turn(conversation_id) == 1  # a second worker handles the pin meanwhile
    gate.release()
    finish(late)  # the first finds the message handled and leaves it
    assert late.error is None or isinstance(late.error, LockNotOwnedError)
    [taken] = _console_replies()[asked:]
    assert taken.startswith(texts.PIN_NEAR.split("{")[0])  # read back as the address it is near


def test_the_catalogue_is_fetched_with_nothing_held_and_a_stale_one_served_meanwhile(phone, gate):
    conversation_id = texted(phone, "hi")
    gate.hold(CATALOGUE_PATH)  # the first turn has no catalogue: it asks the city
    turn = start_turn(gate, conversation_id)
    assert_nothing_held(conversation_id)
    gate.release()
    finish(turn)
    run_jobs()
    assert "1 Pothole in Street" in phone.inbox()[0]

    with session_scope() as session:  # an hour later the catalogue is stale
        [cache] = session.exec(select(CatalogCache)).all()
        cache.fetched_at -= timedelta(seconds=get_settings().catalog_ttl + 1)
        stale_at = cache.fetched_at
    gate.hold(CATALOGUE_PATH)  # and the city hangs: the stale one is served at once
    conversation_id = texted(phone, "restart")
    assert jobs.run_turn(conversation_id) == 1 and not gate.entered.is_set()
    assert [job.func_name for job in get_queue("city").jobs] == ["bot.jobs.refresh_catalog"]
    gate.release()
    run_jobs()
    with session_scope() as session:
        assert session.exec(select(CatalogCache)).one().fetched_at > stale_at
