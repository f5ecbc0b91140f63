"""The engine's commands and safeguards: BACK, LANGUAGE, MY REPORTS, STATUS, OTHER, editing at
the summary, consent, masked contact details, emergencies, and a quiet conversation resumed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from conversations import FileReport, Geocoded, LookupStatus, Place, State, StatusFound, texts
from conversations.commands import parse_command
from conversations.language import Language
from conversations.privacy import mask_contacts
from conversations.types import ListReports, ReportLine, ReportsListed, TimedOut
from tests.test_conversations_catalogue import AT, CONTEXT, Chat

MAIN = Place("120 Main St, Springfield", 39.78, -89.65)
OAK = Place("5 Oak Ave, Springfield", 39.79, -89.64)


def texts_of(turn) -> list[str]:
    return [reply.text for reply in turn.replies]


def at_summary(chat: Chat | None = None) -> Chat:
    """Pothole by number at 120 Main St, with a description: the summary is showing."""
    chat = chat or Chat()
    chat.send("hi")
    chat.send("1")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("Deep hole in the right lane")
    assert chat.state.name == "confirm"
    return chat


# --- BACK ---------------------------------------------------------------------------------


def test_back_walks_back_question_by_question_keeping_the_answers_before():
    chat = at_summary()
    assert chat.send("back").replies[0].text == texts.ASK_DESCRIPTION
    assert chat.state.name == "description"
    assert chat.send("back").replies[0].text.startswith("I found: 120 Main St")
    assert chat.send("BACK").replies[0].expects == "location"
    assert chat.state.draft.service_code
    menu = chat.send("back")
    assert chat.state.name == "service" and "Pothole" in menu.replies[0].options
    turn = chat.send("back")
    assert texts_of(turn)[0] == texts.BACK_NONE and chat.state.name == "service"


def test_back_then_a_new_answer_goes_on_from_there():
    chat = at_summary()
    chat.send("back")
    summary = chat.send("Wide crack across both lanes")
    assert '"Wide crack across both lanes"' in summary.replies[0].text


def test_back_in_idle_says_there_is_nothing_to_go_back_to():
    assert texts_of(Chat().send("back")) == [texts.BACK_NONE]


# --- editing at the summary ---------------------------------------------------------------


def test_a_number_at_the_summary_changes_that_field_and_comes_back():
    chat = at_summary()
    asked = chat.send("2")
    assert asked.replies[0].expects == "location" and chat.state.draft.editing
    chat.send("5 Oak Ave")
    chat.feed(Geocoded("5 Oak Ave", (OAK,)))
    summary = chat.send("yes")
    assert chat.state.name == "confirm"
    assert "\n2 5 Oak Ave, Springfield\n" in summary.replies[0].text
    assert '"Deep hole in the right lane"' in summary.replies[0].text


@pytest.mark.parametrize("words", ["change description", "3"])
def test_the_description_can_be_changed(words):
    chat = at_summary()
    assert chat.send(words).replies[0].text == texts.ASK_DESCRIPTION
    summary = chat.send("Hole is now a foot deep")
    assert '"Hole is now a foot deep"' in summary.replies[0].text
    sent = chat.send("yes")
    assert sent.actions[0].description == "Hole is now a foot deep"


def test_the_type_can_be_changed_keeping_the_location_and_description():
    chat = at_summary()
    menu = chat.send("change type")
    assert "Graffiti Removal" in menu.replies[0].options
    summary = chat.send("graffiti")
    assert chat.state.name == "confirm"
    text = summary.replies[-1].text
    assert "\n1 Graffiti Removal\n" in text and "120 Main St" in text and "Deep hole" in text
    [report] = chat.send("yes").actions
    assert (report.service_code, report.address) == ("GRF-003", MAIN.address)


def test_a_new_address_at_the_summary_is_looked_up():
    chat = at_summary()
    turn = chat.send("it's actually at 5 Oak Ave")
    assert turn.actions[0].query == "5 Oak Ave"


def test_change_alone_asks_which_field():
    chat = at_summary()
    assert texts_of(chat.send("change")) == [texts.EDIT_WHICH]
    assert texts_of(chat.send("7")) == [texts.EDIT_WHICH]


# --- consent and masked contact details ---------------------------------------------------


def test_consent_is_asked_in_the_first_summary_and_never_again():
    chat = Chat(state=State())
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    summary = chat.send("Deep hole, text me at (312) 555-0142")
    joined = " ".join(texts_of(summary))
    assert chat.state.name == "confirm" and joined.startswith("Ready to send")
    assert '"Deep hole, text me at [phone]"' in joined
    assert texts.CONFIRM_CONSENT in joined
    [report] = chat.send("yes").actions
    assert report.contact_ok and report.phone == "(312) 555-0142"
    assert report.description == "Deep hole, text me at [phone]"
    assert chat.state.consent is True  # kept for the next report: not asked again
    chat.send("pothole")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    again = " ".join(texts_of(chat.send("Another one")))
    assert again.startswith("Ready to send") and texts.CONFIRM_CONSENT not in again


@pytest.mark.parametrize("word", ["private", "PRIVATE", "send anonymously", "don't contact me"])
def test_private_in_the_first_summary_files_without_contact_details(word):
    chat = Chat(state=State())
    chat.send("graffiti at 120 Main St, email me at ana@example.org")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    [report] = chat.send(word).actions
    assert not report.contact_ok and report.email == "" and report.phone == ""
    assert "ana@example.org" not in report.description and "[email]" in report.description
    assert chat.state.consent is False  # kept: later summaries do not ask again


def test_private_at_a_later_summary_withdraws_the_consent_given_before():
    chat = Chat(state=State(consent=True))
    chat.send("graffiti at 120 Main St, call me at 312-555-0142")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    summary = " ".join(texts_of(chat.send("tags on the wall")))
    assert texts.CONFIRM_CONSENT not in summary  # asked once, long ago
    [report] = chat.send("private").actions
    assert not report.contact_ok and report.phone == ""
    assert chat.state.consent is False  # kept for the next reports


def test_a_state_stored_while_consent_was_asked_on_its_own_goes_on_to_the_summary():
    chat = Chat(state=State())
    chat.send("graffiti at 120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("tags on the wall")
    stored = chat.state
    stored.name = "consent"  # an earlier version's own question, stored before an upgrade
    chat.stored = json.dumps(stored.to_dict())
    summary = chat.send("no")
    assert chat.state.name == "confirm" and chat.state.consent is False
    assert texts_of(summary)[0].startswith("Ready to send")
    [report] = chat.send("yes").actions
    assert not report.contact_ok


@pytest.mark.parametrize(
    ("text", "masked", "phones", "emails"),
    [
        ("call 312-555-0199", "call [phone]", ["312-555-0199"], []),
        ("call +1 (312) 555 0199 now", "call [phone] now", ["+1 (312) 555 0199"], []),
        ("my cell 3125550199.", "my cell [phone].", ["3125550199"], []),
        ("ring 555-0100 after 5", "ring [phone] after 5", ["555-0100"], []),
        ("mail a.b+c@city.gov.us", "mail [email]", [], ["a.b+c@city.gov.us"]),
        ("hole at 1200 Main St, 3 feet wide", "hole at 1200 Main St, 3 feet wide", [], []),
        ("since 2026-11-20 the light is out", "since 2026-11-20 the light is out", [], []),
    ],
)
def test_contact_details_are_masked_and_kept_apart(text, masked, phones, emails):
    assert mask_contacts(text) == (masked, phones, emails)


# --- emergencies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "There's a fire in the building next door",
        "I smell gas on Oak Ave",
        "someone is hurt",
        "a man is bleeding on the sidewalk",
        "shots fired near the park",
        "gas leak!!",
        "power lines down across the street",
        "my neighbor is unconscious",
    ],
)
def test_an_emergency_gets_911_at_once_in_any_state(text):
    for chat in (Chat(), at_summary()):
        before = chat.state
        turn = chat.send(text)
        assert texts_of(turn) == [texts.EMERGENCY.format(number="911")]
        assert turn.actions == () and chat.state == before  # nothing filed, nothing lost


@pytest.mark.parametrize(
    "text",
    [
        "fire hydrant leaking",
        "the fire lane is blocked by a car",
        "overgrown brush is a fire hazard",
        "kids could get hurt on this broken sidewalk",
        "gas station dumpster overflowing",
        "not an emergency but the light is out",
        "this is a non-emergency",
    ],
)
def test_everyday_reports_with_alarming_words_are_not_deflected(text):
    turn = Chat().send(text)
    assert texts.EMERGENCY.format(number="911") not in texts_of(turn)


def test_the_citys_emergency_number_is_used():
    chat = Chat(replace(CONTEXT, emergency_number="112"))
    assert "call 112 now" in chat.send("house fire!").replies[0].text


# --- MY REPORTS, OTHER ---------------------------------------------------------------------


def test_my_reports_asks_the_worker_then_tells_and_asks_the_question_again():
    chat = at_summary()
    turn = chat.send("my reports")
    assert turn.actions == (ListReports(),) and turn.replies == ()
    lines = (
        ReportLine("2026-000123", "Pothole", "open", datetime(2026, 11, 20, 15, tzinfo=UTC)),
        ReportLine("", "Graffiti Removal", "", datetime(2026, 11, 21, 9, tzinfo=UTC)),
    )
    told = chat.feed(ReportsListed(lines))
    assert told.replies[0].text == (
        "Your reports:\n2026-000123 Pothole: open (Nov 20)\n"
        "(no number yet) Graffiti Removal: not sent yet (Nov 21)"
    )
    assert told.replies[1].text.startswith("Ready to send")
    assert chat.feed(ReportsListed(lines)).replies == ()  # an answer nobody waits for


def test_other_lists_the_groups_then_a_groups_services():
    chat = Chat()
    chat.send("hi")
    groups = chat.send("OTHER")
    assert groups.replies[0].text == texts.GROUPS_ASK
    names = groups.replies[0].options
    assert len(names) == len(set(names)) > 1
    listed = chat.send(str(names.index("Sanitation") + 1) if "Sanitation" in names else "1")
    services = listed.replies[0].options
    assert services and len(services) < len(CONTEXT.services)
    chat.send("1")
    assert chat.state.name == "location"


# --- languages ----------------------------------------------------------------------------

PIG = Language(
    code="pg",
    name="Pig Latin",
    messages={
        texts.GREETING: "Ellohay! Atwhay ouldway ouyay ikelay otay eportray?",
        texts.LANGUAGE_SET: "Okay, Igpay Atinlay omfray ownay.",
        texts.ASK_YES_NO: "Easeplay eplyray ESYAY or ONAY.",
    },
    words={"yes": ("esyay",), "names": ("igpay atinlay",), "detect": ("ellohay", "atwhay")},
)
PIG_CONTEXT = replace(CONTEXT, languages={"en": CONTEXT.language("en"), "pg": PIG})


def test_language_menu_then_a_number_switches_and_asks_the_question_again():
    chat = at_summary(Chat(PIG_CONTEXT))
    menu = chat.send("LANGUAGE")
    assert menu.replies[0].options == ("English", "Pig Latin")
    switched = chat.send("2")
    assert switched.replies[0].text == "Okay, Igpay Atinlay omfray ownay."
    assert switched.replies[1].text.startswith("Ready to send")  # untranslated: English
    assert chat.state.language == "pg" and chat.state.language_chosen
    assert chat.state.name == "confirm"
    assert chat.send("esyay").actions  # the language's own yes files it


def test_a_bare_language_name_switches_too():
    chat = Chat(PIG_CONTEXT)
    chat.send("igpay atinlay")
    assert chat.state.language == "pg"
    chat.send("english")
    assert chat.state.language == ""


def test_the_first_message_sets_the_language_unless_one_was_chosen():
    chat = Chat(PIG_CONTEXT)
    assert chat.send("ellohay atwhay").replies[0].text.startswith("Ellohay!")
    assert chat.state.language == "pg"
    chosen = Chat(PIG_CONTEXT, state=State(consent=False, language_chosen=True))
    chosen.send("ellohay atwhay")
    assert chosen.state.language == ""


def test_an_address_is_never_taken_for_a_language():
    chat = Chat(PIG_CONTEXT)
    chat.send("pothole")
    chat.send("1 Atwhay Ellohay St")
    assert chat.state.language == ""


# --- a quiet conversation -------------------------------------------------------------------


def test_a_quiet_report_is_put_aside_then_resumed_with_yes():
    chat = at_summary()
    paused = chat.feed(TimedOut(AT))
    assert texts_of(paused) == ["I've saved your Pothole report. Text us any time to finish it."]
    assert chat.state.name == "idle" and chat.state.draft.held.name == "confirm"
    offer = chat.send("hello?")
    assert offer.replies[0].text.startswith("You have an unfinished Pothole report.")
    back = chat.send("yes")
    assert back.replies[0].text.startswith("Ready to send") and chat.state.name == "confirm"
    assert isinstance(chat.send("yes").actions[0], FileReport)


def test_no_drops_the_old_report_and_reads_the_new_message():
    chat = at_summary()
    chat.feed(TimedOut(AT))
    chat.send("graffiti on my fence")
    chat.send("no")
    assert chat.state.name == "location" and chat.state.draft.service_code == "GRF-003"


def test_resume_brings_it_back_at_once():
    chat = at_summary()
    chat.feed(TimedOut(AT))
    assert chat.send("RESUME").replies[0].text.startswith("Ready to send")


def test_a_menu_left_unanswered_just_closes():
    chat = Chat()
    chat.send("hi")
    assert texts_of(chat.feed(TimedOut(AT))) == [texts.CLOSED]
    assert chat.state.name == "idle" and chat.state.draft.held is None
    assert chat.feed(TimedOut(AT)).replies == ()  # idle: nothing to end


def test_a_vague_first_message_is_not_kept_as_the_description():
    chat = Chat()
    chat.send("there is a problem on my street")
    chat.send("graffiti")
    assert chat.state.draft.description == ""


def test_a_few_chinese_characters_describe_the_problem():
    from bot.languages import load_languages

    chat = Chat(replace(CONTEXT, languages=load_languages()), state=State(consent=False))
    chat.send("路上有个大坑，很危险")
    assert chat.state.language == "zh" and chat.state.draft.service_code == "PTH-001"
    assert chat.state.draft.description == "路上有个大坑，很危险"


def test_contact_details_in_a_free_text_answer_are_masked_too():
    from tests.test_conversations_asking import ASKING_CONTEXT

    chat = Chat(ASKING_CONTEXT)
    chat.send("abandoned car")
    chat.send("120 Main St")
    chat.feed(Geocoded("120 Main St", (MAIN,)))
    chat.send("yes")
    chat.send("parked here for weeks")
    chat.send("blue ford, owner is at bob@example.org")
    answers = chat.state.draft.answers
    assert "bob@example.org" not in str(answers) and "[email]" in str(answers)
    assert chat.state.draft.contact.email == "bob@example.org"


# --- STATUS: request numbers with or without digits, dates on the city's calendar ------------

# 03:00 UTC on Dec 5 is still Dec 4 in Springfield (America/Chicago).
PAST_MIDNIGHT_UTC = datetime(2026, 12, 5, 3, tzinfo=UTC)


def city_chat(language: str = "") -> Chat:
    """A resident of a city in America/Chicago speaking every built-in language."""
    from bot.languages import load_languages

    context = replace(CONTEXT, languages=load_languages(), timezone="America/Chicago")
    return Chat(context, state=State(consent=False, language=language))


@pytest.mark.parametrize(
    ("text", "code", "number"),
    [
        ("STATUS nnxoxfvi", "en", "nnxoxfvi"),
        ("STATUS #nnxoxfvi", "en", "nnxoxfvi"),
        ("status: ABC-123", "en", "ABC-123"),
        ("status nnxoxfvi please", "en", "nnxoxfvi"),
        ("status of request NNXOXFVI", "en", "NNXOXFVI"),
        ("/status nnxoxfvi", "en", "nnxoxfvi"),
        ("STATUS 2026-000123", "en", "2026-000123"),
        ("status please check 42", "en", "42"),
        ("status please", "en", None),
        ("status of my report", "en", None),
        ("status update please", "en", None),
        ("status ok", "en", None),
        ("status nnxoxfvi abcdefgh", "en", None),  # two candidates: ask which
        ("estado nnxoxfvi por favor", "es", "nnxoxfvi"),
        ("estado de mi reporte", "es", None),
        ("查询nnxoxfvi", "zh", "nnxoxfvi"),
        ("状态：nnxoxfvi", "zh", "nnxoxfvi"),
        ("trang thai bao cao cua toi", "vi", None),
        ("katayuan nnxoxfvi po", "tl", "nnxoxfvi"),
    ],
)
def test_status_reads_request_numbers_with_or_without_digits(text, code, number):
    from bot.languages import load_languages

    command = parse_command(text, load_languages()[code])
    assert command is not None and command.name == "status"
    assert command.argument == number


def test_only_numbers_with_letters_are_sought_among_the_residents_reports_first():
    assert city_chat().send("status abc-123").actions == (ListReports(),)
    assert city_chat().send("STATUS 2026-000123").actions == (LookupStatus("2026-000123"),)


@pytest.mark.parametrize(
    ("language", "text", "told"),
    [
        (
            "",
            "STATUS NNXOXFVI please",
            "Request nnxoxfvi (Pothole): open. Crew assigned. Expected by Dec 4.",
        ),
        (
            "es",
            "estado NNXOXFVI por favor",
            "Solicitud nnxoxfvi (Bache): open. Crew assigned. Fecha prevista: 4 dic.",
        ),
    ],
)
def test_a_number_without_digits_is_the_residents_report_as_the_city_spells_it(
    language, text, told
):
    chat = city_chat(language)
    assert chat.send(text).actions == (ListReports(),)
    mine = (ReportLine("nnxoxfvi", "Pothole", "open", AT), ReportLine("2026-000001", "", "", AT))
    looked = chat.feed(ReportsListed(mine))
    assert looked.actions == (LookupStatus("nnxoxfvi"),) and looked.replies == ()
    found = StatusFound("nnxoxfvi", "open", "Crew assigned", "Pothole", expected=PAST_MIDNIGHT_UTC)
    assert texts_of(chat.feed(found)) == [told]
    assert chat.state.draft.status_number is None and not chat.state.draft.listing


def test_a_number_not_among_the_residents_reports_is_looked_up_as_typed():
    chat = city_chat()
    chat.send("STATUS QWERTYUI")
    assert chat.feed(ReportsListed(())).actions == (LookupStatus("QWERTYUI"),)


@pytest.mark.parametrize(
    ("language", "told"),
    [
        (
            "",
            "Request {number} is with the city but not published yet; "
            "I'll text you when it changes.",
        ),
        (
            "es",
            "La solicitud {number} ya está en la ciudad pero aún no se ha publicado; "
            "le escribiré cuando cambie.",
        ),
    ],
)
@pytest.mark.parametrize(
    ("typed", "number"), [("2026-000123", "2026-000123"), ("9INWQWH8", "9inwqwh8")]
)
def test_an_own_report_the_city_does_not_show_yet_is_with_the_city(language, told, typed, number):
    chat = city_chat(language)
    asked = chat.send(f"STATUS {typed}")
    if asked.actions == (ListReports(),):  # letters: their own reports first
        asked = chat.feed(ReportsListed((ReportLine(number, "Pothole", "open", AT),)))
    assert asked.actions == (LookupStatus(number),)
    assert texts_of(chat.feed(StatusFound(number, own=True))) == [told.format(number=number)]
    assert chat.state.draft.status_number is None
    # Not theirs (the worker found no report of theirs so numbered): not found, as before.
    chat.send(f"STATUS {typed}")
    if chat.state.draft.listing:
        chat.feed(ReportsListed(()))
    [missing] = texts_of(chat.feed(StatusFound(typed)))
    assert missing.startswith(("I couldn't find request", "No encontré la solicitud"))


@pytest.mark.parametrize(
    ("language", "told"),
    [
        ("", "Request 2026-000123 (Pothole): open. Expected by Dec 4."),
        ("es", "Solicitud 2026-000123 (Bache): open. Fecha prevista: 4 dic."),
    ],
)
def test_status_tells_the_expected_day_on_the_citys_calendar(language, told):
    chat = city_chat(language)
    chat.send("STATUS 2026-000123")
    found = StatusFound("2026-000123", "open", "", "Pothole", expected=PAST_MIDNIGHT_UTC)
    assert texts_of(chat.feed(found)) == [told]


@pytest.mark.parametrize(
    ("language", "told"),
    [
        ("", "Request 12345678 (Pothole): Closed. Filled."),
        ("es", "Solicitud 12345678 (Bache): Closed. Filled."),
    ],
)
def test_a_closed_request_has_no_expected_date(language, told):
    chat = city_chat(language)
    chat.send("status 12345678")
    found = StatusFound("12345678", "Closed", "Filled", "Pothole", expected=PAST_MIDNIGHT_UTC)
    assert texts_of(chat.feed(found)) == [told]


@pytest.mark.parametrize(
    ("language", "told"),
    [
        (
            "",
            "I couldn't find request pothole. "
            "Which request? Text STATUS and the request number, e.g. STATUS 12345.",
        ),
        (
            "es",
            "No encontré la solicitud pothole. "
            "¿Qué solicitud? Escriba ESTADO y el número de solicitud, p. ej. ESTADO 12345.",
        ),
    ],
)
def test_a_word_taken_for_a_number_and_not_found_says_how_to_ask(language, told):
    chat = city_chat(language)
    chat.send("status pothole")
    chat.feed(ReportsListed(()))
    assert texts_of(chat.feed(StatusFound("pothole"))) == [told]


@pytest.mark.parametrize(
    ("language", "told"),
    [
        ("", "Your reports:\nnnxoxfvi Pothole: open (Dec 4)"),
        ("es", "Sus reportes:\nnnxoxfvi Bache: open (4 dic)"),
    ],
)
def test_my_reports_days_are_on_the_citys_calendar_in_the_residents_language(language, told):
    chat = city_chat(language)
    chat.send("my reports")
    listed = ReportsListed((ReportLine("nnxoxfvi", "Pothole", "open", PAST_MIDNIGHT_UTC),))
    assert texts_of(chat.feed(listed)) == [told]
