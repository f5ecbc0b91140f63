"""track: the city's view of every open report, and one text per real change (to its resident
and to those who follow it: bot.jobs.following)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from bot import duplicates, metrics, queue, report_history
from bot.db import session_scope
from bot.jobs.common import (
    add_notice,
    city_zone,
    expected_at,
    expected_text,
    fitted_for,
    language_of,
    open311_client,
    redis_lock,
)
from bot.jobs.following import notify_followers, track_follows
from bot.models import AppliedUpdate, Contact, Conversation, Cursor, Report, ReportState
from bot.open311.client import Open311Client, Open311Error, parse_datetime
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import notices

log = logging.getLogger(__name__)

UPDATES_CURSOR = "servicerequestupdates"
# Where the updates feed starts the first time, and how far back each read overlaps the last.
FIRST_LOOK_BACK = timedelta(days=1)
OVERLAP = timedelta(minutes=5)
# How long a closed report is still checked: cities reopen requests closed in error.
REOPEN_WATCH = timedelta(days=30)
# Tracked reports read per query (rounded to whole batches of the city's batch_size).
CHUNK = 1000


def track() -> int:
    """Ask the city about every open report; return how many changed.

    One check runs at a time: a second, started while the first is still asking, returns 0.
    """
    lock = redis_lock("track", wait=None, timeout=queue.TRACK_LOCK_TIMEOUT)  # outlives the job
    if not lock.acquire(blocking=False):
        log.info("a status check is already running")
        return 0
    try:
        settings = get_settings()
        client = open311_client(settings)
        try:
            if client.profile.updates:
                changed = _track_updates(client)
            else:
                changed = _track_requests(client, client.profile.batch_size)
            track_follows(client)  # the requests residents follow that are not our reports
            return changed
        finally:
            client.close()
    finally:
        lock.release()


@dataclass(frozen=True)
class Tracked:
    """A tracked report: its city request number and the city's view we last stored."""

    report_id: int
    number: str
    status: str | None
    notes: str | None
    expected: str | None
    checked: bool  # the city has answered about it before (its baseline is taken)


def _tracked_where():
    """Filed reports still open, and those closed within REOPEN_WATCH (a city may reopen
    them), whose resident has not asked us to forget them."""
    recently = utcnow() - REOPEN_WATCH
    return and_(
        Report.state == ReportState.SUBMITTED,
        # A resident who asked us to forget them gets no more status updates.
        Contact.address_key.is_not(None),
        or_(
            func.lower(Report.city_status) != "closed",
            Report.city_status.is_(None),
            Report.status_changed_at > recently,
        ),
    )


def tracked_reports(chunk: int = CHUNK) -> Iterator[list[Tracked]]:
    """Every tracked report, in order of id, `chunk` at a time.

    Each chunk is read after the one before was handled, from past its last id: a report is
    seen at most once however others change meanwhile, and every report still tracked when its
    turn comes is seen. No session stays open between chunks.
    """
    after = 0
    while True:
        with session_scope() as session:
            rows = session.exec(
                select(
                    Report.id,
                    Report.service_request_id,
                    Report.city_status,
                    Report.status_notes,
                    Report.expected_datetime,
                    Report.last_checked_at,
                )
                .join(Contact, Contact.id == Report.contact_id)
                .where(_tracked_where(), Report.id > after)
                .order_by(Report.id)
                .limit(chunk)
            ).all()
        if not rows:
            return
        yield [
            Tracked(report_id, str(number), status, notes, expected, checked is not None)
            for report_id, number, status, notes, expected, checked in rows
        ]
        after = rows[-1][0]


def _tracked_ids(numbers: Iterable[str]) -> dict[str, int]:
    """The tracked reports among these city request numbers, by number."""
    wanted = sorted(set(numbers))
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        with session_scope() as session:
            rows = session.exec(
                select(Report.id, Report.service_request_id)
                .join(Contact, Contact.id == Report.contact_id)
                .where(
                    _tracked_where(), Report.service_request_id.in_(wanted[start : start + CHUNK])
                )
                .order_by(Report.id)
            ).all()
        ids.update((str(number), report_id) for report_id, number in rows)
    return ids


def _track_requests(client: Open311Client, batch_size: int) -> int:
    """GET requests?service_request_id=a,b,c for our open reports, batch by batch; only the
    answers that differ from what we hold are written (and texted)."""
    settings = get_settings()
    chunk = batch_size * max(1, CHUNK // batch_size)  # whole batches: one call each
    changed = 0
    for reports in tracked_reports(chunk):
        for start in range(0, len(reports), batch_size):
            batch = reports[start : start + batch_size]
            try:
                found = client.requests([report.number for report in batch])
            except Open311Error as exc:
                log.warning("status check failed: %s", exc)
                if exc.retryable:
                    return changed  # the city is struggling: leave the rest for the next round
                continue  # this batch upsets it (a merged or deleted id?): the others still count
            changed += _receive_batch(_news(batch, found, settings))
    return changed


def _news(
    batch: list[Tracked], found: list[dict], settings: Settings
) -> list[tuple[Tracked, dict]]:
    """The city's answers that receive_status would act on: a new view of a report, or the
    first answer about it (its baseline); the rest would change nothing."""
    held = {report.number: report for report in batch}
    news = []
    for entry in found:
        report = held.get(str(entry.get("service_request_id")))
        if report is None:
            continue
        view = _city_view(entry, settings)
        if view.status is None:
            continue
        if not report.checked or view != (report.status, report.notes, report.expected):
            news.append((report, entry))
    return news


def _receive_batch(news: list[tuple[Tracked, dict]]) -> int:
    """receive_status for each of `news` in one transaction (a savepoint each, so one odd
    answer does not undo the others); the texts are queued once it commits."""
    if not news:
        return 0
    notices: list[int] = []
    changed = 0
    try:
        with session_scope() as session:
            # What the notices need, in one query (kept referenced: the identity map is weak).
            loaded = _load(session, [report.report_id for report, _ in news])
            for report, entry in news:
                try:
                    with session.begin_nested():
                        told = _apply(session, report.report_id, entry, checked=report.checked)
                except Exception:  # noqa: BLE001 - logged; the next round tries again
                    log.exception(
                        "report %s: the city's answer could not be taken in", report.report_id
                    )
                    continue
                changed += bool(told)
                notices.extend(told)
            del loaded
    except Exception:  # noqa: BLE001 - the batch is undone whole, texts and all: tried next round
        log.exception("%d status changes could not be stored", len(news))
        return 0
    metrics.status_updates.inc(len(notices))
    for notice in notices:
        queue.enqueue("bot.jobs.deliver", notice, kind="notices")
    return changed


def _load(session: Session, report_ids: list[int]) -> list:
    """These reports with their residents and conversations, into the session."""
    return list(
        session.exec(
            select(Report, Contact, Conversation)
            .join(Contact, Contact.id == Report.contact_id)
            .join(Conversation, Conversation.id == Report.conversation_id)
            .where(Report.id.in_(report_ids))
        ).all()
    )


def _track_updates(client: Open311Client) -> int:
    """Read the city's servicerequestupdates feed since the last read (mySociety's extension)."""
    now = utcnow()
    with session_scope() as session:
        cursor = session.get(Cursor, UPDATES_CURSOR)
        since = (cursor.at - OVERLAP) if cursor else now - FIRST_LOOK_BACK
    try:
        updates = client.service_request_updates(since)
    except Open311Error as exc:
        log.warning("status updates check failed: %s", exc)
        return 0
    ids = _tracked_ids(str(u.get("service_request_id")) for u in updates)
    changed = 0
    dated = [(parse_datetime(str(u.get("updated_datetime") or "")), u) for u in updates]
    for _when, update_ in sorted((d for d in dated if d[0]), key=lambda d: d[0]):
        number = str(update_.get("service_request_id"))
        report_id = ids.get(number)
        entry = {
            "status": update_.get("status"),
            "status_notes": update_.get("description"),
            "media_url": update_.get("media_url"),
        }
        key = f"{number}#{update_.get('update_id') or update_.get('updated_datetime')}"
        if report_id is not None and _received(report_id, entry, update_key=key):
            changed += 1
    with session_scope() as session:
        cursor = session.get(Cursor, UPDATES_CURSOR) or Cursor(name=UPDATES_CURSOR)
        cursor.at = now
        session.add(cursor)
    return changed


def _received(report_id: int, entry: dict, update_key: str | None = None) -> bool:
    """receive_status, where one odd answer does not stop the check of every other report."""
    try:
        return receive_status(report_id, entry, update_key)
    except Exception:  # noqa: BLE001 - logged; the next round tries again
        log.exception("report %s: the city's answer could not be taken in", report_id)
        return False


class CityView(NamedTuple):
    """The city's view of a request as we store it: lower-case status, notes, expected time
    as UTC text (None where the city gives none)."""

    status: str | None
    notes: str | None
    expected: str | None


def _city_view(entry: dict, settings: Settings) -> CityView:
    return CityView(
        str(entry.get("status") or "").strip().lower() or None,
        str(entry.get("status_notes") or "").strip() or None,
        expected_text(entry.get("expected_datetime"), settings),
    )


def receive_status(report_id: int, entry: dict, update_key: str | None = None) -> bool:
    """Store the city's view of a report; on a real change, text the resident. True if changed.

    A change is a new status, new notes or a new expected time. The conditional UPDATE makes
    this safe to run twice at once: only one of them texts. `update_key` names an update of the
    city's feed: one already applied is no news, even when the feed is read again.
    """
    if _city_view(entry, get_settings()).status is None:
        return False
    with session_scope() as session:
        told = _apply(session, report_id, entry, update_key)
    metrics.status_updates.inc(len(told))
    for notice in told:
        queue.enqueue("bot.jobs.deliver", notice, kind="notices")
    return bool(told)


def _apply(
    session: Session,
    report_id: int,
    entry: dict,
    update_key: str | None = None,
    checked: bool = False,
) -> list[int]:
    """receive_status within the caller's transaction: the ids of the notices stored for the
    resident and for those who follow the request (queued by the caller after the commit);
    none when nothing changed.

    `checked`: the report is known to have had its first answer (last_checked_at is never
    cleared), so there is no baseline to take.
    """
    settings = get_settings()
    status, notes, expected = _city_view(entry, settings)
    if status is None:
        return []
    if update_key and not _first_time(session, update_key):
        return []
    now = utcnow()
    first = update_key is None and not checked
    if first and _baseline(session, report_id, status, notes, expected, now):
        return []
    result = session.execute(
        update(Report)
        .where(
            Report.id == report_id,
            or_(
                _differs(Report.city_status, status),
                _differs(Report.status_notes, notes),
                _differs(Report.expected_datetime, expected),
            ),
        )
        .values(
            city_status=status,
            status_notes=notes,
            expected_datetime=expected,
            status_changed_at=now,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        return []
    report_history.record(session, report_id, "status", status, notes or "")
    report = session.get(Report, report_id)
    expected_when = expected_at(entry.get("expected_datetime"), settings)
    with fitted_for(session, report):
        text = notices.status_changed(
            report.service_request_id,
            status,
            notes or "",
            report.service_name,
            expected=expected_when.astimezone(city_zone(settings)) if expected_when else None,
            say=language_of(session, report, settings),
        )
    media_url = str(entry.get("media_url") or "").strip()
    notice = add_notice(
        session,
        report,
        text,
        media_url=media_url if media_url.startswith("https://") else None,
        status=True,
        kind="status",
        values={"status": status, "notes": notes or ""},
    )
    number = report.service_request_id or ""
    duplicates.note_status(session, number, status)  # the nearby look-up sees it too
    return [notice.id, *notify_followers(session, number, status, skip_contact=report.contact_id)]


def _baseline(
    session: Session, report_id: int, status: str, notes: str | None, expected: str | None, now
) -> bool:
    """On the city's first answer about a report since it was filed, keep its notes and
    expected time silently when its status is still the one filed (no unprompted "update");
    True if it was so kept."""
    first = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.last_checked_at.is_(None))
        .values(last_checked_at=now)
    )
    if first.rowcount != 1:
        return False
    report = session.get(Report, report_id)
    if report is None or (report.city_status or "open") != status:
        return False
    report.city_status, report.status_notes = status, notes
    report.expected_datetime = expected
    report.updated_at = now
    return True


def _first_time(session: Session, key: str) -> bool:
    """Record a feed update as applied; False if it already was."""
    try:
        with session.begin_nested():
            session.add(AppliedUpdate(key=key[:255]))
    except IntegrityError:
        return False
    return True


def _differs(column, value):
    """SQL for `column IS DISTINCT FROM value`, spelled so SQLite and PostgreSQL agree."""
    if value is None:
        return column.is_not(None)
    return or_(column.is_(None), and_(column.is_not(None), column != value))
