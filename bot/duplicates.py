"""The nearby look-up and its records: the city's open requests near a place (offered before a
resident files the same problem again), our own filings added to them, and follows.

Rows are written with INSERT ... ON CONFLICT DO UPDATE on their unique keys (PostgreSQL's and
SQLite's alike): a filing and a listing of the city's requests that store the same request at
once both succeed, whichever commits first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from bot.models import Follow, OpenRequest, Report
from bot.open311.dates import parse_datetime
from bot.settings import Settings
from bot.timeutil import utcnow
from conversations import FollowRequest, NearbyRequest

# The most open requests offered at once (the engine shows each as one short line).
MOST_OFFERED = 3
# Metres in a degree of latitude (and of longitude at the equator): near enough for a box of
# tens of metres, which the exact distance then refines.
METRES_PER_DEGREE = 111_320.0
EARTH_RADIUS_METRES = 6_371_008.8
CLOSED = "closed"
# The columns' lengths: a city's long name or address is cut, never refused by PostgreSQL.
_LENGTHS = {"service_code": 128, "service_name": 255, "address": 255, "status": 32}
ID_LENGTH = 128


def find_nearby(
    session: Session,
    service_code: str,
    lat: float,
    lon: float,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[NearbyRequest, ...]:
    """The open requests of `service_code` within its radius (DUPLICATE_RADIUS_METRES, or the
    service's own) of the point, requested within DUPLICATE_WINDOW_DAYS: nearest first, at
    most MOST_OFFERED."""
    now = now or utcnow()
    radius = settings.duplicate_radius(service_code)
    since = now - timedelta(days=settings.duplicate_window_days)
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = session.exec(
        select(OpenRequest).where(
            OpenRequest.service_code == service_code,
            OpenRequest.lat.between(lat - dlat, lat + dlat),
            OpenRequest.lon.between(lon - dlon, lon + dlon),
            func.lower(OpenRequest.status) != CLOSED,
            or_(
                OpenRequest.requested_at >= since,
                and_(OpenRequest.requested_at.is_(None), OpenRequest.seen_at >= since),
            ),
        )
    ).all()
    measured = [(metres_between(lat, lon, row.lat, row.lon), row) for row in rows]
    near = sorted(
        ((metres, row) for metres, row in measured if metres <= radius),
        key=lambda pair: (pair[0], -(pair[1].requested_at or now).timestamp()),
    )
    return tuple(
        NearbyRequest(
            number=row.service_request_id,
            service_name=row.service_name,
            address=row.address,
            status=row.status,
            opened=row.requested_at,
            metres=round(metres),
        )
        for metres, row in near[:MOST_OFFERED]
    )


def metres_between(lat1: float, lon1: float, lat2: float | None, lon2: float | None) -> float:
    """The great-circle distance between two points, in metres (infinite when one is unknown)."""
    if lat2 is None or lon2 is None:
        return math.inf
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(min(1.0, a)))


def record_filed(session: Session, report: Report) -> None:
    """Our filing of `report` (its service_request_id set) as an open request, in the caller's
    transaction; a listing that stored the same request first is updated, never a failure."""
    if not report.service_request_id or len(report.service_request_id) > ID_LENGTH:
        return
    now = utcnow()
    row = _cut(
        {
            "service_request_id": report.service_request_id,
            "service_code": report.service_code,
            "service_name": report.service_name or "",
            "address": report.address or "",
            "lat": report.lat,
            "lon": report.lon,
            "status": (report.city_status or "open").lower(),
            "requested_at": report.submitted_at or now,
            "updated_at": now,
            "seen_at": now,
            "ours": True,
        }
    )
    upsert_open_requests(session, [row])


def open_row(entry: Mapping[str, Any], now: datetime) -> dict | None:
    """A request of the city's listing as an OpenRequest row's values; None when it has no
    usable id or service."""
    number = str(entry.get("service_request_id") or "").strip()
    code = str(entry.get("service_code") or "").strip()
    if not number or len(number) > ID_LENGTH or not code:
        return None
    lat, lon = _coordinate(entry.get("lat"), 90), _coordinate(entry.get("long"), 180)
    if lat is None or lon is None:
        lat = lon = None
    return _cut(
        {
            "service_request_id": number,
            "service_code": code,
            "service_name": str(entry.get("service_name") or "").strip(),
            "address": str(entry.get("address") or "").strip(),
            "lat": lat,
            "lon": lon,
            "status": str(entry.get("status") or "open").strip().lower() or "open",
            "requested_at": _utc(entry.get("requested_datetime")),
            "updated_at": _utc(entry.get("updated_datetime")),
            "seen_at": now,
            "ours": False,
        }
    )


def upsert_open_requests(session: Session, rows: list[dict]) -> None:
    """Insert these OpenRequest rows, or update the ones already stored (by number); a row
    we filed stays ours."""
    if not rows:
        return
    statement = _insert(session, OpenRequest).values(rows)
    refreshed = {
        name: statement.excluded[name]
        for name in rows[0]
        if name not in ("service_request_id", "ours")
    }
    refreshed["ours"] = OpenRequest.ours | statement.excluded.ours
    # A listing without a point or an address does not wipe what we know of it.
    refreshed["lat"] = func.coalesce(statement.excluded.lat, OpenRequest.lat)
    refreshed["lon"] = func.coalesce(statement.excluded.lon, OpenRequest.lon)
    refreshed["address"] = func.coalesce(
        func.nullif(statement.excluded.address, ""), OpenRequest.address
    )
    session.execute(
        statement.on_conflict_do_update(index_elements=["service_request_id"], set_=refreshed)
    )


def note_status(session: Session, number: str, status: str) -> None:
    """The city's new status of request `number`, on its OpenRequest row (if we hold one)."""
    session.execute(
        update(OpenRequest)
        .where(OpenRequest.service_request_id == number)
        .values(status=status[: _LENGTHS["status"]])
        .execution_options(synchronize_session=False)
    )


def follow(session: Session, contact_id: int, action: FollowRequest) -> None:
    """The contact follows request `action.number`, in the caller's transaction: recorded, or
    made active again (after it reopened, or was let go), with the request's current status as
    the last one they know."""
    number = action.number.strip()
    if not number or len(number) > ID_LENGTH:
        return
    # Without the status shown: our own report's is the freshest (tracking keeps it; its
    # open-request row is gone once closed), then the city's listing's.
    known = (
        session.exec(
            select(Report.city_status).where(
                Report.service_request_id == number, Report.city_status.is_not(None)
            )
        ).first()
        or session.exec(
            select(OpenRequest.status).where(OpenRequest.service_request_id == number)
        ).first()
    )
    now = utcnow()
    row = {
        "contact_id": contact_id,
        "service_request_id": number,
        "service_code": action.service_code[: _LENGTHS["service_code"]],
        "service_name": action.service_name[: _LENGTHS["service_name"]],
        # What the offer showed them, so a change since (even before they answered) is told.
        "last_status": (action.status or known or "open").lower()[: _LENGTHS["status"]],
        "active": True,
        "created_at": now,
        "updated_at": now,
    }
    statement = _insert(session, Follow).values(row)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["contact_id", "service_request_id"],
            set_={
                "active": True,
                "last_status": statement.excluded.last_status,
                "service_code": statement.excluded.service_code,
                "service_name": statement.excluded.service_name,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


@dataclass(frozen=True)
class Counts:
    """What `intake311 duplicates` shows: the open requests known, by service (code, name,
    how many), and the follows recorded (still active, all)."""

    open_by_service: list[tuple[str, str, int]]
    follows_active: int
    follows_total: int


def counts(session: Session) -> Counts:
    """The open requests known by service, and the follows recorded."""
    by_service = session.exec(
        select(OpenRequest.service_code, func.max(OpenRequest.service_name), func.count())
        .where(func.lower(OpenRequest.status) != CLOSED)
        .group_by(OpenRequest.service_code)
        .order_by(OpenRequest.service_code)
    ).all()
    active = session.exec(select(func.count()).where(Follow.active.is_(True))).one()
    total = session.exec(select(func.count()).select_from(Follow)).one()
    return Counts([(c, n or "", int(k)) for c, n, k in by_service], int(active), int(total))


def _insert(session: Session, model: type) -> Any:
    """The dialect's INSERT for `model` (it has on_conflict_do_update on both databases)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"no upsert for the {dialect} database")


def _cut(row: dict) -> dict:
    """The row's strings cut to their columns' lengths."""
    for name, length in _LENGTHS.items():
        if isinstance(row.get(name), str):
            row[name] = row[name][:length]
    return row


def _coordinate(value: object, limit: float) -> float | None:
    try:
        number = float(str(value).strip()) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def _utc(value: object) -> datetime | None:
    when = parse_datetime(value)
    return when.astimezone(UTC) if when is not None else None
