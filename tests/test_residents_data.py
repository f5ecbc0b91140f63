"""Residents' data at rest, verified against the database on SQLite and PostgreSQL: no phone
number stored in clear, DELETE MY DATA and `intake311 forget`, STOP keeping only the opt-out.

End to end: signed Twilio webhooks, real Redis and rq jobs in-process, the sandbox city.
"""

from __future__ import annotations

import getpass
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, String, Text, inspect, text
from sqlmodel import select

from bot import jobs
from bot.cli import main
from bot.db import get_engine, session_scope
from bot.forget import addresses_typed
from bot.models import Contact, Conversation, Message, Report, StaffAction
from bot.personal_data import address_key, pseudonym
from tests.conftest import run_jobs
from tests.test_end_to_end import (
    RESIDENT,
    Phone,
    answer_pothole_questions,
    only_report,
    set_city_status,
)
from webhooks import create_app

ADDRESS = f"tel:{RESIDENT}"
DIGITS = RESIDENT.removeprefix("+1")  # the number as any column might hold it


@pytest.fixture
def phone(env, twilio_api):
    """A new resident (asked the contact question in their first summary)."""
    return Phone(create_app({"TESTING": True}).test_client(), twilio_api, returning=False)


def file_report(phone: Phone) -> Report:
    """A pothole filed with the city, the resident agreeing to be contacted."""
    phone.text("there is a big pothole outside 120 Main St, two feet wide")
    answer_pothole_questions(phone)
    phone.text("yes")
    report = only_report()
    assert report.service_request_id and report.contact_ok
    return report


def stored_text() -> dict[str, list[str]]:
    """Every text and JSON value of every table, as stored (the raw column, not the model)."""
    found: dict[str, list[str]] = {}
    engine = get_engine()
    inspector = inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = [
                c["name"]
                for c in inspector.get_columns(table)
                if isinstance(c["type"], String | Text | JSON)
            ]
            if not columns:
                continue
            # Cast to text, so the JSON is read as stored (numbers too) on both databases.
            picked = ", ".join(f"CAST({name} AS TEXT)" for name in columns)
            for row in connection.execute(text(f"SELECT {picked} FROM {table}")):
                found.setdefault(table, []).extend(str(v) for v in row if v is not None)
    return found


def holding(needle: str) -> dict[str, list[str]]:
    return {
        t: [v for v in vs if needle in v]
        for t, vs in stored_text().items()
        if any(needle in v for v in vs)
    }


def contact_row() -> Contact | None:
    with session_scope() as session:
        return session.exec(
            select(Contact).where(Contact.address_key == address_key(ADDRESS))
        ).first()


def test_no_phone_number_is_stored_in_clear_after_a_report_by_sms(phone):
    report = file_report(phone)
    set_city_status(report.service_request_id, "closed", "Patched.")
    jobs.track()
    run_jobs()
    assert phone.inbox()  # the status update went out: the number was there to send to

    assert holding(DIGITS) == {}
    # The model reads it back in clear, and finds the contact by its keyed hash only.
    contact = contact_row()
    assert contact is not None and contact.address == ADDRESS
    with get_engine().connect() as connection:
        stored = connection.execute(text("SELECT address, address_key FROM contact")).one()
    assert stored[0].startswith("gAAAAA") and stored[1] == address_key(ADDRESS)
    # Twilio's form is not kept beside the messages: ids only.
    with session_scope() as session:
        raws = [m.payload["raw"] for m in session.exec(select(Message)) if m.direction == "in"]
    assert raws and all(
        set(raw)
        <= {
            "MessageSid",
            "AccountSid",
            "NumMedia",
            "NumSegments",
            "SmsStatus",
            "ApiVersion",
            "SmsMessageSid",
            "MessagingServiceSid",
        }
        for raw in raws
    )


def assert_forgotten(report_id: int, number: str) -> None:
    """Only the city's request (number, service, status) is left, tied to nobody findable."""
    assert contact_row() is None
    with session_scope() as session:
        report = session.get(Report, report_id)
        assert report.service_request_id == number and report.service_name
        assert (report.description, report.address, report.lat, report.phone, report.email) == (
            "",
            "",
            None,
            None,
            None,
        )
        assert not report.contact_ok and report.attributes == {} and report.erased_at
        contact = session.get(Contact, report.contact_id)
        assert contact.address is None and contact.address_key is None
        assert contact.language is None and contact.contact_consent is None
        assert session.exec(select(Message).where(Message.contact_id == contact.id)).all() == []
        conversation = session.exec(
            select(Conversation).where(Conversation.contact_id == contact.id)
        ).one()
        assert conversation.state == {"name": "idle"} or conversation.state.get("name") == "idle"
    assert holding(DIGITS) == {}
    assert holding("two feet wide") == {}
    assert holding("120 Main") == {}


def test_delete_my_data_asks_then_erases_and_says_what_went(phone, twilio_api):
    report = file_report(phone)
    phone.inbox()
    [asked] = phone.text("DELETE MY DATA")
    assert asked.startswith("Delete everything we keep about you") and "YES" in asked
    with session_scope() as session:
        assert session.get(Report, report.id).description  # nothing erased before YES

    [done] = phone.text("yes")
    assert done.startswith("Deleted: ") and "the details of 1 reports" in done
    assert_forgotten(report.id, report.service_request_id)

    # The city's later news is not texted to a resident who asked to be forgotten.
    set_city_status(report.service_request_id, "closed", "Patched.")
    jobs.track()
    run_jobs()
    assert phone.inbox() == []

    # Texting again starts afresh, as a new resident with no reports.
    menu = phone.text("hi")
    assert "1 Pothole in Street" in menu[-1], menu
    mine = "\n".join(phone.text("my reports"))
    assert "no reports" in mine.casefold() and report.service_request_id not in mine


def test_forget_me_is_never_taken_for_a_report_and_no_keeps_everything(phone):
    [ask_where] = phone.text("pothole")[-1:]
    assert "Where is it?" in ask_where
    [asked, *_] = phone.text("Forget me")
    assert asked.startswith("Delete everything we keep")
    [kept] = phone.text("no")
    # The report in progress goes on where it was.
    assert kept.startswith("OK, nothing was deleted. Where is it?")
    phone.text("120 Main St")
    phone.text("deep hole")
    phone.text("1")
    phone.text("yes")
    report = only_report()
    assert "forget" not in report.description.casefold()
    assert contact_row() is not None and report.description == "deep hole"


def test_delete_my_data_in_spanish(phone):
    [asked] = phone.text("Borrar mis datos")
    assert asked.startswith("¿Borrar todo lo que guardamos de usted")
    [done] = phone.text("sí")
    assert done.startswith("Borrado: ")
    assert contact_row() is None
    assert holding(DIGITS) == {}


@pytest.mark.parametrize("hesitation", ["uh?", "co", "da", "oo", "dung"])
def test_only_a_yes_in_the_residents_own_language_erases(phone, hesitation):
    """Words that mean yes in another language the bot speaks are not taken for one here."""
    phone.text("pothole")
    [asked, *_] = phone.text("delete my data")
    assert asked.startswith("Delete everything we keep")
    phone.text(hesitation)
    assert contact_row() is not None
    with session_scope() as session:
        assert session.exec(select(Conversation)).one().forget_asked_at is None


def test_a_stray_yes_long_after_the_question_erases_nothing(phone):
    phone.text("delete my data")
    with session_scope() as session:
        conversation = session.exec(select(Conversation)).one()
        conversation.forget_asked_at = conversation.forget_asked_at.replace(year=2000)
    phone.text("yes")
    assert contact_row() is not None


def test_intake311_forget_erases_and_records_who_did_it(phone):
    report = file_report(phone)
    result = CliRunner().invoke(main, ["forget", RESIDENT])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("forgotten on tel: ") and "1 report(s) kept" in result.output
    assert_forgotten(report.id, report.service_request_id)
    with session_scope() as session:
        [action] = session.exec(select(StaffAction)).all()
    assert (action.actor, action.action) == (f"cli:{getpass.getuser()}", "forget")
    assert action.target == f"contact {pseudonym(ADDRESS)}"
    assert DIGITS not in json.dumps(action.model_dump(mode="json"))

    again = CliRunner().invoke(main, ["forget", RESIDENT])
    assert again.exit_code != 0 and "no resident" in again.output


def test_staff_may_write_the_number_as_people_do_but_with_its_country_code(phone):
    file_report(phone)
    without_country = CliRunner().invoke(main, ["forget", RESIDENT.removeprefix("+1")])
    assert without_country.exit_code != 0 and "country code" in without_country.output
    assert contact_row() is not None
    spaced = f"{RESIDENT[:2]} ({RESIDENT[2:5]}) {RESIDENT[5:8]}-{RESIDENT[8:]}"
    done = CliRunner().invoke(main, ["forget", spaced])
    assert done.exit_code == 0, done.output
    assert contact_row() is None


def test_a_number_is_the_resident_on_sms_and_on_whatsapp(phone):
    file_report(phone)
    whatsapp = f"whatsapp:{RESIDENT}"
    with session_scope() as session:
        session.add(
            Contact(address=whatsapp, address_key=address_key(whatsapp), channel="whatsapp")
        )
    done = CliRunner().invoke(main, ["forget", RESIDENT])
    assert done.exit_code == 0, done.output
    assert "forgotten on tel:" in done.output and "forgotten on whatsapp:" in done.output
    with session_scope() as session:
        for address in (ADDRESS, whatsapp):
            found = session.exec(
                select(Contact).where(Contact.address_key == address_key(address))
            ).first()
            assert found is None
    # With its scheme, one channel alone (and a WhatsApp number written as people do).
    assert addresses_typed("whatsapp:+1 (312) 555-0142") == ["whatsapp:+13125550142"]
    assert addresses_typed("tel:+13125550142") == ["tel:+13125550142"]
    assert addresses_typed("+1 312 555 0142") == ["tel:+13125550142", "whatsapp:+13125550142"]
    assert addresses_typed("telegram:123") == ["telegram:123"]


def test_stop_keeps_only_the_opt_out(phone):
    report = file_report(phone)
    assert phone.text("STOP") == []  # Twilio confirms STOP itself
    contact = contact_row()
    assert contact is not None and contact.opted_out
    assert contact.address is None and contact.language is None
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []
        erased = session.get(Report, report.id)
        assert erased.service_request_id == report.service_request_id
        assert erased.description == "" and erased.phone is None and not erased.contact_ok
    assert holding(DIGITS) == {}
    assert phone.text("hi") == []  # opted out: nothing sent, and the message not kept
    assert holding("hi") == {} or all("hi" not in v for v in holding("hi").get("message", []))

    assert phone.text("START") == []  # Twilio's opt-in: Twilio confirms, we listen again
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu
    assert contact_row().address == ADDRESS


def test_delete_my_data_on_telegram_by_tapping_yes(env, telegram_api):
    """The question comes with Yes/No buttons; a tap on Yes erases; the chat id is kept
    nowhere afterwards (not in a payload, an external id or a contact)."""
    from tests.test_telegram_end_to_end import TelegramChat, buttons, file_pothole_by_taps

    # A chat of its own: the fake Bot API numbers each chat's messages for the whole session.
    chat_id = 512345678
    chat = TelegramChat(create_app({"TESTING": True}).test_client(), telegram_api, chat_id)
    file_pothole_by_taps(chat)
    [asked] = chat.say("delete my data")
    assert asked["text"].startswith("Delete everything") and buttons(asked) == ["Yes", "No"]
    [done] = chat.tap("Yes")
    assert done["text"].startswith("Deleted: ")
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        assert report.service_request_id and report.description == ""
        assert session.exec(select(Message)).all() == []
    assert holding(str(chat_id)) == {}


def test_forgetting_drops_unsent_reports_and_keeps_one_on_its_way_until_the_city_has_it(env):
    from bot.forget import forget_address
    from bot.retention import purge
    from bot.timeutil import utcnow
    from tests.test_retention import personal, report, resident

    ids = resident(RESIDENT, aged=False)
    unsent = report(ids, state="pending", service_request_id=None)
    posting = report(ids, state="submitting", service_request_id=None, first_posted_at=utcnow())

    erased = forget_address(ADDRESS, actor="cli:test")
    assert (erased.reports, erased.dropped) == (1, 1)
    with session_scope() as session:
        assert session.get(Report, unsent) is None
        on_its_way = session.get(Report, posting)
        # Its POST may be at the city: it keeps its words for now, never the contact details.
        assert on_its_way.description and on_its_way.erased_at
        assert (on_its_way.contact_ok, on_its_way.phone, on_its_way.email) == (False, None, None)
        on_its_way.state, on_its_way.service_request_id = "submitted", "2026-000009"
    purge()  # the city has it now: the rest goes
    assert personal(posting) == ("", "", None, {}, [], None)


def test_a_report_waiting_for_a_retry_is_never_posted_after_its_resident_is_erased(env):
    """An earlier POST failed (it may or may not have reached the city): after DELETE MY DATA
    no copy of the resident's words is posted again."""
    from bot import jobs
    from bot.forget import forget_address
    from bot.timeutil import utcnow
    from tests.test_retention import report, resident

    ids = resident(RESIDENT, aged=False)
    retrying = report(
        ids, state="pending", service_request_id=None, first_posted_at=utcnow(), attempts=1
    )
    posting = report(ids, state="submitting", service_request_id=None, first_posted_at=utcnow())
    erased = forget_address(ADDRESS, actor="cli:test")
    assert (erased.reports, erased.dropped) == (1, 1)
    with session_scope() as session:
        assert session.get(Report, retrying) is None
        session.get(Report, posting).state = "pending"  # its POST failed: back in line
    assert jobs.submit(posting) == "dropped"
    with session_scope() as session:
        assert session.get(Report, posting) is None
