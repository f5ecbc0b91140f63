"""STATUS n tells a resident everything about their own requests and only the status word about
anyone else's: the city's notes (free text by its staff), the service and the expected date stay
with the resident who reported it. Request numbers are sequential, so anyone could otherwise
walk the city's requests one paid reply at a time (bot.jobs.turn_actions.with_own)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.jobs.turn_actions import with_own
from bot.models import Contact, Report
from conversations import StatusFound
from tests.test_end_to_end import Phone, answer_pothole_questions, phone, set_city_status

__all__ = ["phone"]

NOTES = "Crew sent; Mrs Alvarez at 122 Main St says it is by her driveway."


def file_pothole(phone: Phone) -> str:
    """A one-shot pothole report, filed; the city's request number."""
    phone.text("there is a big pothole outside 120 Main St, two feet wide")
    answer_pothole_questions(phone)
    phone.text("yes")
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
    assert report.service_request_id
    return report.service_request_id


def test_a_resident_hears_everything_about_their_own_request_and_only_its_status_otherwise(
    phone, twilio_api
):
    number = file_pothole(phone)
    set_city_status(number, "closed", NOTES)
    [mine] = phone.text(f"STATUS {number}")
    assert mine == f"Request {number} (Pothole in Street): closed. {NOTES}"

    neighbour = Phone(phone.client, twilio_api, number="+13125550188")
    [theirs] = neighbour.text(f"STATUS {number}")
    assert theirs == f"Request {number}: closed."
    assert "Alvarez" not in theirs and "Pothole" not in theirs
    [unknown] = neighbour.text("STATUS 1999-000001")
    assert unknown == "I couldn't find request 1999-000001."


def test_only_the_status_word_of_anyone_elses_request_reaches_the_engine(env):
    found = StatusFound(
        "2026-000123",
        status="open",
        notes=NOTES,
        service_name="Pothole in Street",
        expected=datetime(2026, 12, 24, tzinfo=UTC),
    )
    with session_scope() as session:
        contact = Contact(address="tel:+13125550101", channel="sms")
        session.add(contact)
        session.flush()
        assert with_own(session, contact.id, found) == StatusFound("2026-000123", status="open")
        missing = StatusFound("2026-000124")
        assert with_own(session, contact.id, missing) == missing
        failed = StatusFound("2026-000125", failed=True)
        assert with_own(session, contact.id, failed) is failed


@pytest.mark.parametrize("hidden", [False, True])
def test_the_resident_who_reported_it_is_told_in_full(phone, sandbox, monkeypatch, hidden):
    city = sandbox._server.app.extensions["sandbox"]
    monkeypatch.setattr(city, "moderated", hidden)  # hidden: not published until moderated
    number = file_pothole(phone)
    [told] = phone.text(f"STATUS {number}")
    if hidden:
        assert told.startswith(f"Request {number} is with the city but not published yet")
    else:
        assert told.startswith(f"Request {number} (Pothole in Street): open")
