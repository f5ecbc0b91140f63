"""refresh_open_requests: the local picture of the city's open requests, for the nearby look-up
(bot.duplicates), listed again every DUPLICATE_REFRESH_SECONDS on the city's queue.

Nothing is closed for being missing from a listing: servers cap their answers (at 1000, or
lower, with or without pages), so a request the listing left out is asked about by its number
(a bounded number each refresh), and closed only when the city says it is. Our own reports are
kept by tracking.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, select

from bot import duplicates
from bot.db import session_scope
from bot.jobs.common import city_client, redis_lock
from bot.models import OpenRequest
from bot.open311.client import Open311Error
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# The listing may take a slow city's every page; its lock outlives the job (the cron's timeout).
REFRESH_JOB_TIMEOUT = 600
REFRESH_LOCK_TIMEOUT = REFRESH_JOB_TIMEOUT + 120
# Rows written per statement (11 values each: well within SQLite's 32766 variables).
UPSERT_CHUNK = 500
# The city's clock and ours may differ: a request this near either end of the window is
# never closed for being missing (the city may have counted it outside).
EDGE = timedelta(hours=1)
# Requests the listing left out, asked about by number in one refresh at the most.
ASK_UNLISTED = 500


def refresh_open_requests() -> int:
    """List the city's open requests of the window and store them; return how many were
    listed. Nothing is asked when DUPLICATE_SERVICES_OFF is "*"."""
    settings = get_settings()
    off = settings.duplicates_off()
    if "*" in off:
        return 0
    lock = redis_lock("open_requests", wait=None, timeout=REFRESH_LOCK_TIMEOUT)
    if not lock.acquire(blocking=False):
        log.info("a listing of open requests is already running")
        return 0
    try:
        now = utcnow()
        start = now - timedelta(days=settings.duplicate_window_days)
        try:
            # Up to now, and past it by EDGE: dates go to the city in whole seconds, and a
            # city's clock ahead of ours must not hide the requests filed a moment ago.
            listed_records = city_client(settings).requests_query(
                status="open", start_date=start, end_date=now + EDGE
            )
        except Open311Error as exc:
            log.warning("the city's open requests could not be listed: %s", exc)
            return 0
        rows: dict[str, dict] = {}
        for entry in listed_records:
            row = duplicates.open_row(entry, now)
            if row is not None and row["service_code"] not in off:
                rows[row["service_request_id"]] = row
        listed = list(rows.values())
        for first in range(0, len(listed), UPSERT_CHUNK):
            with session_scope() as session:
                duplicates.upsert_open_requests(session, listed[first : first + UPSERT_CHUNK])
        _ask_unlisted(settings, now, start, off)
        with session_scope() as session:
            _drop_old(session, now, settings)
        return len(listed)
    finally:
        lock.release()


def _ask_unlisted(settings: Settings, now: datetime, start: datetime, off: frozenset[str]) -> int:
    """Ask the city about the open requests of the window the listing made at `now` left out
    (not ours, not of a service whose check is off), at most ASK_UNLISTED, and store what it
    says: closed, or still open (then seen now). Return how many it answered about."""
    with session_scope() as session:
        numbers = list(
            session.exec(
                select(OpenRequest.service_request_id)
                .where(
                    OpenRequest.seen_at < now,
                    OpenRequest.ours.is_(False),
                    func.lower(OpenRequest.status) != duplicates.CLOSED,
                    or_(OpenRequest.requested_at.is_(None), OpenRequest.requested_at >= start),
                    OpenRequest.service_code.not_in(off) if off else OpenRequest.id.is_not(None),
                )
                .order_by(OpenRequest.seen_at)
                .limit(ASK_UNLISTED)
            ).all()
        )
    client = city_client(settings)
    answered = 0
    for first in range(0, len(numbers), client.profile.batch_size):
        batch = numbers[first : first + client.profile.batch_size]
        try:
            found = client.requests(batch)
        except Open311Error as exc:
            log.warning("the city could not say whether unlisted requests closed: %s", exc)
            break
        statuses = {
            str(entry.get("service_request_id")): str(entry.get("status") or "open")
            for entry in found
            if str(entry.get("service_request_id")) in batch
        }
        with session_scope() as session:
            for number, status in statuses.items():
                session.execute(
                    update(OpenRequest)
                    .where(OpenRequest.service_request_id == number)
                    .values(status=status.strip().lower()[:32] or "open", seen_at=now)
                    .execution_options(synchronize_session=False)
                )
        answered += len(statuses)
    return answered


def _drop_old(session: Session, now: datetime, settings: Settings) -> int:
    """Delete the closed requests and those older than twice the window: what is never
    offered again does not pile up."""
    old = now - timedelta(days=2 * settings.duplicate_window_days)
    result = session.execute(
        delete(OpenRequest)
        .where(
            or_(
                func.lower(OpenRequest.status) == duplicates.CLOSED,
                OpenRequest.requested_at < old,
                OpenRequest.requested_at.is_(None) & (OpenRequest.seen_at < old),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
