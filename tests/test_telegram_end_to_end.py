"""A resident reports over Telegram, tapping buttons, from /start to the request number and back.

Everything is real: the Flask test client posting Updates with the secret token, Redis, SQLite
and PostgreSQL (each test runs on both), rq jobs in-process, the Open311 sandbox and its
geocoder, and python-telegram-bot's `Bot` sending to the Bot API stand-in.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.languages import load_languages
from bot.models import Contact, Message, Report
from conversations import texts
from tests.conftest import TELEGRAM_SECRET, run_jobs
from tests.fakes.telegram_api import callback_update, message_update, post_update, sent
from tests.test_end_to_end import POTHOLE, city_request, returning_resident, set_city_status
from webhooks import create_app

NEAR = r"Thanks, I have the location: near \d+ [A-Z][a-z]+ (Street|Avenue)"  # a pin read back

# What residents and cities see, end to end: PostgreSQL adds nothing here that the storage,
# job and guarantee modules do not already prove on it.
pytestmark = pytest.mark.sqlite_only

CHAT_ID = 412345678


class TelegramChat:
    """A resident's Telegram chat with the bot: Updates go in, the bot's messages come out."""

    def __init__(self, client, telegram_api, chat_id: int = CHAT_ID, returning: bool = True):
        self.client = client
        self.telegram_api = telegram_api
        self.chat_id = chat_id
        self.read = 0
        self.last: list[dict] = []
        if returning:  # has answered the one-time contact question before
            returning_resident(f"telegram:{chat_id}", "telegram")

    def post(self, update: dict) -> list[dict]:
        response = post_update(self.client, update, TELEGRAM_SECRET)
        assert response.status_code == 200
        self.answer = response.get_json(silent=True)
        run_jobs()
        return self.inbox()

    def say(self, text: str) -> list[dict]:
        """Send a text message; return the bot's messages (sendMessage parameters)."""
        return self.post(message_update(self.chat_id, text))

    def tap(self, label: str) -> list[dict]:
        """Tap the inline button labelled `label` on the bot's latest message that has it."""
        for params in reversed(self.last):
            for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        shown = {
                            "message_id": params["message_id"],
                            "date": 0,
                            "text": params["text"],
                            "reply_markup": params["reply_markup"],
                        }
                        update = callback_update(self.chat_id, button["callback_data"], shown)
                        messages = self.post(update)
                        assert self.answer == {
                            "method": "answerCallbackQuery",
                            "callback_query_id": update["callback_query"]["id"],
                        }
                        return messages
        raise AssertionError(f"no button {label!r} in {self.last}")

    def inbox(self) -> list[dict]:
        """Messages received since the last look."""
        mine = sent(self.telegram_api, self.chat_id)
        new, self.read = mine[self.read :], len(mine)
        if new:
            self.last = new
        return new


def buttons(params: dict) -> list[str]:
    """The labels of a message's inline buttons, row by row."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


@pytest.fixture
def chat(env, telegram_api):
    return TelegramChat(create_app({"TESTING": True}).test_client(), telegram_api)


def file_pothole_by_taps(chat) -> None:
    """File a pothole report from the menu, mostly by tapping buttons (the sure address is not
    read back; the optional questions are left in the summary)."""
    chat.say("/start")
    chat.tap("Pothole in Street")
    chat.say("120 Main St")
    chat.say("Deep hole in the right lane")
    chat.tap("Crosswalk")
    chat.tap("Yes")


def only_report() -> Report:
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        return report


def test_report_filed_with_buttons_and_status_update_delivered(chat):
    [menu] = chat.say("/start")
    assert menu["text"].startswith("Hi! What would you like to report?")
    assert "1 Pothole" not in menu["text"]  # buttons, not numbered lines
    assert "Pothole in Street" in buttons(menu)
    assert menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"

    [ask_where] = chat.tap("Pothole in Street")
    assert "Where is it?" in ask_where["text"]
    assert ask_where["reply_markup"]["keyboard"] == [
        [{"text": "Share location", "request_location": True}]
    ]
    assert ask_where["reply_markup"]["one_time_keyboard"] is True

    # The house typed was found: no Yes/No read-back, the next question at once, and the
    # "Share location" keyboard goes away.
    [ask_what] = chat.say("120 main st")
    assert ask_what["text"].startswith("Found: 120 Main Street, Springfield.")
    assert "describe the problem" in ask_what["text"]
    assert ask_what["reply_markup"] == {"remove_keyboard": True}

    [where_exactly] = chat.say("Deep hole in the right lane, cars swerving")
    assert where_exactly["text"].startswith("Where is the pothole?")
    assert "Crosswalk" in buttons(where_exactly)
    [offered] = chat.tap("Crosswalk")
    assert "2 120 Main Street, Springfield" in offered["text"]
    assert "4 to add details" in offered["text"]
    assert buttons(offered) == ["Yes", "No"]  # a returning resident: no Private button
    [how_deep] = chat.say("4")
    assert how_deep["text"].startswith("How deep is it")
    chat.say("about 6 inches")
    [summary] = chat.say("skip")
    assert "Deep hole in the right lane" in summary["text"]
    assert "4 to add details" not in summary["text"]
    assert buttons(summary) == ["Yes", "No"]

    thanks, filed = chat.tap("Yes")
    assert thanks["text"].startswith("Thanks! Sending your report")
    report = only_report()
    assert report.state == "submitted"
    assert f"Request number: {report.service_request_id}" in filed["text"]
    assert report.attributes == {"WHEREIS": "CROSSWALK", "HOWDEEP": "6"}
    city = city_request(report.service_request_id)
    assert city["service_code"] == POTHOLE
    assert city["address"] == "120 Main Street, Springfield"

    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        outbound = session.exec(select(Message).where(Message.direction == "out")).all()
    assert contact.address == f"telegram:{CHAT_ID}" and contact.channel == "telegram"
    assert {m.status for m in outbound} == {"sent"}
    assert all(m.external_id.startswith(f"{CHAT_ID}:") for m in outbound)

    set_city_status(report.service_request_id, "closed", "Patched by the streets crew.")
    assert jobs.track() == 1
    run_jobs()
    [update] = chat.inbox()
    assert update["text"] == (
        f"Update on request {report.service_request_id} (Pothole in Street): closed. "
        "Patched by the streets crew."
    )


def test_a_doubtful_address_is_read_back_with_yes_and_no_buttons(chat):
    chat.say("/start")
    chat.tap("Pothole in Street")
    [read_back] = chat.say("Main St")  # a street, no house number: not sure
    assert read_back["text"].startswith("I found: Main Street, Springfield.")
    assert buttons(read_back) == ["Yes", "No"]
    [ask_what] = chat.tap("Yes")
    assert "describe the problem" in ask_what["text"]
    assert ask_what["reply_markup"] == {"remove_keyboard": True}


def test_a_double_tap_on_yes_at_a_read_back_never_answers_the_summary_after_it(env, telegram_api):
    """Both taps reach us before the summary is delivered: the second is from an earlier
    message, so it neither files the report nor gives consent."""
    chat = TelegramChat(create_app({"TESTING": True}).test_client(), telegram_api, returning=False)
    chat.say("an abandoned car has been parked here for weeks")
    [read_back] = chat.say("Main St")  # a street only: read back with Yes and No
    yes = next(b for row in read_back["reply_markup"]["inline_keyboard"] for b in row)
    shown = {"message_id": read_back["message_id"], "date": 0, "text": read_back["text"]}
    for _ in range(2):  # the double tap, both in before any job runs
        update = callback_update(CHAT_ID, yes["callback_data"], shown)
        assert post_update(chat.client, update, TELEGRAM_SECRET).status_code == 200
    run_jobs()
    said = [message["text"] for message in chat.inbox()]
    assert any(text.startswith("Ready to send:") for text in said)
    assert "That button is from an earlier message." in said
    with session_scope() as session:
        assert session.exec(select(Report)).all() == []
        contact = session.exec(select(Contact)).one()
        assert contact.contact_consent is None


def test_a_new_residents_first_summary_offers_yes_private_and_no(env, telegram_api):
    """Consent is asked once, in the first summary: a Private button sends without the
    resident's contact details, and is remembered."""
    chat = TelegramChat(create_app({"TESTING": True}).test_client(), telegram_api, returning=False)
    chat.say("/start")
    chat.tap("Pothole in Street")
    chat.say("120 Main St")
    chat.say("Deep hole in the right lane")
    first = chat.tap("Crosswalk")
    assert first[0]["text"].startswith("Ready to send:")
    assert first[-1]["text"].endswith(texts.CONFIRM_CONSENT)
    assert buttons(first[-1]) == ["Yes", "Private", "No"]
    thanks, filed = chat.tap("Private")
    assert thanks["text"] == texts.SENDING
    report = only_report()
    assert f"Request number: {report.service_request_id}" in filed["text"]
    with session_scope() as session:
        assert session.exec(select(Contact)).one().contact_consent is False

    chat.say("pothole at 120 Main St, deep hole in the right lane")
    [summary] = chat.tap("Crosswalk")
    assert texts.CONFIRM_CONSENT not in summary["text"]
    assert buttons(summary) == ["Yes", "No"]


def test_deep_link_payload_starts_the_report(chat):
    [ask_where] = chat.say("/start pothole")
    assert ask_where["text"].startswith("Got it: Pothole in Street. Where is it?")


def test_commands_work_as_telegram_commands(chat):
    chat.say("/start")
    [help_text] = chat.say("/help")[:1]
    assert "STATUS" in help_text["text"]
    [cancelled] = chat.say("/restart")
    assert cancelled["text"].startswith("Report cancelled")
    file_pothole_by_taps(chat)
    number = only_report().service_request_id
    [status] = chat.say(f"/status {number}")
    assert status["text"].startswith(f"Request {number} (Pothole in Street): open")
    [mine] = chat.say("/myreports")
    assert mine["text"].startswith(f"Your reports:\n{number} Pothole in Street: open")
    [languages] = chat.say("/language")
    assert buttons(languages)[:2] == ["English", "Espa\u00f1ol"]
    spanish = load_languages()["es"]
    switched = chat.tap("Espa\u00f1ol")
    said = spanish(texts.LANGUAGE_SET).format(language=spanish.name)
    assert switched[0]["text"].startswith(said)
    # A sure address: no read-back, and the next question in the same message (a Telegram
    # message holds what takes two SMS).
    [found] = chat.say("bache en 120 Main St")
    assert found["text"].startswith(
        spanish(texts.ADDRESS_TAKEN).format(address="120 Main Street, Springfield")
    )
    assert spanish(texts.ASK_DESCRIPTION) in found["text"]
    [menu] = chat.say("/back")  # the menu it was answering, in Spanish
    assert menu["text"].startswith(spanish(texts.MENU_ASK))
    assert spanish.service("Pothole in Street") in buttons(menu)
    chat.tap(spanish.service("Pothole in Street"))
    [read_back] = chat.say("Main St")  # a street without a house: read back, in Spanish
    assert buttons(read_back) == [spanish(texts.YES_BUTTON), spanish(texts.NO_BUTTON)]
    assert spanish(texts.YES_BUTTON) != texts.YES_BUTTON


def test_blocked_bot_marks_the_contact_stopped_without_retries(chat, telegram_api):
    telegram_api.config["BLOCKED"].add(CHAT_ID)
    assert chat.say("/start") == []
    with session_scope() as session:
        # Refused as blocked: not retried, and only the opt-out is kept (bot.forget).
        assert session.exec(select(Message)).all() == []
        [contact] = session.exec(select(Contact)).all()
    assert contact.opted_out and contact.address is None
    assert run_jobs(include_delayed=True) == 0
    tries = [c for c in telegram_api.config["CALLS"] if c["method"] == "sendMessage"]
    assert len(tries) == 1


def test_flood_control_429_is_retried(chat, telegram_api):
    telegram_api.config["RETRY_AFTER"][CHAT_ID] = 1
    assert chat.say("/start") == []
    with session_scope() as session:
        [out] = session.exec(select(Message).where(Message.direction == "out")).all()
    # refused for rate: no attempt spent (bot.jobs.delivery)
    assert (out.status, out.error_code, out.attempts) == ("pending", "429", 0)
    run_jobs(include_delayed=True)
    [menu] = chat.inbox()
    assert "Pothole in Street" in buttons(menu)
    with session_scope() as session:
        assert session.get(Message, out.id).status == "sent"


def test_report_filed_with_a_pin_a_photo_and_taps(chat):
    from tests.fakes.telegram_api import fixture

    chat.say("/start")
    [ask_where] = chat.tap("Pothole in Street")
    assert ask_where["reply_markup"]["keyboard"][0][0]["request_location"] is True

    # The resident taps "Share location": Telegram sends the pin as a message.
    [taken] = chat.post(
        message_update(CHAT_ID, location={"latitude": 39.8001, "longitude": -89.6455})
    )
    assert re.match(NEAR, taken["text"])
    assert "describe the problem" in taken["text"]

    photo = fixture("photo")["message"]
    [where_exactly] = chat.post(
        message_update(CHAT_ID, photo=photo["photo"], caption="Deep hole, see photo")
    )
    assert where_exactly["text"].startswith("Where is the pothole?")
    [summary] = chat.tap("Next to the curb")
    assert "Main Street" in summary["text"]  # the pin, named by reverse geocoding
    assert buttons(summary) == ["Yes", "No"]

    thanks, filed = chat.tap("Yes")
    report = only_report()
    assert (
        report.state == "submitted"
        and f"Request number: {report.service_request_id}" in (filed["text"])
    )
    assert (report.lat, report.lon) == (39.8001, -89.6455)
    largest = max(photo["photo"], key=lambda size: size["width"] * size["height"])
    assert report.media == [f"telegram-file:{largest['file_id']}"]
    assert report.description == "Deep hole, see photo"
    city = city_request(report.service_request_id)
    assert float(city["lat"]) == pytest.approx(39.8001)

    set_city_status(report.service_request_id, "closed", "Filled.")
    jobs.track()
    run_jobs()
    [update] = chat.inbox()
    assert update["text"].endswith("closed. Filled.")


def test_start_mid_report_begins_afresh(chat):
    chat.say("/start")
    chat.tap("Pothole in Street")
    [menu] = chat.say("/start")
    assert menu["text"].startswith("Hi! What would you like to report?")
    with session_scope() as session:
        from bot.models import Conversation

        assert session.exec(select(Conversation)).one().state["name"] == "service"


@pytest.mark.parametrize("word", ["stop", "/stop", "CANCEL", "unsubscribe"])
def test_stop_then_start_turns_messages_back_on(chat, word):
    [confirmed] = chat.say(word)  # no carrier confirms on Telegram: the bot does, once
    assert confirmed["text"] == texts.OPTED_OUT
    assert chat.say("hello?") == []
    [menu] = chat.say("/start")  # no carrier confirms on Telegram: the bot greets them
    assert "Pothole in Street" in buttons(menu)


def test_yes_also_turns_messages_back_on(chat):
    chat.say("STOP")
    assert chat.say("pothole") == []
    [menu] = chat.say("yes")
    assert "Pothole in Street" in buttons(menu)


def test_a_button_from_an_earlier_question_is_not_taken_as_an_answer(chat):
    [menu] = chat.say("/start")
    chat.tap("Pothole in Street")
    chat.say("120 main st")  # a sure address: the description is asked next
    old_menu_graffiti = next(
        b
        for row in menu["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Graffiti Removal"
    )
    chat.last = [menu]  # the resident scrolls up and taps the first menu
    [old, again] = chat.tap("Graffiti Removal")
    assert old["text"] == "That button is from an earlier message."
    assert "describe the problem" in again["text"]
    with session_scope() as session:
        from bot.models import Conversation

        state = session.exec(select(Conversation)).one().state
    assert state["name"] == "description" and "description" not in state["draft"]
    assert old_menu_graffiti["callback_data"] == "3"


def test_a_long_flood_wait_is_honoured_and_does_not_use_up_the_tries(chat, telegram_api):
    from datetime import timedelta

    from bot.timeutil import utcnow

    telegram_api.config["RETRY_AFTER"][CHAT_ID] = 60
    assert chat.say("/start") == []
    with session_scope() as session:
        [out] = session.exec(select(Message).where(Message.direction == "out")).all()
    assert out.status == "pending" and out.next_attempt_at >= utcnow() + timedelta(seconds=55)


@pytest.mark.parametrize(
    "media_url, method",
    [
        ("https://311.springfield.example/photos/after.jpg", "sendPhoto"),
        ("https://photos.invalid/after.jpg", "sendMessage"),
    ],
    ids=["photo shown", "unfetchable photo: the words still go"],
)
def test_a_status_update_with_the_citys_photo(chat, media_url, method):
    file_pothole_by_taps(chat)
    report = only_report()
    entry = {
        "service_request_id": report.service_request_id,
        "status": "closed",
        "status_notes": "Filled.",
        "media_url": media_url,
    }
    assert jobs.receive_status(report.id, entry)
    run_jobs()
    [update] = chat.inbox()
    assert update["method"] == method
    text = update.get("caption") or update.get("text")
    assert text.endswith("closed. Filled.")
    if method == "sendPhoto":
        assert update["photo"] == media_url


def test_the_citys_long_notes_arrive_whole_on_telegram(chat):
    """An SMS notice cuts the city's notes to fit its segments; a Telegram message holds them."""
    file_pothole_by_taps(chat)
    number = only_report().service_request_id
    notes = " ".join(["The crew patched the hole and will return to resurface the lane."] * 9)
    assert len(notes) > 3 * 160  # more than any SMS notice may take
    set_city_status(number, "closed", notes)
    jobs.track()
    run_jobs()
    [update] = chat.inbox()
    assert update["text"].endswith(f"closed. {notes}")
