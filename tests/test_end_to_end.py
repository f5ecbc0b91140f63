"""A resident texts a report from a signed Twilio webhook to the sandbox city and back.

Everything is real: the Flask test client, Redis, SQLite and PostgreSQL (each test runs on
both), rq jobs run in-process, the Open311 sandbox and its Nominatim geocoder on loopback, and
the twilio Client sending to the Twilio Messages API stand-in.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.models import Contact, Conversation, Message, Report
from bot.open311.client import Open311Client
from bot.personal_data import address_key
from bot.settings import get_settings
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.conftest import PUBLIC_BASE_URL, TWILIO_FROM, run_jobs
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

# What a resident hears when the report waits for staff (not a city outage).
SAVED = (
    "Your report is saved and will be sent to the city shortly; we'll text you the request number."
)

RESIDENT = "+13125550142"
POTHOLE = "4fd3b656e750846c53000004"


def returning_resident(address: str, channel: str) -> None:
    """A contact who already answered whether the city may contact them (no: PRIVATE in their
    first summary), as most are."""
    with session_scope() as session:
        key = address_key(address)
        if not session.exec(select(Contact).where(Contact.address_key == key)).first():
            session.add(
                Contact(address=address, address_key=key, channel=channel, contact_consent=False)
            )


class Phone:
    """A resident's phone: texts go in as signed webhooks, the bot's texts come out of Twilio.

    `returning` residents have answered the contact question before; new ones are asked it in
    their first summary.
    """

    def __init__(self, client, twilio_api, number: str = RESIDENT, returning: bool = True):
        self.client = client
        self.twilio_api = twilio_api
        self.number = number
        self.read = 0
        self.returning = returning

    def text(self, body: str) -> list[str]:
        """Send a text, let the workers run, and return the texts the bot sent back."""
        if self.returning:
            returning_resident(f"tel:{self.number}", "sms")
            self.returning = False
        response = post_signed(self.client, "/webhooks/twilio", sms_form(body, self.number))
        assert response.status_code == 200
        run_jobs()
        return self.inbox()

    def inbox(self) -> list[str]:
        """Texts received since the last look."""
        sent = [s for s in self.twilio_api.config["SENT"] if s["form"]["To"] == [self.number]]
        new, self.read = sent[self.read :], len(sent)
        return [s["form"]["Body"][0] for s in new]


@pytest.fixture
def phone(env, twilio_api):
    return Phone(create_app({"TESTING": True}).test_client(), twilio_api)


def city_request(number: str) -> dict:
    settings = get_settings()
    with Open311Client(settings.open311_endpoint) as client:
        return client.request(number)


def set_city_status(number: str, status: str, notes: str) -> None:
    base = get_settings().open311_endpoint.split("/open311/")[0]
    httpx.post(
        f"{base}/admin/requests/{number}/status",
        data={"status": status, "status_notes": notes},
        timeout=5,
    ).raise_for_status()


def sent_messages() -> list[Message]:
    """Our outbound messages that were sent, in order."""
    with session_scope() as session:
        return list(
            session.exec(
                select(Message)
                .where(Message.direction == "out", Message.external_id.is_not(None))
                .order_by(Message.id)
            ).all()
        )


def only_report() -> Report:
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        return report


def test_report_filed_step_by_step_and_status_update_delivered(phone, twilio_api):
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu

    [ask_where] = phone.text("1")
    assert "Where is it?" in ask_where

    [not_found] = phone.text("999 Nowhere Blvd")
    assert "couldn't find that address" in not_found

    # The house typed was found in the city: no question of its own, the next one follows.
    [ask_what] = phone.text("120 main st")
    assert ask_what.startswith("Found: 120 Main Street, Springfield.")
    assert "describe the problem" in ask_what and "YES or NO" not in ask_what

    # The one required question is asked on its own, without SKIP.
    [where_exactly] = phone.text("Deep hole in the right lane, cars swerving")
    assert where_exactly.startswith("Where is the pothole?") and "2 Crosswalk" in where_exactly
    assert "SKIP" not in where_exactly
    # The optional ones wait in the summary, which shows the address found.
    [offered] = phone.text("crosswalk")
    assert offered.startswith("Ready to send:\n1 Pothole in Street\n2 120 Main Street, Springfield")
    assert offered.endswith("Reply YES to send, 1-3 to change, 4 to add details, or NO to drop it.")
    [how_deep] = phone.text("4")
    assert how_deep.startswith("How deep is it") and "SKIP" in how_deep
    [noticed] = phone.text("about 6 inches")
    assert noticed.startswith("When did you notice it?") and "SKIP" in noticed
    [summary] = phone.text("skip")
    assert "Pothole in Street" in summary and "Deep hole in the right lane" in summary
    assert summary.endswith("Reply YES to send, 1-3 to change, or NO to drop it.")

    texts = phone.text("YES")
    assert texts[0].startswith("Thanks! Sending your report")
    report = only_report()
    assert report.state == "submitted"
    assert texts[1] == (
        f"Your Pothole in Street report was received by the city. Request number: "
        f"{report.service_request_id}. Text STATUS {report.service_request_id} any time."
    )

    assert report.attributes == {"WHEREIS": "CROSSWALK", "HOWDEEP": "6"}
    filed = city_request(report.service_request_id)
    assert filed["service_code"] == POTHOLE
    # Our marker ends the description, so a lost answer can be looked for before refiling.
    assert re.fullmatch(r"311-[A-Z2-7]{8}", report.marker)
    assert filed["description"] == (
        f"Deep hole in the right lane, cars swerving [ref {report.marker}]"
    )
    assert filed["address"] == "120 Main Street, Springfield"
    assert float(filed["lat"]) == pytest.approx(report.lat) and report.lat is not None

    sends = twilio_api.config["SENT"]
    assert {s["form"]["From"][0] for s in sends} == {TWILIO_FROM}
    # Each send's status callback names our message, so statuses and doubles trace to it.
    assert [s["form"]["StatusCallback"][0] for s in sends] == [
        f"{PUBLIC_BASE_URL}/webhooks/twilio/status?m={m.id}" for m in sent_messages()
    ]

    # Nothing changed at the city: no text.
    jobs.track()
    run_jobs()
    assert phone.inbox() == []

    set_city_status(report.service_request_id, "closed", "Patched by the streets crew.")
    assert jobs.track() == 1
    run_jobs()
    [update] = phone.inbox()
    assert update == (
        f"Update on request {report.service_request_id} (Pothole in Street): closed. "
        "Patched by the streets crew."
    )
    # Asked again, the city says the same: the resident is not told twice.
    assert jobs.track() == 0
    run_jobs()
    assert phone.inbox() == []
    assert only_report().city_status == "closed"


def answer_pothole_questions(phone) -> str:
    """Answer the sandbox city's required pothole question (where); return the summary that
    follows, which offers the optional ones."""
    [summary] = phone.text("1")
    assert "4 to add details" in summary
    return summary


def test_one_shot_report_and_status_command(phone):
    # Service, address and description in one text; the sure address is not read back.
    [where] = phone.text("there is a big pothole outside 120 Main St, two feet wide")
    assert where.startswith("Found: 120 Main Street, Springfield. Where is the pothole?")
    assert answer_pothole_questions(phone).startswith("Ready to send:\n1 Pothole in Street")
    phone.text("yes")
    number = only_report().service_request_id
    assert number

    [status] = phone.text(f"status {number}")
    assert status.startswith(f"Request {number} (Pothole in Street): open")

    [unknown] = phone.text("STATUS 1999-000001")
    assert unknown == "I couldn't find request 1999-000001."


def test_help_and_restart_work_mid_report(phone):
    phone.text("hi")
    phone.text("2")
    help_texts = phone.text("HELP")
    assert "STATUS" in help_texts[0] and "RESTART" in help_texts[0]
    assert "Where is it?" in help_texts[-1]
    [cancelled] = phone.text("restart")
    assert cancelled.startswith("Report cancelled")
    with session_scope() as session:
        assert session.exec(select(Report)).all() == []


def test_cancel_is_twilios_opt_out_word_on_sms(phone):
    """Twilio unsubscribes a CANCEL by default: we stop too, and drop the half-made report."""
    phone.text("hi")
    phone.text("1")
    assert phone.text("CANCEL") == []
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        conversation = session.exec(select(Conversation)).one()
    assert contact.opted_out and conversation.state["name"] == "idle"
    assert phone.text("hi") == []

    assert phone.text("YES") == []  # Twilio's opt-in word: Twilio confirms it, we listen again
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu


def test_unknown_service_number_gets_a_clear_answer(phone):
    phone.text("hi")
    [answer] = phone.text("42")
    assert "number from 1 to" in answer


def test_city_down_delays_the_report_and_tells_the_resident_once(phone, monkeypatch):
    phone.text("pothole at 120 Main St, deep and wide")
    answer_pothole_questions(phone)
    dead = "http://127.0.0.1:9/open311/v2/"
    endpoint = get_settings().open311_endpoint
    monkeypatch.setenv("OPEN311_ENDPOINT", dead)
    get_settings.cache_clear()

    texts = phone.text("yes")
    assert texts[0].startswith("Thanks! Sending")
    assert texts[1].startswith("The city's system is not answering. Your report is saved")
    assert only_report().state == "pending"

    run_jobs(include_delayed=True, rounds=2)  # still down: tried again, no second notice
    assert phone.inbox() == []
    assert only_report().attempts >= 2

    monkeypatch.setenv("OPEN311_ENDPOINT", endpoint)
    get_settings.cache_clear()
    run_jobs(include_delayed=True)
    report = only_report()
    assert report.state == "submitted" and report.service_request_id
    [filed] = phone.inbox()
    assert report.service_request_id in filed


@pytest.fixture
def jurisdictional_city(tmp_path, monkeypatch):
    """A city whose server requires a jurisdiction_id we were not configured with."""
    server = serve(
        create_sandbox_app(str(tmp_path / "j.sqlite3"), require_jurisdiction="springfield.gov")
    )
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    get_settings.cache_clear()
    yield server
    server.stop()


def test_a_wrong_jurisdiction_waits_for_staff_and_is_never_called_refused(
    phone, jurisdictional_city, monkeypatch
):
    from bot.catalog import store_catalog

    # The catalogue was fetched while the city was configured right (cached, as in production).
    with Open311Client(get_settings().open311_endpoint, jurisdiction_id="springfield.gov") as c:
        entries = c.services()
    with session_scope() as session:
        store_catalog(session, get_settings().open311_endpoint, entries)
    [summary] = phone.text("missed trash pickup at 120 Main St, bins full since Monday")
    assert summary.startswith("Ready to send:\n1 Missed Trash Pickup")
    texts = phone.text("yes")
    assert texts[0].startswith("Thanks! Sending")
    # Our jurisdiction is wrong: staff's to fix, and the resident is never told "refused".
    assert texts[1] == SAVED
    report = only_report()
    assert report.state == "failed" and report.service_request_id is None
    assert "jurisdiction_id was not provided" in report.last_error
    assert run_jobs(include_delayed=True) == 0


def test_messages_are_handled_in_arrival_order_by_one_turn(env, twilio_api):
    client = create_app({"TESTING": True}).test_client()
    phone = Phone(client, twilio_api)
    for body in ("hi", "1", "120 Main St"):
        post_signed(client, "/webhooks/twilio", sms_form(body, RESIDENT))
    run_jobs()
    texts = phone.inbox()
    assert "1 Pothole in Street" in texts[0]
    assert "Where is it?" in texts[1]
    assert texts[2].startswith("Found: 120 Main Street, Springfield. Please describe")
    with session_scope() as session:
        statuses = session.exec(select(Message.status).where(Message.direction == "in")).all()
    assert statuses == ["processed"] * 3


def test_opted_out_recipient_is_not_retried(phone, twilio_api):
    twilio_api.config["FAIL_TO"] = {RESIDENT: 21610}
    phone.text("hi")
    assert phone.inbox() == []
    with session_scope() as session:
        # Refused once as opted out, never retried; and then only the opt-out is kept.
        assert session.exec(select(Message)).all() == []
        [contact] = session.exec(select(Contact)).all()
    assert contact.opted_out and contact.address is None and contact.language is None
    assert contact.address_key == address_key(f"tel:{RESIDENT}")
    assert run_jobs(include_delayed=True) == 0

    twilio_api.config["FAIL_TO"] = {}
    phone.text("hi again")  # nothing is sent to an opted-out resident
    assert phone.inbox() == []


def test_twilio_outage_is_retried_and_later_texts_wait_their_turn(phone, twilio_api):
    twilio_api.config["FAIL_NEXT"] = [503]
    assert phone.text("hi") == []
    with session_scope() as session:
        [menu] = session.exec(select(Message).where(Message.direction == "out")).all()
    assert (menu.status, menu.attempts, menu.error_code) == ("pending", 1, "20503")
    run_jobs(include_delayed=True)
    [retried] = phone.inbox()
    assert "1 Pothole in Street" in retried

    twilio_api.config["FAIL_NEXT"] = [503]
    assert phone.text("1") == []
    # The next reply waits behind the failed one, then both go, in order.
    assert phone.text("120 Main St") == []
    run_jobs(include_delayed=True)
    texts = phone.inbox()
    assert "Where is it?" in texts[0] and texts[1].startswith("Found: 120 Main Street")
