"""The status cycle (bot.jobs.tracking): one call per batch, only what changed written and texted,
every tracked report read once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot import jobs
from bot.db import get_engine, session_scope
from bot.jobs import tracking
from bot.models import Contact, Conversation, Direction, Message, Report, ReportState
from bot.payloads import OutboundPayload
from bot.queue import get_queue
from bot.timeutil import utcnow
from tests.sandbox_city import Counted, own_city


@pytest.fixture
def city(env, tmp_path, monkeypatch):
    """A sandbox city of the test's own, its calls counted, with batches of 3."""
    with own_city(tmp_path, monkeypatch, OPEN311_BATCH_SIZE="3") as counted:
        yield counted


def _store(city: Counted):
    return city.app.extensions["sandbox"].store


def file_reports(city: Counted, count: int, checked: bool = True) -> list[int]:
    """`count` reports filed with the city, open, each from its own resident; their ids."""
    ids = []
    long_ago = utcnow() - timedelta(days=2)
    with session_scope() as session:
        for n in range(count):
            number = _store(city).create({"service_code": "POTHOLE", "description": "Hole"})
            contact = Contact(address=f"tel:+1312555{n:04d}", address_key=f"k{n}", channel="sms")
            session.add(contact)
            session.flush()
            conversation = Conversation(contact_id=contact.id)
            session.add(conversation)
            session.flush()
            report = Report(
                conversation_id=conversation.id,
                contact_id=contact.id,
                service_code="POTHOLE",
                service_name="Pothole in Street",
                state=ReportState.SUBMITTED,
                service_request_id=number["service_request_id"],
                city_status="open",
                submitted_at=long_ago,
                last_checked_at=long_ago if checked else None,
                updated_at=long_ago,
            )
            session.add(report)
            session.flush()
            ids.append(report.id)
    return ids


@pytest.fixture
def statements():
    """Every SQL statement the process sends while the test runs."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split()))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def _reports() -> dict[int, Report]:
    with session_scope() as session:
        return {r.id: r for r in session.exec(select(Report))}


def _texts() -> list[Message]:
    with session_scope() as session:
        return list(session.exec(select(Message).where(Message.direction == Direction.OUT)))


def test_a_cycle_writes_and_texts_only_the_changed_reports(city, statements):
    ids = file_reports(city, 7)
    reports = _reports()
    for changed in (ids[1], ids[5]):
        _store(city).set_status(reports[changed].service_request_id, "closed", "Filled.")

    statements.clear()
    assert jobs.track() == 2
    assert city.calls == 3  # 7 reports, batches of 3
    updates = [s for s in statements if s.startswith("UPDATE report")]
    # At most two per change (the first-answer check, the change); none for the other five.
    assert 0 < len(updates) <= 2 * 2

    after = _reports()
    written = {i for i in ids if after[i].updated_at != reports[i].updated_at}
    assert written == {ids[1], ids[5]}
    assert {after[i].city_status for i in written} == {"closed"}
    texts = _texts()
    assert sorted(t.contact_id for t in texts) == sorted(after[i].contact_id for i in written)
    assert all("closed" in t.text and "Filled." in t.text for t in texts)
    # One delivery each, on the notices lane, and the rows say so (bot.pacing).
    assert get_queue("notices").count == 2 and get_queue("residents").count == 0
    assert all(OutboundPayload.from_dict(t.payload).status_notice for t in texts)

    # The same cycle again (a crash and a restart, or the next round): nothing new, no text.
    assert jobs.track() == 0
    assert city.calls == 6
    assert len(_texts()) == 2
    assert {i: r.updated_at for i, r in _reports().items()} == {
        i: r.updated_at for i, r in after.items()
    }


def test_a_first_answer_is_kept_silently_and_later_changes_are_told(city):
    [report_id] = file_reports(city, 1, checked=False)
    number = _reports()[report_id].service_request_id
    _store(city).set_status(number, "open", "Crew assigned.")

    assert jobs.track() == 0  # the baseline: notes kept, no unprompted "update"
    report = _reports()[report_id]
    assert report.last_checked_at is not None and report.status_notes == "Crew assigned."
    assert _texts() == []

    _store(city).set_status(number, "open", "Crew on site.")
    assert jobs.track() == 1
    [text] = _texts()
    assert text.text.endswith("open. Crew on site.")


def test_one_answer_that_cannot_be_taken_in_spares_the_rest_of_its_batch(city, monkeypatch):
    ids = file_reports(city, 3)
    reports = _reports()
    for report_id in ids:
        _store(city).set_status(reports[report_id].service_request_id, "closed", "Done.")
    odd = reports[ids[1]].service_request_id
    real = tracking.notices.status_changed

    def fussy(number, *args, **kwargs):
        if number == odd:
            raise ValueError("an answer we cannot word")
        return real(number, *args, **kwargs)

    monkeypatch.setattr(tracking.notices, "status_changed", fussy)
    assert jobs.track() == 2
    after = _reports()
    assert [after[i].city_status for i in ids] == ["closed", "open", "closed"]
    assert len(_texts()) == 2

    monkeypatch.setattr(tracking.notices, "status_changed", real)
    assert jobs.track() == 1  # tried again next round, and told once
    assert len(_texts()) == 3


def test_chunks_cover_every_tracked_report_once_while_reports_close(city):
    ids = file_reports(city, 9)
    seen: list[int] = []
    chunks = tracking.tracked_reports(chunk=2)
    seen += [r.report_id for r in next(chunks)]
    with session_scope() as session:
        # Ahead of the cycle: one closed long ago, one whose resident asked to be forgotten.
        gone = session.get(Report, ids[4])
        gone.city_status, gone.status_changed_at = "closed", utcnow() - timedelta(days=60)
        forgotten = session.get(Report, ids[6])
        session.get(Contact, forgotten.contact_id).address_key = None
        # Behind it (already read) and just ahead: closed now, still watched for a reopening.
        for report_id in (ids[0], ids[2]):
            report = session.get(Report, report_id)
            report.city_status, report.status_changed_at = "closed", utcnow()
    for chunk in chunks:
        assert 0 < len(chunk) <= 2
        seen += [r.report_id for r in chunk]
    assert seen == [i for i in ids if i not in (ids[4], ids[6])]


def test_the_updates_feed_finds_its_reports_without_listing_them_all(city, monkeypatch):
    ids = file_reports(city, 4)
    reports = _reports()
    number = reports[ids[2]].service_request_id
    found = tracking._tracked_ids([number, "no-such-number", reports[ids[0]].service_request_id])
    assert found == {number: ids[2], reports[ids[0]].service_request_id: ids[0]}
    monkeypatch.setattr(tracking, "CHUNK", 1)  # one query per number: the same answer
    assert tracking._tracked_ids([number, reports[ids[0]].service_request_id]) == found
