"""Issue 4 over SMS, end to end: consent and contact details, MY REPORTS, BACK, emergencies,
a quiet conversation put aside and resumed, and a resident's language kept for every text."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.languages import load_languages
from bot.models import Contact, Conversation, Report
from bot.settings import get_settings
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import RESIDENT, Phone, set_city_status
from webhooks import create_app

# What residents and cities see, end to end: PostgreSQL adds nothing here that the storage,
# job and guarantee modules do not already prove on it.
pytestmark = pytest.mark.sqlite_only

DUMPING = "someone dumped a couch at 120 Main St, call me at 312-555-0199 or ana@example.org"


@pytest.fixture
def phone(env, twilio_api):
    """A resident who has answered the contact question before (PRIVATE)."""
    return Phone(create_app({"TESTING": True}).test_client(), twilio_api)


@pytest.fixture
def new_phone(env, twilio_api):
    """A resident texting for the first time: their first summary asks whether the city may
    contact them."""
    return Phone(create_app({"TESTING": True}).test_client(), twilio_api, returning=False)


def city_private(sandbox, number: str) -> dict:
    """What the sandbox city stored but does not publish (phone, email...)."""
    return sandbox._server.app.extensions["sandbox"].store.private(number)


def dumping_summary(phone, said: str = DUMPING) -> str:
    """A one-shot dumping report (the sure address is not read back): what was dumped, then
    the summary; returns the summary's texts joined (the consent sentence may come apart)."""
    [what] = phone.text(said)
    assert what.startswith("Found: 120 Main Street, Springfield. What was dumped?")
    return "\n".join(phone.text("1"))  # how much (optional) waits behind 4 in the summary


def file_dumping(phone, answer: str) -> list[str]:
    """A one-shot dumping report with contact details typed in it, answered `answer` at the
    summary; returns the last texts."""
    dumping_summary(phone)
    return phone.text(answer)


def test_consent_yes_sends_the_phone_and_email_but_the_description_is_masked(new_phone, sandbox):
    summary = dumping_summary(new_phone)
    assert "call me at [phone] or [email]" in summary
    assert summary.endswith(texts.CONFIRM_CONSENT)  # asked in the first summary
    unclear = new_phone.text("maybe")  # not an answer: nothing is sent, nothing decided
    assert len(unclear) == 2 and unclear[0].startswith("Reply YES to send")
    assert unclear[1].startswith("With YES the city may contact you")  # the choice still open
    assert _only(Contact).contact_consent is None
    with session_scope() as session:
        assert session.exec(select(Report)).all() == []
    sending = new_phone.text("yes")
    assert sending[0] == texts.SENDING
    report = _only(Report)
    assert report.description.endswith("call me at [phone] or [email]")
    private = city_private(sandbox, report.service_request_id)
    assert private["phone"] == RESIDENT  # the number they text from
    assert private["email"] == "ana@example.org"
    assert _only(Contact).contact_consent is True
    # Kept: the next summary does not ask again.
    assert texts.CONFIRM_CONSENT not in dumping_summary(new_phone)


@pytest.mark.parametrize("private", ["PRIVATE", "send anonymously", "don't contact me"])
def test_consent_no_sends_nothing_and_is_not_asked_again(new_phone, sandbox, private):
    """PRIVATE (or its everyday words) at the first summary sends the report without the
    resident's contact details, and is remembered."""
    assert dumping_summary(new_phone).endswith(texts.CONFIRM_CONSENT)
    sending = new_phone.text(private)
    assert sending[0] == texts.SENDING  # PRIVATE sends: no second question
    first = _only(Report)
    assert first.state == "submitted"
    private_details = city_private(sandbox, first.service_request_id)
    assert private_details["phone"] is None and private_details["email"] is None
    assert "312-555-0199" not in first.description
    assert _only(Contact).contact_consent is False
    # The second report's summary does not ask again; YES sends it, still without them.
    summary = dumping_summary(new_phone)
    assert summary.startswith("Ready to send:") and texts.CONFIRM_CONSENT not in summary
    new_phone.text("yes")
    with session_scope() as session:
        second = session.exec(select(Report).where(Report.id != first.id)).one()
    assert city_private(sandbox, second.service_request_id)["phone"] is None


def test_no_at_the_first_summary_cancels_and_consent_is_asked_next_time(new_phone):
    """NO at the first summary cancels the report; it does not answer the contact question."""
    assert dumping_summary(new_phone).endswith(texts.CONFIRM_CONSENT)
    assert new_phone.text("no") == [texts.CANCELLED]
    assert _only(Contact).contact_consent is None
    with session_scope() as session:
        assert session.exec(select(Report)).all() == []
    assert dumping_summary(new_phone).endswith(texts.CONFIRM_CONSENT)


def test_my_reports_lists_the_residents_reports_with_their_status(phone):
    assert phone.text("my reports") == [texts.MY_REPORTS_NONE]
    file_dumping(phone, "yes")
    number = _only(Report).service_request_id
    set_city_status(number, "closed", "Picked up.")
    jobs.track()
    run_jobs()
    phone.inbox()
    [mine] = phone.text("MY REPORTS")
    assert mine.startswith(f"Your reports:\n{number} Illegal Dumping: closed (")


def test_back_returns_to_the_previous_question(phone):
    phone.text("hi")
    phone.text("1")
    phone.text("120 Main St")
    [again] = phone.text("back")
    assert again.startswith("Where is it?")
    [first] = phone.text("back")
    assert "1 Pothole in Street" in first  # the menu again
    none, menu = phone.text("back")
    assert none == texts.BACK_NONE and "1 Pothole in Street" in menu


def test_an_emergency_is_sent_to_911_and_not_filed(phone):
    [told] = phone.text("there's a fire in the building at 120 Main St")
    assert told.startswith("If this is an emergency, call 911 now.")
    with session_scope() as session:
        assert session.exec(select(Report)).all() == []
        assert session.exec(select(Conversation)).one().state["name"] == "idle"


def test_a_quiet_conversation_is_put_aside_and_resumed(phone, monkeypatch):
    [asked] = phone.text("pothole at 120 Main St")
    assert asked == "Found: 120 Main Street, Springfield. " + texts.ASK_DESCRIPTION
    _age_conversation(minutes=31)
    assert jobs.close_idle() == 1
    run_jobs()
    [paused] = phone.inbox()
    assert paused == "I've saved your Pothole in Street report. Text us any time to finish it."
    assert jobs.close_idle() == 0  # put aside once: nothing more is sent
    [offer] = phone.text("hello again")
    assert offer.startswith("You have an unfinished Pothole in Street report.")
    [question] = phone.text("yes")
    assert question == texts.ASK_DESCRIPTION  # where it stopped


def test_a_recent_conversation_is_not_ended(phone):
    phone.text("pothole at 120 Main St")
    _age_conversation(minutes=5)
    assert jobs.close_idle() == 0


def test_a_resident_writing_spanish_gets_every_text_in_spanish(phone, sandbox):
    say = load_languages()["es"]
    [menu] = phone.text("hola, tengo un problema")
    assert menu.startswith(say(texts.GREETING)) and say(texts.GREETING) != texts.GREETING
    found, where = phone.text("hay un bache enorme en 120 Main St")
    assert found == say(texts.ADDRESS_TAKEN).format(address="120 Main Street, Springfield")
    assert say(texts.ADDRESS_TAKEN) != texts.ADDRESS_TAKEN
    # The city's own question, in Spanish where the catalogue translates it (msgctxt service).
    assert where.startswith(say.service("Where is the pothole?")) and "bache" in where
    assert say(texts.HINT_CHOICE) in where  # the hint in Spanish
    [offered] = phone.text("1")
    assert offered.startswith(say(texts.CONFIRM).split("\n")[0])
    assert offered.endswith(say(texts.CONFIRM_HOW_DETAILS))
    [how_deep] = phone.text("4")
    assert how_deep.startswith("¿Qué tan profundo es") and "OMITIR" in how_deep
    phone.text("omitir")
    [summary] = phone.text("omitir")
    assert summary.startswith(say(texts.CONFIRM).split("\n")[0])
    assert summary.endswith(say(texts.CONFIRM_HOW))
    sending, filed = phone.text("si")
    assert sending == say(texts.SENDING)
    report = _only(Report)
    assert report.description == "hay un bache enorme en 120 Main St"  # their own words
    assert filed.startswith(say(texts.REPORT_FILED).split("{")[0])
    assert _only(Contact).language == "es"
    set_city_status(report.service_request_id, "closed", "Reparado.")
    jobs.track()
    run_jobs()
    [update] = phone.inbox()
    assert update.startswith(say(texts.STATUS_CHANGED).split("{")[0])
    assert "Reparado." in update  # the city's own words, untranslated


def test_a_new_resident_writing_spanish_is_asked_consent_in_spanish_and_privado_sends(
    new_phone, sandbox
):
    say = load_languages()["es"]
    new_phone.text("hay un bache enorme en 120 Main St, llámenme al 312-555-0199")
    summary = new_phone.text("1")
    assert summary[0].startswith(say(texts.CONFIRM).split("\n")[0])
    assert summary[-1].endswith(say(texts.CONFIRM_CONSENT))
    assert say(texts.CONFIRM_CONSENT) != texts.CONFIRM_CONSENT
    sending, _ = new_phone.text("privado")
    assert sending == say(texts.SENDING)
    report = _only(Report)
    assert city_private(sandbox, report.service_request_id)["phone"] is None
    assert _only(Contact).contact_consent is False


def test_a_request_number_without_digits_works_in_status_my_reports_and_updates(
    phone, sandbox, monkeypatch
):
    monkeypatch.setattr(sandbox._server.app.extensions["sandbox"], "id_style", "letters")
    monkeypatch.setenv("CITY_TIMEZONE", "America/Chicago")
    get_settings.cache_clear()
    file_dumping(phone, "yes")
    report = _only(Report)
    number = report.service_request_id
    assert number.isalpha() and number.islower()  # the city's id, e.g. "nnxoxfvi"
    set_city_status(number, "open", "Crew assigned.")
    [told] = phone.text(f"STATUS #{number.upper()} please")  # found among their reports
    assert told == f"Request {number} (Illegal Dumping): open. Crew assigned."
    [mine] = phone.text("my reports")
    assert mine.startswith(f"Your reports:\n{number} Illegal Dumping: ")
    jobs.track()  # the city's first answer about it (maybe kept silently as a baseline)
    run_jobs()
    phone.inbox()
    # 03:00 UTC on Dec 5 is Dec 4 in the city.
    entry = {
        "status": "open",
        "status_notes": "Crew assigned.",
        "expected_datetime": "2026-12-05T03:00:00Z",
    }
    assert jobs.receive_status(report.id, entry)
    run_jobs()
    [update] = phone.inbox()
    assert update == (
        f"Update on request {number} (Illegal Dumping): open. Crew assigned. Expected by Dec 4."
    )
    set_city_status(number, "closed", "Picked up.")
    assert jobs.track() == 1  # the tracker finds the letters-only id
    run_jobs()
    assert phone.inbox() == [f"Update on request {number} (Illegal Dumping): closed. Picked up."]


@pytest.mark.parametrize("id_style", ["letters", "dashed"])
def test_status_of_an_own_report_the_city_has_not_published_yet_says_it_is_with_the_city(
    phone, sandbox, monkeypatch, id_style
):
    city = sandbox._server.app.extensions["sandbox"]
    monkeypatch.setattr(city, "moderated", True)  # new requests hidden until staff moderate
    monkeypatch.setattr(city, "id_style", id_style)
    file_dumping(phone, "yes")
    number = _only(Report).service_request_id
    [mine] = phone.text("MY REPORTS")
    assert number in mine
    [told] = phone.text(f"STATUS {number.upper()}")  # letters: found among their reports
    assert told == (
        f"Request {number} is with the city but not published yet; I'll text you when it changes."
    )
    # Someone else's number, or one that does not exist, is still not found.
    [other] = phone.text("STATUS 2026-999999")
    assert other == "I couldn't find request 2026-999999."
    base = get_settings().open311_endpoint.split("/open311/")[0]
    httpx.post(f"{base}/admin/requests/{number}/moderate", timeout=5).raise_for_status()
    [published] = phone.text(f"STATUS {number}")
    assert published.startswith(f"Request {number} (Illegal Dumping): open")


def _age_conversation(minutes: int) -> None:
    with session_scope() as session:
        conversation = session.exec(select(Conversation)).one()
        conversation.updated_at = conversation.updated_at - timedelta(minutes=minutes)


def _only(model):
    with session_scope() as session:
        return session.exec(select(model)).one()


def test_language_is_chosen_by_text_and_kept_for_the_contact(phone):
    [menu] = phone.text("LANGUAGE")
    assert "1 English" in menu and "3 \u4e2d\u6587" in menu
    chinese = load_languages()["zh"]
    switched = phone.text("3")
    assert switched[0].startswith(chinese(texts.LANGUAGE_SET).format(language="\u4e2d\u6587"))
    assert _only(Contact).language == "zh"
    [help_text] = phone.text("HELP")[:1]  # English commands still work, answered in Chinese
    assert help_text == chinese(texts.HELP)
