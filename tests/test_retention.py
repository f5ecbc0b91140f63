"""The retention purge against the database (SQLite and PostgreSQL), with rows aged by hand;
migration 0011 on rows stored before it; key rotation with two keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import select

from bot import jobs
from bot.cli import main
from bot.db import get_engine, session_scope
from bot.intake import conversation_for
from bot.migrate import alembic_config
from bot.models import Contact, Conversation, Direction, Message, MessageStatus, Report
from bot.personal_data import address_key, decrypt
from bot.retention import purge
from bot.settings import get_settings
from bot.timeutil import utcnow

OLD = timedelta(days=100)  # past the default RETENTION_DAYS (90)


def resident(number: str, aged: bool = True, **contact) -> tuple[int, int]:
    """A contact and its conversation (made long ago when `aged`); their ids."""
    with session_scope() as session:
        conversation = conversation_for(session, "sms", f"tel:{number}")
        found = session.get(Contact, conversation.contact_id)
        for key, value in contact.items():
            setattr(found, key, value)
        if aged:
            found.created_at = conversation.created_at = conversation.updated_at = utcnow() - OLD
        return conversation.contact_id, conversation.id


def message(ids: tuple[int, int], words: str, age: timedelta, **fields) -> int:
    contact_id, conversation_id = ids
    with session_scope() as session:
        row = Message(
            contact_id=contact_id,
            conversation_id=conversation_id,
            channel="sms",
            direction=fields.pop("direction", Direction.IN),
            text=words,
            status=fields.pop("status", MessageStatus.PROCESSED),
            payload={"raw": {"MessageSid": "SM1"}},
            created_at=utcnow() - age,
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


def report(ids: tuple[int, int], age: timedelta = OLD, **fields) -> int:
    contact_id, conversation_id = ids
    defaults = dict(
        service_code="001",
        service_name="Pothole in Street",
        description="Deep hole outside my house",
        address="5 Elm Street",
        lat=41.9,
        lon=-87.6,
        attributes={"WHEREIS": "CROSSWALK"},
        media=["telegram-file:abc"],
        contact_ok=True,
        phone="+13125550199",
        email="resident@example.org",
        state="submitted",
        service_request_id="2026-000001",
        city_status="closed",
        status_notes="Fixed at 5 Elm",
    )
    with session_scope() as session:
        row = Report(
            contact_id=contact_id,
            conversation_id=conversation_id,
            created_at=utcnow() - age,
            **(defaults | fields),
        )
        session.add(row)
        session.flush()
        return row.id


def personal(report_id: int) -> tuple:
    with session_scope() as session:
        row = session.get(Report, report_id)
        return (row.description, row.address, row.lat, row.attributes, row.media, row.phone)


BLANK = ("", "", None, {}, [], None)


def found(number: str) -> Contact | None:
    with session_scope() as session:
        key = address_key(f"tel:{number}")
        return session.exec(select(Contact).where(Contact.address_key == key)).first()


def remaining_messages() -> set[int]:
    with session_scope() as session:
        return set(session.exec(select(Message.id)).all())


def test_purge_deletes_old_transcripts_blanks_finished_reports_and_forgets_quiet_residents(env):
    # A resident quiet for 100 days whose report the city closed: forgotten.
    quiet = resident("+13125550101")
    quiet_words = message(quiet, "pothole at 5 Elm", OLD)
    quiet_report = report(quiet)
    # An active one: old words go, this week's stay; their old report (open at the city)
    # loses its personal data but still gets status updates.
    active = resident("+13125550102", aged=True)
    old_words = message(active, "old words", OLD)
    new_words = message(active, "new words", timedelta(days=2))
    with session_scope() as session:
        session.get(Conversation, active[1]).updated_at = utcnow() - timedelta(days=2)
    active_report = report(active, city_status="open", service_request_id="2026-000002")
    # Quiet, but the city still has their request open: kept, so the update reaches them.
    tracked = resident("+13125550103")
    tracked_report = report(tracked, city_status="in progress", service_request_id="2026-3")
    with session_scope() as session:  # a report they left half-made, 100 days ago
        held = {"name": "description", "draft": {"service_code": "001", "description": "my car"}}
        session.get(Conversation, tracked[1]).state = held | {"language": "es"}
    # A reply still waiting to be sent is never purged, however old.
    waiting = resident("+13125550104", aged=False)
    unsent = message(waiting, "your number is", OLD, direction=Direction.OUT, status="pending")
    # A report still on its way to the city keeps its words.
    on_its_way = report(resident("+13125550105"), state="pending", service_request_id=None)
    # Opted out long ago: only the key and the opt-out stay.
    resident("+13125550106", opted_out=True, language="es")

    done = purge()

    assert remaining_messages() == {new_words, unsent}
    assert quiet_words not in remaining_messages() and old_words not in remaining_messages()
    assert found("+13125550101") is None
    with session_scope() as session:
        kept = session.get(Report, quiet_report)
        assert kept.service_request_id == "2026-000001" and kept.city_status == "closed"
        tombstone = session.get(Contact, kept.contact_id)
        assert tombstone.address is None and tombstone.address_key is None
    assert personal(quiet_report) == BLANK
    assert personal(active_report) == BLANK and personal(tracked_report) == BLANK
    assert found("+13125550102").address == "tel:+13125550102"
    assert found("+13125550103").address == "tel:+13125550103"  # still tracked
    with session_scope() as session:  # the half-made report is gone, their language kept
        state = session.get(Conversation, tracked[1]).state
    assert state["name"] == "idle" and state["draft"] == {} and state["language"] == "es"
    assert personal(on_its_way)[0] == "Deep hole outside my house"
    stopped = found("+13125550106")
    assert stopped.opted_out and stopped.address is None and stopped.language is None
    assert (done.messages, done.reports, done.contacts) == (2, 3, 1)

    # Nothing left to do: a second purge changes nothing.
    again = purge()
    assert (again.messages, again.reports, again.contacts) == (0, 0, 0)
    # Of the quiet resident's number, nothing is left anywhere.
    from tests.test_residents_data import holding

    assert holding("5550101") == {}
    with session_scope() as session:
        worded = session.exec(select(Report.id).where(Report.description != "")).all()
    assert worded == [on_its_way]


def test_retention_days_is_the_setting(env, monkeypatch):
    ids = resident("+13125550107", aged=False)
    week_old = message(ids, "a week ago", timedelta(days=8))
    purge()
    assert week_old in remaining_messages()
    monkeypatch.setenv("RETENTION_DAYS", "7")
    get_settings.cache_clear()
    assert jobs.purge() >= 1
    assert week_old not in remaining_messages()


def test_the_cron_runs_the_purge(monkeypatch):
    from bot import worker

    registered = []

    class Cron:
        def __init__(self, connection):
            pass

        def register(self, func, queue, interval, job_timeout):
            registered.append((func, interval))

        def start(self):
            pass

    monkeypatch.setattr(worker, "CronScheduler", Cron)
    monkeypatch.setattr(worker, "get_redis", lambda: None)
    worker.run_cron()
    assert (jobs.purge, worker.PURGE_INTERVAL) in registered


# --- migration 0011 and key rotation ----------------------------------------------------------


def test_migration_0011_encrypts_stored_rows_and_its_downgrade_restores_them(env):
    command.downgrade(alembic_config(), "0010")
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO contact (address, channel, opted_out, created_at) VALUES "
                "('tel:+13125550142', 'sms', false, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO conversation (contact_id, state, created_at, updated_at) "
                "SELECT id, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM contact"
            )
        )
        connection.execute(
            text(
                "INSERT INTO message (conversation_id, contact_id, channel, direction, text, "
                "payload, status, attempts, created_at, updated_at) SELECT id, contact_id, 'sms', "
                "'in', 'pothole', :payload, 'processed', 0, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP FROM conversation"
            ),
            {"payload": '{"media": [], "raw": {"From": "+13125550142", "MessageSid": "SM9"}}'},
        )
        connection.execute(
            text(
                "INSERT INTO report (conversation_id, contact_id, service_code, service_name, "
                "description, address, state, attempts, delay_notice_sent, check_before_post, "
                "attributes, media, contact_ok, phone, email, created_at, updated_at) "
                "SELECT id, contact_id, '001', 'Pothole', 'hole', '5 Elm', 'submitted', 0, "
                "false, false, '{}', '[]', true, '+13125550199', 'me@example.org', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM conversation"
            )
        )

    command.upgrade(alembic_config(), "head")
    with get_engine().connect() as connection:
        address, key = connection.execute(text("SELECT address, address_key FROM contact")).one()
        phone, email = connection.execute(text("SELECT phone, email FROM report")).one()
        payload = connection.execute(text("SELECT CAST(payload AS TEXT) FROM message")).scalar()
    assert decrypt(address) == "tel:+13125550142" and key == address_key("tel:+13125550142")
    assert (decrypt(phone), decrypt(email)) == ("+13125550199", "me@example.org")
    assert "5550142" not in payload and "SM9" in payload
    assert found("+13125550142").address == "tel:+13125550142"
    with session_scope() as session:
        assert session.exec(select(Report)).one().phone == "+13125550199"

    command.downgrade(alembic_config(), "0010")
    with get_engine().connect() as connection:
        assert connection.execute(text("SELECT address FROM contact")).scalar() == (
            "tel:+13125550142"
        )
        assert tuple(connection.execute(text("SELECT phone, email FROM report")).one()) == (
            "+13125550199",
            "me@example.org",
        )
    command.upgrade(alembic_config(), "head")
    assert found("+13125550142").address == "tel:+13125550142"


@pytest.fixture
def two_keys(env, monkeypatch):
    """ENCRYPTION_KEYS with an old key; returns (old, new)."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", old)
    get_settings.cache_clear()
    return old, new


def test_keys_rotate_re_encrypts_everything_under_the_newest_key(two_keys, monkeypatch):
    old, new = two_keys
    ids = resident("+13125550142", aged=False)
    report(ids)
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{new},{old}")  # the new key first, the old kept
    get_settings.cache_clear()
    assert found("+13125550142").address == "tel:+13125550142"  # read with the old key

    result = CliRunner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "3 value(s) re-encrypted" in result.output

    monkeypatch.setenv("ENCRYPTION_KEYS", new)  # the old key dropped
    get_settings.cache_clear()
    assert found("+13125550142").address == "tel:+13125550142"
    with session_scope() as session:
        stored = session.exec(select(Report)).one()
        assert (stored.phone, stored.email) == ("+13125550199", "resident@example.org")
    with get_engine().connect() as connection:
        token = connection.execute(text("SELECT address FROM contact")).scalar()
    with pytest.raises(Exception):  # noqa: B017 - Fernet's InvalidToken
        Fernet(old.encode()).decrypt(token.encode())


def test_keys_rotate_rehash_follows_a_new_lookup_key(two_keys, monkeypatch):
    resident("+13125550142", aged=False)
    resident("+13125550143", aged=False, opted_out=True)
    with session_scope() as session:  # STOP kept only the key of this one
        stopped = session.exec(select(Contact).where(Contact.opted_out.is_(True))).one()
        stopped.address = None
    monkeypatch.setenv("LOOKUP_KEY", "a-new-lookup-key-0123456789")
    get_settings.cache_clear()
    assert found("+13125550142") is None  # the old hash no longer finds them

    result = CliRunner().invoke(main, ["keys", "rotate", "--rehash"])
    assert result.exit_code == 0, result.output
    assert "1 contact(s) rehashed; 1 kept only as an opt-out" in result.output
    assert found("+13125550142").address == "tel:+13125550142"


def test_keys_new_prints_a_fernet_key():
    result = CliRunner().invoke(main, ["keys", "new"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid key


def test_erasures_waiting_on_a_reply_do_not_hide_the_ones_after_them(env, monkeypatch):
    from bot import retention

    monkeypatch.setattr(retention, "BATCH", 2)
    waiting = [resident(f"+1312555030{n}", aged=False, opted_out=True) for n in range(3)]
    for ids in waiting:  # a reply still to send: their erasure waits
        message(ids, "Reply STOP to...", timedelta(0), direction=Direction.OUT, status="sending")
    ready = resident("+13125550309", aged=False, opted_out=True)
    assert retention._finish_erasures() == 1
    with session_scope() as session:
        assert session.get(Contact, ready[0]).address is None
        assert all(session.get(Contact, ids[0]).address for ids in waiting)
