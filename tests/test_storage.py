"""Storage on SQLite and PostgreSQL: migrations, constraints, aware datetimes, JSON state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import select

from bot.db import get_engine, normalise_url, session_scope
from bot.intake import conversation_for
from bot.migrate import alembic_config
from bot.models import Conversation, Direction, Message, MessageStatus, Report, ReportState


def test_migrations_create_every_table(env):
    tables = set(inspect(get_engine()).get_table_names())
    assert {
        "contact",
        "conversation",
        "message",
        "report",
        "catalogcache",
        "alembic_version",
    } <= tables


def test_provider_ids_are_unique_per_channel(env):
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        ids = dict(conversation_id=conversation.id, contact_id=conversation.contact_id)
        session.add(Message(channel="sms", direction="in", external_id="SM1", **ids))
        session.add(Message(channel="console", direction="in", external_id="SM1", **ids))
        session.add(Message(channel="sms", direction="out", external_id=None, **ids))
        session.add(Message(channel="sms", direction="out", external_id=None, **ids))
    with pytest.raises(IntegrityError), session_scope() as session:
        session.add(Message(channel="sms", direction="in", external_id="SM1", **ids))


def test_one_contact_and_conversation_per_address(env):
    with session_scope() as session:
        first = conversation_for(session, "sms", "tel:+13125550142")
    with session_scope() as session:
        again = conversation_for(session, "sms", "tel:+13125550142")
        other = conversation_for(session, "sms", "tel:+13125550143")
    assert first.id == again.id != other.id


def test_datetimes_come_back_aware_in_utc(env):
    when = datetime(2026, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=-5)))
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        conversation.updated_at = when
        conversation_id = conversation.id
    with session_scope() as session:
        stored = session.get(Conversation, conversation_id).updated_at
    assert stored == when and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(env):
    with pytest.raises(StatementError), session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        conversation.updated_at = datetime(2026, 5, 1, 12, 30)


def test_conversation_state_is_saved_when_reassigned(env):
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        conversation.state = {"name": "location", "draft": {"service_code": "001"}}
        conversation_id = conversation.id
    with session_scope() as session:
        assert session.get(Conversation, conversation_id).state["draft"] == {"service_code": "001"}


def test_a_conversation_without_a_followup_holds_sql_null(env):
    """The follow-up column is NULL, not JSON null, when there is none (the reconciler and
    the turn's conditional updates ask `followup IS NULL`), and its token can be matched."""
    with session_scope() as session:
        conversation_id = conversation_for(session, "sms", "tel:+13125550142").id
    waiting = {"token": "ab12", "message_id": 1, "steps": 1, "actions": [{"kind": "reports"}]}

    def without() -> list[int]:
        with session_scope() as session:
            return session.exec(
                select(Conversation.id).where(Conversation.followup.is_(None))
            ).all()

    assert without() == [conversation_id]
    with session_scope() as session:
        session.get(Conversation, conversation_id).followup = waiting
    assert without() == []
    with session_scope() as session:
        token = Conversation.followup["token"].as_string()
        assert session.exec(select(Conversation.id).where(token == "ab12")).all() == [
            conversation_id
        ]
        session.get(Conversation, conversation_id).followup = None
    assert without() == [conversation_id]


def test_migration_0008_adds_the_followup_column_to_existing_conversations(env):
    def columns() -> set[str]:
        return {c["name"] for c in inspect(get_engine()).get_columns("conversation")}

    command.downgrade(alembic_config(), "0007")
    assert "followup" not in columns()
    with get_engine().begin() as connection:  # a conversation stored before the upgrade
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
    command.upgrade(alembic_config(), "head")
    assert "followup" in columns()
    with session_scope() as session:
        [conversation] = session.exec(select(Conversation)).all()
        found = session.exec(select(Conversation.id).where(Conversation.followup.is_(None)))
        assert conversation.followup is None and found.all() == [conversation.id]


def test_states_are_stored_as_their_strings_and_read_back_as_enums(env):
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        ids = dict(conversation_id=conversation.id, contact_id=conversation.contact_id)
        message = Message(channel="sms", direction="out", status=MessageStatus.SENT, **ids)
        report = Report(service_code="001", state=ReportState.AWAITING_NUMBER, **ids)
        session.add_all([message, report])
        session.flush()
        message_id, report_id = message.id, report.id
    with session_scope() as session:
        stored = session.execute(
            text("SELECT direction, status FROM message WHERE id = :id"), {"id": message_id}
        ).one()
        assert tuple(stored) == ("out", "sent") and type(stored[0]) is str
        assert session.execute(text("SELECT state FROM report")).scalar() == "awaiting_number"
        message = session.get(Message, message_id)
        assert message.direction is Direction.OUT and message.status is MessageStatus.SENT
        assert session.get(Report, report_id).state is ReportState.AWAITING_NUMBER
        # A state written by another version is read as the string it is.
        session.execute(text("UPDATE report SET state = 'archived'"))
        session.expire_all()
        assert session.get(Report, report_id).state == "archived"


def test_a_state_that_is_not_one_is_refused(env):
    with pytest.raises(StatementError), session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        ids = dict(conversation_id=conversation.id, contact_id=conversation.contact_id)
        session.add(Report(service_code="001", state="sumbitted", **ids))


def test_the_citys_status_moves_to_city_status_and_back(env):
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0009").down_revision
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        ids = dict(conversation_id=conversation.id, contact_id=conversation.contact_id)
        session.add(Report(service_code="001", city_status="in progress", **ids))
    command.downgrade(alembic_config(), before)
    with session_scope() as session:
        assert session.execute(text("SELECT status FROM report")).scalar() == "in progress"
    command.upgrade(alembic_config(), "head")
    with session_scope() as session:
        assert session.exec(select(Report)).one().city_status == "in progress"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_database_urls_use_psycopg3(url, expected):
    assert normalise_url(url) == expected


def test_migration_0017_keeps_waits_flagged_before_it_ending(env):
    with session_scope() as session:
        waiting = conversation_for(session, "sms", "tel:+13125550142").id
        other = conversation_for(session, "sms", "tel:+13125550143").id
    command.downgrade(alembic_config(), "0016")
    columns = {c["name"] for c in inspect(get_engine()).get_columns("conversation")}
    assert "handoff_staff_in" not in columns
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE conversation SET handoff = 'waiting' WHERE id = :id"), {"id": waiting}
        )
    command.upgrade(alembic_config(), "head")
    with session_scope() as session:
        assert session.get(Conversation, waiting).handoff_staff_in is True
        assert session.get(Conversation, other).handoff_staff_in is None
