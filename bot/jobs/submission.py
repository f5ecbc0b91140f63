"""submit and resolve_token: a confirmed report to the city, and its request number back."""

from __future__ import annotations

import base64
import logging
import secrets
import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot import audit, duplicates, geocoding, logs, queue, report_history
from bot.channels.registry import phone_schemes
from bot.db import session_scope
from bot.jobs import public_replies
from bot.jobs.common import (
    add_notice,
    backoff,
    city_client,
    due_after,
    expected_text,
    fitted_for,
    language_of,
    open311_profile,
)
from bot.media import pipeline
from bot.models import Contact, Report, ReportState
from bot.open311.client import Open311Error
from bot.open311.encode import request_form
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import notices

log = logging.getLogger(__name__)

TOKEN_BACKOFF_BASE = 5
# How far before our first POST the city's clock may place the request, for the marker search.
SEARCH_SLACK = timedelta(hours=1)


def submit(report_id: int) -> str:
    """File a pending report with the city once; returns the report's new state, and logs it
    in one line (`_log_submission`)."""
    started, outcome = time.perf_counter(), "error"
    note: dict[str, object] = {}
    try:
        outcome = _submit(report_id, note)
        return outcome
    finally:
        _log_submission(report_id, outcome, started, note)


# Outcomes logged as errors (staff must act) and as warnings; the others at INFO.
_FOR_STAFF = frozenset({ReportState.FAILED, ReportState.UNCONFIRMED, "error"})
_TROUBLED = frozenset({ReportState.REJECTED, "retry"})


def _described(exc: Open311Error) -> str:
    """An Open311 failure for the log line: its HTTP status and the city's error codes."""
    codes = [str(e.get("code")) for e in exc.errors if isinstance(e, dict) and e.get("code")]
    said = [f"status {exc.status_code}" if exc.status_code else "no status"]
    if codes:
        said.append("codes " + ",".join(codes[:5]))
    if exc.uncertain:
        said.append("uncertain")
    return "Open311Error: " + "; ".join(said)


def _log_submission(report_id: int, outcome: str, started: float, note: dict) -> None:
    """A submission's one log line: the report's id, what became of it (submitted, retry,
    failed, rejected...), the city's error when there was one, how long."""
    outcome = str(getattr(outcome, "value", outcome))
    if outcome == ReportState.PENDING and "error" in note:
        outcome = "retry"  # the city failed: filed again later (REPORT_GIVE_UP_HOURS)
    line: dict[str, object] = {
        "event": "submission",
        "report": report_id,
        "outcome": outcome,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        **note,
    }
    level = logging.INFO
    if outcome in _FOR_STAFF:
        level = logging.ERROR
    elif outcome in _TROUBLED:
        level = logging.WARNING
    log.log(
        level,
        "submission of report %s: %s",
        report_id,
        outcome,
        extra=logs.fields(**line),
    )


def _submit(report_id: int, note: dict) -> str:
    """File a pending report with the city once; returns the report's new state (`note` gets
    what the log line should add: the city's error, the number found).

    Before a second POST of a report whose first one may have reached the city, the city's
    recent requests are searched for the report's marker, by a search made at least
    settle_seconds() after the last POST; after a second POST they are searched again, and two
    requests holding the marker are flagged to staff (RELIABILITY.md tells the window).
    """
    claimed = _claimed_for_posting(report_id)
    if isinstance(claimed, str):
        return claimed
    report, search_first = claimed
    attempt = report.attempts
    settings = get_settings()
    client = city_client(settings)
    posted = False
    found: list[str] = []
    try:
        found = _find_filed(client, report) if search_first else []
        if not found and search_first and (wait := _unsettled(report, settings)) > 0:
            return _search_later(report_id, attempt, wait)
        if found:
            log.info("report %s was already filed as %s; not filed again", report_id, found[0])
            number, answer = found[0], {}
        else:
            fields, attributes = request_fields(report, settings), dict(report.attributes or {})
            request_form(fields, attributes, client.profile)  # a form we cannot make: not sent
            if not _note_posting(report_id, attempt):
                return "released"
            posted = True
            answer = client.create_request(fields, attributes)
            number = answer.get("service_request_id")
            if search_first:
                found = _filed_twice(client, report)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the report is not stuck
        if not isinstance(exc, Open311Error):
            log.error(
                "report %s: filing failed unexpectedly",
                report_id,
                extra=logs.fields(exc=logs.failure(exc)),
            )
            note["error"] = f"{type(exc).__name__} while filing"
            exc = Open311Error(note["error"], retryable=True, uncertain=posted)
        else:  # the city's status and error codes, not its words: they may echo the resident's
            note["error"] = _described(exc)
        return _submit_failed(report_id, exc, posted, search_first, attempt)
    with session_scope() as session:
        if not _still_ours(session, report_id, attempt):
            return "released"
        row = session.get(Report, report_id)
        row.updated_at = utcnow()
        row.check_before_post = False
        if row.lat is None and report.lat is not None:  # placed at filing (_place)
            row.lat, row.lon = report.lat, report.lon
        _flag_if_held_twice(row, [*found, *([str(number)] if number and posted else [])])
        pipeline.give_up_unfiled(session, report_id)  # the city has the report without them
        if number:
            notice = _mark_submitted(session, row, str(number), answer)
        else:
            row.state = ReportState.AWAITING_NUMBER
            row.token = str(answer.get("token"))
            row.next_attempt_at = due_after(TOKEN_BACKOFF_BASE)
            report_history.record(
                session, report_id, "awaiting_number", row.state, f"token {row.token}"
            )
    if posted and search_first:
        # The earlier POST may still be stored after this one: look once more, later.
        queue.enqueue("bot.jobs.check_filed_once", report_id, delay=settle_seconds(settings))
    if number:
        # The resident is waiting for it: ahead of the turns queued meanwhile, as a turn's
        # replies go.
        queue.enqueue("bot.jobs.deliver", notice.id, at_front=True)
        return ReportState.SUBMITTED
    queue.enqueue("bot.jobs.resolve_token", report_id, delay=TOKEN_BACKOFF_BASE)
    return ReportState.AWAITING_NUMBER


def _flag_if_held_twice(report: Report, numbers: list[str]) -> None:
    """Note for staff when the city holds the report under more than one request number."""
    distinct = sorted(set(numbers))
    if len(distinct) > 1:
        report.staff_note = f"the city holds this report {len(distinct)} times: " + ", ".join(
            distinct
        )
        log.error("report %s: %s", report.id, report.staff_note)


def check_filed_once(report_id: int) -> int:
    """After a second POST, once it has settled: search the city for the report's marker and
    flag it to staff if the city holds it twice; returns how many requests hold it."""
    with session_scope() as session:
        report = session.get(Report, report_id)
        if report is None or not report.marker:
            return 0
        session.expunge(report)
    try:
        found = _find_filed(city_client(get_settings()), report)
    except Open311Error as exc:
        log.warning("report %s: the check for a double filing failed: %s", report_id, exc)
        return 0
    with session_scope() as session:
        row = session.get(Report, report_id)
        _flag_if_held_twice(
            row, [*found, *([row.service_request_id] if row.service_request_id else [])]
        )
    return len(set(found))


def settle_seconds(settings: Settings) -> float:
    """How long after a POST a search for it is trusted: a server may store a POST well
    after our client stopped waiting (OPEN311_TIMEOUT), so twice that."""
    return 2 * settings.open311_timeout


def _unsettled(report: Report, settings: Settings) -> float:
    """Seconds until a search for the report's last POST can be trusted (0 if it can now)."""
    if report.last_posted_at is None:
        return 0.0
    settled_at = report.last_posted_at + timedelta(seconds=settle_seconds(settings))
    return max(0.0, (settled_at - utcnow()).total_seconds())


def _search_later(report_id: int, attempt: int, wait: float) -> str:
    """Put the report back in line to be searched for again once its last POST settled."""
    with session_scope() as session:
        if not _still_ours(session, report_id, attempt):
            return "released"
        report = session.get(Report, report_id)
        report.state = ReportState.PENDING
        report.next_attempt_at = due_after(wait)
    log.info("report %s: not found at the city yet; searching again in %.0f s", report_id, wait)
    queue.enqueue("bot.jobs.submit", report_id, delay=wait)
    return ReportState.PENDING


def _note_posting(report_id: int, attempt: int) -> bool:
    """Record, committed before it is sent, when this POST goes out; False (and no POST) if
    the report was handed to another attempt meanwhile."""
    with session_scope() as session:
        result = session.execute(
            update(Report)
            .where(
                Report.id == report_id,
                Report.state == ReportState.SUBMITTING,
                Report.attempts == attempt,
            )
            .values(last_posted_at=utcnow())
        )
    if result.rowcount != 1:
        log.warning("report %s was handed to another attempt; not posted by this one", report_id)
    return result.rowcount == 1


def _filed_twice(client, report: Report) -> list[str]:
    """After a second POST: the city's requests holding the report's marker (best effort)."""
    try:
        return _find_filed(client, report)
    except Exception as exc:  # noqa: BLE001 - the report is filed; this is only a check
        log.warning("report %s: the search after a second POST failed: %s", report.id, exc)
        return []


def _still_ours(session: Session, report_id: int, attempt: int) -> bool:
    """True if this job's claim on the report stands (the reconciler did not hand it on)."""
    result = session.execute(
        update(Report)
        .where(
            Report.id == report_id,
            Report.state == ReportState.SUBMITTING,
            Report.attempts == attempt,
        )
        .values(updated_at=utcnow())
    )
    if result.rowcount != 1:
        log.warning(
            "report %s was handed to another attempt; this one's result is dropped", report_id
        )
    return result.rowcount == 1


def new_marker() -> str:
    """A fresh reference for a report, e.g. "311-K7Q2M4XA" (40 random bits, base32)."""
    return "311-" + base64.b32encode(secrets.token_bytes(5)).decode()


def _claimed_for_posting(report_id: int) -> tuple[Report, bool] | str:
    """Claim a pending report and, committed before any POST, note that one may be under way.

    Returns the report and whether an earlier POST may have reached the city (search first);
    else the state that made the claim fail.
    """
    with session_scope() as session:
        if not claim(session, report_id, ReportState.PENDING, ReportState.SUBMITTING):
            report = session.get(Report, report_id)
            return report.state if report else "missing"
        report = session.get(Report, report_id)
        if report.erased_at is not None:
            # Its resident was erased while it waited for a retry: never posted again (an
            # earlier POST that reached the city is the city's copy).
            report_history.forget(session, report_id)
            session.delete(report)
            log.info("report %s dropped unfiled: its resident's data was erased", report_id)
            return "dropped"
        search_first = report.check_before_post
        report.marker = report.marker or new_marker()
        report.first_posted_at = report.first_posted_at or utcnow()
        report.check_before_post = True
        return report, search_first


def _find_filed(client, report: Report) -> list[str]:
    """The city's numbers for `report` where an earlier POST of it was stored, by marker."""
    if not open311_profile(get_settings()).marker_search:
        raise Open311Error(
            "an earlier POST may have filed this report and the city's requests cannot be "
            "searched for it",
            retryable=False,
            uncertain=True,
        )
    since = (report.first_posted_at or report.created_at) - SEARCH_SLACK
    device_field = client.profile.fields.get("device_id") or "device_id"
    return [
        str(found["service_request_id"])
        for found in client.requests_query(service_code=report.service_code, start_date=since)
        if report.marker in str(found.get("description") or "")
        or report.marker in (str(found.get(device_field) or ""), str(found.get("device_id") or ""))
    ]


def resolve_token(report_id: int) -> str:
    """Turn a report's token into the city's request number, polling with backoff."""
    report = _claimed(report_id, ReportState.AWAITING_NUMBER, ReportState.AWAITING_NUMBER)
    if isinstance(report, str):
        return report
    try:
        answer = city_client(get_settings()).token(report.token)
    except Open311Error as exc:
        log.warning("token of report %s not resolved: %s", report_id, exc)
        answer = None
    number = (answer or {}).get("service_request_id")
    if not number:
        delay = backoff(report.attempts, base=TOKEN_BACKOFF_BASE)
        with session_scope() as session:
            session.get(Report, report_id).next_attempt_at = due_after(delay)
        queue.enqueue("bot.jobs.resolve_token", report_id, delay=delay)
        return ReportState.AWAITING_NUMBER
    with session_scope() as session:
        if not claim(session, report_id, ReportState.AWAITING_NUMBER, ReportState.SUBMITTED):
            return ReportState.SUBMITTED
        notice = _mark_submitted(session, session.get(Report, report_id), str(number))
    queue.enqueue("bot.jobs.deliver", notice.id, at_front=True)
    return ReportState.SUBMITTED


def mark_found_by_staff(report_id: int, number: str) -> bool:
    """A report waiting for staff (unconfirmed or failed) that staff found at the city as
    `number`: submitted, and the resident is texted the number. False if it does not wait."""
    with session_scope() as session:
        for state in (ReportState.UNCONFIRMED, ReportState.FAILED):
            if claim(session, report_id, state, ReportState.SUBMITTED):
                break
        else:
            return False
        report = session.get(Report, report_id)
        report.check_before_post = False
        notice = _mark_submitted(session, report, number)
        audit.record(session, "filed", f"report:{report_id}", f"found at the city as {number}")
    log.info("report %s: found at the city by staff as %s", report_id, number)
    queue.enqueue("bot.jobs.deliver", notice.id)
    return True


def claim(session: Session, report_id: int, from_state: ReportState, to_state: ReportState) -> bool:
    """Move a report between states only if it is still in `from_state` (one winner per race)."""
    result = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.state == from_state)
        .values(state=to_state, attempts=Report.attempts + 1, updated_at=utcnow())
    )
    return result.rowcount == 1


def _claimed(report_id: int, from_state: ReportState, to_state: ReportState) -> Report | str:
    """The report, claimed for this job; else the state that made the claim fail."""
    with session_scope() as session:
        claimed = claim(session, report_id, from_state, to_state)
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        return report if claimed else report.state


def request_fields(report: Report, settings: Settings) -> dict:
    """The POST requests fields we know for a report; the client applies the city's profile
    (which location fields it wants, the description's length limit).

    A city that needs coordinates gets the typed address looked up once more here, for the
    reports taken while the geocoder was down.
    """
    fields = {"service_code": report.service_code, "description": report.description}
    if report.marker:
        fields["marker"] = report.marker  # the client ends the description with it
    if report.lat is None and _needs_coordinates(settings):
        _place(report, settings)
    if report.lat is not None and report.lon is not None:
        fields["lat"] = f"{report.lat:.6f}"
        fields["long"] = f"{report.lon:.6f}"
    if report.address:
        fields["address_string"] = report.address
    urls = _photo_urls(report, settings)
    if urls:
        fields["media_url"] = urls if open311_profile(settings).media_urls == "all" else urls[0]
    if report.contact_ok:  # only with the resident's consent
        fields.update(_contact_fields(report))
    return fields


def _photo_urls(report: Report, settings: Settings) -> list[str]:
    """The addresses of the report's kept photos (each not kept yet tried once more now); a
    photo that fails never holds the report back."""
    if not report.media or report.id is None or report.erased_at is not None:
        return []  # an erased resident's photos are gone, and never fetched again
    if not settings.public_base_url:
        # Our copy's address would have no host: the city could not open it.
        log.warning(
            "report %s: PUBLIC_BASE_URL is not set, so it is filed without photos", report.id
        )
        return []
    with session_scope() as session:
        contact = session.get(Contact, report.contact_id)
        channel = contact.channel if contact else ""
    try:
        return pipeline.report_photo_urls(
            report.id, report.contact_id, channel, list(report.media), settings
        )
    except Exception as exc:  # noqa: BLE001 - filed without photos rather than not filed
        log.warning("report %s: its photos could not be read: %s", report.id, type(exc).__name__)
        return []


class NotPlacedYet(Open311Error):
    """A city that needs coordinates, and an address the geocoder cannot place yet."""


def _place(report: Report, settings: Settings) -> None:
    """Look the typed address up once more for a city that needs coordinates; until it is
    placed the report waits (retried with backoff), never posted without them."""
    try:
        found = geocoding.lookup(report.address, settings) if report.address else None
    except Exception as exc:  # noqa: BLE001 - a geocoder failure only delays the report
        log.warning("report %s: the geocoder failed: %s", report.id, type(exc).__name__)
        found = None
    located = [p for p in (found.places if found else ()) if p.lat is not None]
    if not located:
        raise NotPlacedYet(
            "the city needs coordinates and the geocoder could not place the address yet",
            retryable=True,
        )
    report.lat, report.lon = located[0].lat, located[0].lon


def _contact_fields(report: Report) -> dict:
    """The resident's phone (their number on a phone channel, else one they typed) and email."""
    fields = {}
    with session_scope() as session:
        contact = session.get(Contact, report.contact_id)
        address = (contact.address if contact else None) or ""  # None: erased
    scheme, _, number = address.partition(":")
    phone = number if scheme in phone_schemes() else report.phone
    if phone:
        fields["phone"] = phone
    if report.email:
        fields["email"] = report.email
    return fields


def _needs_coordinates(settings: Settings) -> bool:
    return open311_profile(settings).needs_coordinates


def _mark_submitted(session: Session, report: Report, number: str, answer: dict | None = None):
    """The report filed as `number`; what the city's answer says of it is the baseline."""
    answer = answer or {}
    report.state = ReportState.SUBMITTED
    report.service_request_id = number
    report.city_status = str(answer.get("status") or "open").strip().lower()
    report.status_notes = str(answer.get("status_notes") or "").strip() or None
    report.expected_datetime = expected_text(answer.get("expected_datetime"), get_settings())
    report.next_attempt_at = None
    report.submitted_at = report.status_changed_at = utcnow()
    report_history.record(session, report.id, "submitted", report.state, f"request {number}")
    _record_filed(session, report)
    say = language_of(session, report, get_settings())
    notice = add_notice(
        session, report, notices.report_filed(number, report.service_name, say), kind="filed"
    )
    public_replies.filed(session, report, say)  # queued with the notice (the contact's sends)
    return notice


def _record_filed(session: Session, report: Report) -> None:
    """The filing as an open request, offered to the next resident nearby; in a savepoint, so
    that nothing it meets undoes the filing itself."""
    try:
        with session.begin_nested():
            duplicates.record_filed(session, report)
    except SQLAlchemyError as exc:
        log.warning("report %s: not kept for the nearby look-up: %s", report.id, type(exc).__name__)


def _submit_failed(
    report_id: int, exc: Open311Error, posted: bool, search_first: bool, attempt: int
) -> str:
    """Decide what a failed filing means for the report and its resident; return the new state.

    - the city refused the report itself: rejected, and the resident hears the city's reason;
    - the city may have stored it (the answer was lost): pending, searched for before the next
      POST; unconfirmed, for staff, where the city's requests cannot be searched;
    - our key or endpoint refused: failed at once, for staff to fix and retry (a dead letter);
    - down, slow or erroring (or the search before a second POST failed): pending, retried
      with backoff until REPORT_GIVE_UP_HOURS.
    In every case but the first the resident hears once that the report is saved (that the
    city is not answering only while it is retried for that); our setup's errors are logged as
    errors and never texted to residents.
    """
    settings = get_settings()
    with session_scope() as session:
        if not _still_ours(session, report_id, attempt):
            return "released"
        report = session.get(Report, report_id)
        given_up = utcnow() - (report.retried_at or report.created_at) > timedelta(
            hours=settings.report_give_up_hours
        )
        # What became of it is logged by `submit`, in one line with the city's error.
        if exc.uncertain and open311_profile(settings).marker_search:
            state = ReportState.PENDING  # looked for before it is filed again
        elif exc.uncertain:
            state = ReportState.UNCONFIRMED  # it may be filed: for staff
        elif exc.operator_error:
            state = ReportState.FAILED  # the city refused our setup (key, endpoint)
        elif exc.retryable or not posted:  # a failed search says nothing about the report
            state = ReportState.FAILED if given_up else ReportState.PENDING
        else:
            state = ReportState.REJECTED  # refused by the city
        final = report.state = state
        report.last_error = str(exc)[:2000]
        report.updated_at = utcnow()
        if not exc.uncertain and not search_first:
            # The city answered the only POST so far, or none was sent: nothing is stored.
            # (After a search the earlier POST may still show up later: every retry searches.)
            report.check_before_post = False
        delay = backoff(
            report.attempts, base=settings.retry_base_seconds, cap=settings.retry_cap_seconds
        )
        notice = None
        _record_failure(session, report, state, exc)
        if state == ReportState.REJECTED:
            reason = _reason(exc)
            with fitted_for(session, report):
                text = notices.report_rejected(reason, language_of(session, report, settings))
            notice = add_notice(session, report, text, kind="rejected", values={"reason": reason})
        else:
            if state == ReportState.PENDING:
                report.next_attempt_at = due_after(delay)
            if not report.delay_notice_sent:
                report.delay_notice_sent = True
                # "Not answering" only while retried because the city is down, slow or erroring
                # (a timeout, a 5xx); a report that waits for staff is only "saved".
                status = exc.status_code or 500
                down = state == ReportState.PENDING and (
                    exc.retryable or (exc.uncertain and status >= 500)
                )
                down = down and not isinstance(exc, NotPlacedYet)
                saved = notices.report_delayed if down else notices.report_saved
                notice = add_notice(
                    session,
                    report,
                    saved(language_of(session, report, settings)),
                    kind="delayed" if down else "saved",
                )
    if notice is not None:
        queue.enqueue("bot.jobs.deliver", notice.id)
    if state == ReportState.PENDING:
        queue.enqueue("bot.jobs.submit", report_id, delay=delay)
    return final


def _record_failure(
    session: Session, report: Report, state: ReportState, exc: Open311Error
) -> None:
    """The failed filing in the report's history: the city's refusal, our error for staff, or
    (once, when it is first put back in line) that it is delayed."""
    if state == ReportState.REJECTED:
        report_history.record(session, report.id, "rejected", state, _reason(exc))
    elif state in (ReportState.FAILED, ReportState.UNCONFIRMED):
        report_history.record(session, report.id, str(state), state, str(exc))
    elif not report.delay_notice_sent:  # pending again: the first time only
        report_history.record(session, report.id, "delayed", state, str(exc))


def _reason(exc: Open311Error) -> str:
    for error in exc.errors or ():
        if error.get("description"):
            return str(error["description"])
    return "the city's system refused it"
