"""The sandbox's SQLite store of service requests and tokens (stdlib sqlite3, thread-safe)."""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import string
import threading
import time
from datetime import datetime, timedelta, timezone

ID_STYLES = ("dashed", "letters", "digits")
UNTIL_MODERATED = math.inf  # a `hidden_for` that lasts until moderate() is called

# The demo town's clock: US Central standard time, a fixed offset so output is predictable.
TOWN_TZ = timezone(timedelta(hours=-6))

FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
_PRIVATE = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
    "jurisdiction_id",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    {", ".join(f"{f} {'REAL' if f in ('lat', 'long') else 'TEXT'}" for f in FIELDS)},
    {", ".join(f"{f} TEXT" for f in _PRIVATE)},
    attributes TEXT NOT NULL DEFAULT '{{}}',
    requested_ts REAL NOT NULL,
    visible_ts REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS requests_id ON requests (service_request_id);
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_request_id TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT,
    updated_datetime TEXT NOT NULL,
    updated_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    service_request_id TEXT NOT NULL,
    visible_ts REAL NOT NULL
);
"""


def iso(ts: float) -> str:
    """An epoch time as ISO 8601 with the town's offset, e.g. 2026-03-01T09:15:00-06:00."""
    return datetime.fromtimestamp(ts, TOWN_TZ).isoformat(timespec="seconds")


def parse_iso(text: str) -> float:
    """ISO 8601 (offset or Z; a bare date counts as town midnight) as an epoch time."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=TOWN_TZ)
    return value.timestamp()


class SandboxStore:
    """Service requests and tokens in one SQLite file; a connection per call under a lock."""

    def __init__(self, path: str):
        self.path = str(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def _run(self, fn):
        with self._lock:
            db = self._connect()
            try:
                with db:
                    return fn(db)
            finally:
                db.close()

    @staticmethod
    def _new_id(db: sqlite3.Connection, style: str, seq: int, now: float) -> str:
        """A new service_request_id in `style`: 2026-000123 (dashed), 123 or "nnxoxfvi"."""
        if style == "digits":
            return str(seq)
        if style == "dashed":
            return f"{datetime.fromtimestamp(now, TOWN_TZ).year}-{seq:06d}"
        while True:
            rid = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
            taken = "SELECT 1 FROM requests WHERE service_request_id = ?"
            if db.execute(taken, (rid,)).fetchone() is None:
                return rid

    def create(
        self,
        record: dict,
        *,
        delay: float = 0.0,
        token: bool = False,
        hidden_for: float = 0.0,
        id_style: str = "dashed",
    ) -> dict:
        """Store a new request; return {"service_request_id", "token"?, ...} as filed. A token
        resolves after `delay` s; the request is listed after `delay` and `hidden_for` s
        (UNTIL_MODERATED: only once moderate() is called); ids in `id_style` (ID_STYLES)."""
        if id_style not in ID_STYLES:
            raise ValueError(f"id_style must be one of {', '.join(ID_STYLES)}")
        now = time.time()
        visible = now + delay

        def insert(db: sqlite3.Connection) -> dict:
            row = {k: record.get(k) for k in (*FIELDS, *_PRIVATE)}
            row["attributes"] = json.dumps(record.get("attributes") or {})
            row.update(status="open", requested_ts=now, visible_ts=now + max(delay, hidden_for))
            row["requested_datetime"] = row["updated_datetime"] = iso(now)
            row["service_request_id"] = "pending-" + secrets.token_hex(8)
            cols = ", ".join(row)
            cur = db.execute(
                f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
            rid = self._new_id(db, id_style, cur.lastrowid, now)
            db.execute(
                "UPDATE requests SET service_request_id = ? WHERE seq = ?", (rid, cur.lastrowid)
            )
            out = {"service_request_id": rid}
            if token:
                out["token"] = secrets.token_hex(12)
                db.execute(
                    "INSERT INTO tokens (token, service_request_id, visible_ts) VALUES (?, ?, ?)",
                    (out["token"], rid, visible),
                )
            return out

        return self._run(insert)

    def moderate(self, service_request_id: str) -> dict | None:
        """Publish a hidden request now (a moderator's approval); the request, or None."""
        now = time.time()
        sql = "UPDATE requests SET visible_ts = ? WHERE service_request_id = ? AND visible_ts > ?"
        self._run(lambda db: db.execute(sql, (now, service_request_id, now)))
        row = self._run(
            lambda db: db.execute(
                "SELECT * FROM requests WHERE service_request_id = ?", (service_request_id,)
            ).fetchone()
        )
        return None if row is None else {f: row[f] for f in FIELDS}

    def token(self, token: str) -> dict | None:
        """{"token", "service_request_id"} (id None until it is ready), or None if unknown."""

        def find(db: sqlite3.Connection) -> dict | None:
            row = db.execute("SELECT * FROM tokens WHERE token = ?", (token,)).fetchone()
            if row is None:
                return None
            ready = row["visible_ts"] <= time.time()
            rid = row["service_request_id"] if ready else None
            return {"token": token, "service_request_id": rid}

        return self._run(find)

    def get(self, service_request_id: str) -> dict | None:
        """One visible request in the spec's shape, or None."""
        found = self.find(ids=[service_request_id])
        return found[0] if found else None

    def find(
        self,
        *,
        ids: list[str] | None = None,
        service_codes: list[str] | None = None,
        statuses: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 1000,
    ) -> list[dict]:
        """Visible requests matching every filter given, newest first, at most `limit`."""
        where, args = ["visible_ts <= ?"], [time.time()]
        for column, values in (
            ("service_request_id", ids),
            ("service_code", service_codes),
            ("status", statuses),
        ):
            if values:
                where.append(f"{column} IN ({', '.join('?' for _ in values)})")
                args.extend(values)
        if start is not None:
            where.append("requested_ts >= ?")
            args.append(start)
        if end is not None:
            where.append("requested_ts <= ?")
            args.append(end)
        sql = f"SELECT * FROM requests WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        rows = self._run(lambda db: db.execute(sql, args).fetchall())
        return [{f: row[f] for f in FIELDS} for row in rows]

    def private(self, service_request_id: str) -> dict | None:
        """The resident's contact fields and attributes of a request (sandbox-only view)."""
        row = self._run(
            lambda db: db.execute(
                "SELECT * FROM requests WHERE service_request_id = ?", (service_request_id,)
            ).fetchone()
        )
        if row is None:
            return None
        out = {f: row[f] for f in _PRIVATE}
        out["attributes"] = json.loads(row["attributes"])
        return out

    def set_status(
        self, service_request_id: str, status: str, status_notes: str | None
    ) -> dict | None:
        """Change a request's status and notes (updated_datetime now); None if unknown."""
        ts = time.time()
        now = iso(ts)

        def update(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "UPDATE requests SET status = ?, status_notes = ?, updated_datetime = ? "
                "WHERE service_request_id = ?",
                (status, status_notes, now, service_request_id),
            )
            if cur.rowcount:
                db.execute(
                    "INSERT INTO updates (service_request_id, status, description, "
                    "updated_datetime, updated_ts) VALUES (?, ?, ?, ?, ?)",
                    (service_request_id, status, status_notes, now, ts),
                )
            return cur.rowcount

        if not self._run(update):
            return None
        row = self._run(
            lambda db: db.execute(
                "SELECT * FROM requests WHERE service_request_id = ?", (service_request_id,)
            ).fetchone()
        )
        return {f: row[f] for f in FIELDS}

    def updates(self, start: float, end: float | None = None) -> list[dict]:
        """Status changes made between `start` and `end` (epoch), oldest first, in the shape
        of mySociety's servicerequestupdates."""
        sql, args = "SELECT * FROM updates WHERE updated_ts >= ?", [start]
        if end is not None:
            sql += " AND updated_ts <= ?"
            args.append(end)
        rows = self._run(lambda db: db.execute(sql + " ORDER BY update_id", args).fetchall())
        return [
            {
                "update_id": str(row["update_id"]),
                "service_request_id": row["service_request_id"],
                "status": row["status"],
                "updated_datetime": row["updated_datetime"],
                "description": row["description"],
                "media_url": None,
            }
            for row in rows
        ]
