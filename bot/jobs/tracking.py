"""track: the city's view of every open report, and one text per real change."""

from __future__ import annotations

import logging

from sqlalchemy import and_, or_, update
from sqlmodel import func, select

from bot import queue
from bot.db import session_scope
from bot.jobs.common import add_notice, open311_client, redis_lock
from bot.models import Report
from bot.open311.client import Open311Error
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import notices

log = logging.getLogger(__name__)


def track() -> int:
    """Ask the city about every open report, in batches; return how many changed.

    One check runs at a time: a second, started while the first is still asking, returns 0.
    """
    lock = redis_lock("track", wait=None)
    if not lock.acquire(blocking=False):
        log.info("a status check is already running")
        return 0
    try:
        return _track()
    finally:
        lock.release()


def _track() -> int:
    settings = get_settings()
    with session_scope() as session:
        rows = session.exec(
            select(Report.id, Report.service_request_id)
            .where(Report.state == "submitted", func.lower(Report.status) != "closed")
            .order_by(Report.id)
        ).all()
    ids = {str(number): report_id for report_id, number in rows}
    numbers = list(ids)
    changed = 0
    client = open311_client(settings)
    try:
        for start in range(0, len(numbers), settings.open311_batch_size):
            batch = numbers[start : start + settings.open311_batch_size]
            try:
                found = client.requests(batch)
            except Open311Error as exc:
                log.warning("status check failed: %s", exc)
                break
            for entry in found:
                report_id = ids.get(str(entry.get("service_request_id")))
                if report_id is not None and receive_status(report_id, entry):
                    changed += 1
    finally:
        client.close()
    return changed


def receive_status(report_id: int, entry: dict) -> bool:
    """Store the city's view of a report; on a real change, text the resident. True if changed.

    The conditional UPDATE makes this safe to run twice at once: one of them texts.
    """
    status = str(entry.get("status") or "").strip().lower() or None
    notes = str(entry.get("status_notes") or "").strip() or None
    if status is None:
        return False
    with session_scope() as session:
        now = utcnow()
        result = session.execute(
            update(Report)
            .where(Report.id == report_id, _differs(Report.status, status) | _differs(
                Report.status_notes, notes))
            .values(status=status, status_notes=notes, status_changed_at=now, updated_at=now)
        )
        if result.rowcount != 1:
            return False
        report = session.get(Report, report_id)
        text = notices.status_changed(
            report.service_request_id, status, notes or "", report.service_name
        )
        notice = add_notice(session, report, text)
    queue.enqueue("bot.jobs.deliver", notice.id)
    return True


def _differs(column, value):
    """SQL for `column IS DISTINCT FROM value`, spelled so SQLite and PostgreSQL agree."""
    if value is None:
        return column.is_not(None)
    return or_(column.is_(None), and_(column.is_not(None), column != value))
