"""A resident's message stored in one statement: the contact and the conversation found (or
created when new) and the message inserted once per provider id (`upsert_inbound`).

On PostgreSQL this is one round trip, a statement whose data-modifying CTEs insert only what
is missing (`ON CONFLICT DO NOTHING` on the unique keys: contact.address_key,
conversation.contact_id, message (channel, external_id)). A returning resident's message takes
no lock on their contact or conversation, so a turn in progress never holds up the webhook.
On SQLite (no data-modifying CTEs) the same inserts run one by one in the caller's transaction.

A concurrent webhook may create the same contact or conversation between our look and our
insert; the insert then does nothing (after waiting for that webhook's transaction) and the
statement is run again: it finds what the other stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Connection, TextClause, bindparam, text
from sqlalchemy.engine import Row

from bot.channels.base import Inbound
from bot.encrypted import EncryptedText
from bot.models import Direction, MessageStatus
from bot.personal_data import address_key
from bot.timeutil import UTCDateTime, utcnow

# Each pass either finds the rows or loses a race to a webhook that has committed them, so the
# second pass finds them; a third is for a contact and then its conversation both raced.
PASSES = 3


@dataclass(frozen=True)
class Stored:
    """The resident's conversation, and the new message's id (None: the provider id is taken)."""

    contact_id: int
    conversation_id: int
    opted_out: bool
    message_id: int | None


def upsert_inbound(connection: Connection, inbound: Inbound) -> Stored:
    """Insert `inbound` unless its provider id is stored already, with its contact and
    conversation when they are new, in the caller's transaction."""
    values = {
        "key": address_key(inbound.address),
        "address": inbound.address,
        "channel": inbound.channel,
        "external_id": inbound.external_id,
        "text": inbound.text,
        "payload": inbound.payload.to_dict(),
        "now": utcnow(),
    }
    postgres = connection.dialect.name == "postgresql"
    for _ in range(PASSES):
        row = _pass_postgres(connection, values) if postgres else _pass_sqlite(connection, values)
        if row is not None:
            if row.erased:
                # Erased after STOP (only the key and the opt-out were kept): back with this
                # message. Rare: the one time the contact's row is written here.
                connection.execute(_RESTORE_ADDRESS, {"id": row.contact_id, **values})
            return Stored(row.contact_id, row.conversation_id, bool(row.opted_out), row.message_id)
    raise RuntimeError("the resident's contact or conversation could not be stored")


_TYPES = {
    "address": bindparam("address", type_=EncryptedText()),  # encrypted on its way in
    "payload": bindparam("payload", type_=JSON()),
    "now": bindparam("now", type_=UTCDateTime()),
    "direction": bindparam("direction", Direction.IN.value),
    "status": bindparam("status", MessageStatus.PENDING.value),
}


def _typed(statement: str) -> TextClause:
    """`statement` with its parameters' column types (encryption, JSON, aware datetimes)."""
    return text(statement).bindparams(
        *(param for name, param in _TYPES.items() if f":{name}" in statement)
    )


_FOUND = """
    SELECT c.id AS contact_id, c.opted_out, c.address IS NULL AS erased,
           v.id AS conversation_id
    FROM contact c LEFT JOIN conversation v ON v.contact_id = c.id
    WHERE c.address_key = :key
"""
_NEW_CONTACT = """
    INSERT INTO contact (address, address_key, channel, opted_out, created_at)
    SELECT :address, :key, :channel, false, :now
"""
_NEW_CONVERSATION = """
    INSERT INTO conversation (contact_id, state, created_at, updated_at)
    SELECT contact_id, '{}', :now, :now
"""
_NEW_MESSAGE = """
    INSERT INTO message (conversation_id, contact_id, channel, direction, external_id, text,
                         payload, status, attempts, created_at, updated_at)
    SELECT conversation_id, contact_id, :channel, :direction, :external_id, :text,
           :payload, :status, 0, :now, :now
"""

# One statement: every CTE sees the same snapshot, and each INSERT adds a row only where the
# look found none. No row at all (or no conversation): a concurrent webhook won a race to a
# unique key; run it again. A conversation but no message id: the provider id is taken.
_UPSERT_POSTGRES = _typed(
    f"""
WITH found AS ({_FOUND}),
new_contact AS (
    {_NEW_CONTACT} WHERE NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (address_key) DO NOTHING
    RETURNING id AS contact_id, opted_out
),
the_contact AS (
    SELECT contact_id, opted_out, erased, conversation_id FROM found
    UNION ALL
    SELECT contact_id, opted_out, false, NULL FROM new_contact
),
new_conversation AS (
    {_NEW_CONVERSATION} FROM the_contact WHERE conversation_id IS NULL
    ON CONFLICT (contact_id) DO NOTHING
    RETURNING id AS conversation_id, contact_id
),
the_conversation AS (
    SELECT conversation_id, contact_id FROM the_contact WHERE conversation_id IS NOT NULL
    UNION ALL
    SELECT conversation_id, contact_id FROM new_conversation
),
new_message AS (
    {_NEW_MESSAGE} FROM the_conversation
    ON CONFLICT (channel, external_id) DO NOTHING
    RETURNING id
)
SELECT t.contact_id, t.opted_out, t.erased, v.conversation_id, m.id AS message_id
FROM the_contact t
LEFT JOIN the_conversation v ON true
LEFT JOIN new_message m ON true
"""
)


def _pass_postgres(connection: Connection, values: dict) -> Row | None:
    """None: a concurrent webhook won a race to a unique key (run again: it committed)."""
    row = connection.execute(_UPSERT_POSTGRES, values).first()
    return row if row is not None and row.conversation_id is not None else None


_FIND = _typed(_FOUND)
_INSERT_CONTACT = _typed(f"{_NEW_CONTACT} WHERE true ON CONFLICT (address_key) DO NOTHING")
_INSERT_CONVERSATION = _typed(
    f"{_NEW_CONVERSATION} FROM (SELECT :contact_id AS contact_id) AS c WHERE true "
    "ON CONFLICT (contact_id) DO NOTHING"
)
_INSERT_MESSAGE = _typed(
    f"{_NEW_MESSAGE} FROM (SELECT :conversation_id AS conversation_id, "
    ":contact_id AS contact_id) AS v WHERE true "
    "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"
)


@dataclass(frozen=True)
class _SqliteRow:
    contact_id: int
    opted_out: bool
    erased: bool
    conversation_id: int
    message_id: int | None


def _pass_sqlite(connection: Connection, values: dict) -> _SqliteRow:
    # SQLite has one writer at a time: once an insert below has begun the write transaction,
    # the next look sees what any other webhook committed, so it finds the row.
    found = connection.execute(_FIND, values).first()
    if found is None:
        connection.execute(_INSERT_CONTACT, values)
        found = connection.execute(_FIND, values).one()
    if found.conversation_id is None:
        connection.execute(_INSERT_CONVERSATION, {**values, "contact_id": found.contact_id})
        found = connection.execute(_FIND, values).one()
    message_id = connection.execute(
        _INSERT_MESSAGE,
        {**values, "contact_id": found.contact_id, "conversation_id": found.conversation_id},
    ).scalar()
    return _SqliteRow(
        found.contact_id,
        bool(found.opted_out),
        bool(found.erased),
        found.conversation_id,
        message_id,
    )


_RESTORE_ADDRESS = _typed(
    "UPDATE contact SET address = :address WHERE id = :id AND address IS NULL"
)
