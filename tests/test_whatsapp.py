"""WhatsApp through Twilio: Twilio's signed webhook in (the SMS channel's route), the Messages API
out to the Twilio stand-in, and WhatsApp's 24-hour window: free words inside it, a notice's
approved template outside it, and what cannot go recorded as failed for staff.

Everything is real: the Flask test client, Redis, SQLite (and PostgreSQL where the window's
time arithmetic is stored and read), rq jobs run in-process, the Open311 sandbox and its
geocoder, the twilio client against tests/fakes/twilio_api.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select
from twilio.base.exceptions import TwilioRestException

from bot import jobs
from bot.channels import sms, whatsapp
from bot.channels.base import MalformedInbound, Outgoing, SendError, WebRequest
from bot.channels.registry import channel_for
from bot.channels.twilio_http import make_client
from bot.db import session_scope
from bot.failures import list_failures, retry_all
from bot.models import Contact, Message, Report
from bot.pacing import buckets_for
from bot.payloads import OutboundPayload, ReplyIntent
from bot.personal_data import address_key
from bot.settings import Settings, get_settings
from tests.conftest import PUBLIC_BASE_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, run_jobs
from tests.test_end_to_end import set_city_status
from tests.twilio_webhooks import fixture, post_signed, sms_form
from webhooks import create_app

NUMBER = "+13125550142"
ADDRESS = f"whatsapp:{NUMBER}"
SENDER = "whatsapp:+13125550100"
TEMPLATE = "HX" + "0123456789abcdef" * 2
PHOTO = "https://city.example.org/photos/pothole-patched.jpg"

_sids = iter(range(1, 10**6))


def whatsapp_form(body: str = "", base: str = "whatsapp_text", **fields: str) -> dict:
    """A WhatsApp webhook form built on a recorded one, with a new MessageSid."""
    form = fixture(base)
    sid = f"SM{next(_sids):032x}"
    form.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid, Body=body)
    form.update(fields)
    return form


def call(form: dict, subpath: str = "") -> WebRequest:
    """A webhook call as the generic route hands it to the SMS channel."""
    return WebRequest(
        method="POST",
        url="http://127.0.0.1/webhooks/twilio" + subpath,
        path="/webhooks/twilio" + subpath,
        query_string="",
        subpath=subpath,
        query={},
        headers={},
        form=form,
        body=b"",
    )


def configure(monkeypatch, **values: str) -> Settings:
    """The WhatsApp sender (and any other settings given), not paced."""
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", SENDER)
    monkeypatch.setenv("WHATSAPP_SENDS_PER_SECOND", "0")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


class Resident:
    """A resident's WhatsApp (or, with `sms`, their phone's texts): messages go in as signed
    webhooks, the bot's messages come out of the Twilio stand-in."""

    def __init__(self, client, twilio_api, sms: bool = False):
        self.client = client
        self.twilio_api = twilio_api
        self.sms = sms
        self.to = NUMBER if sms else ADDRESS
        self.read = 0

    def send(self, body: str = "", base: str = "whatsapp_text", **fields: str) -> list[dict]:
        """Send a message, let the workers run, and return the forms Twilio was posted for
        this resident since the last look."""
        form = sms_form(body, NUMBER) if self.sms else whatsapp_form(body, base, **fields)
        response = post_signed(self.client, "/webhooks/twilio", form)
        assert response.status_code == 200
        assert b"<Response></Response>" in response.data  # the SMS channel's empty TwiML
        run_jobs()
        return self.inbox()

    def inbox(self) -> list[dict]:
        sent = [s["form"] for s in self.twilio_api.config["SENT"] if s["form"]["To"] == [self.to]]
        new, self.read = sent[self.read :], len(sent)
        return new


def returning(address: str, channel: str) -> None:
    """A contact who already answered whether the city may contact them."""
    with session_scope() as session:
        key = address_key(address)
        if not session.exec(select(Contact).where(Contact.address_key == key)).first():
            session.add(
                Contact(address=address, address_key=key, channel=channel, contact_consent=False)
            )


@pytest.fixture
def resident(env, twilio_api, monkeypatch):
    configure(monkeypatch)
    returning(ADDRESS, "whatsapp")
    return Resident(create_app({"TESTING": True}).test_client(), twilio_api)


@pytest.fixture
def quick_resident(sqlite_env, twilio_api, monkeypatch):
    """As `resident`, on SQLite alone (where the database does not matter)."""
    configure(monkeypatch)
    returning(ADDRESS, "whatsapp")
    return Resident(create_app({"TESTING": True}).test_client(), twilio_api)


def body(form: dict) -> str:
    [text] = form["Body"]
    return text


def only_report() -> Report:
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        return report


def outbound() -> list[Message]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()
        )


def file_a_report(resident: Resident) -> Report:
    """A pothole at 120 Main St, filed from WhatsApp."""
    [where] = resident.send("there is a big pothole outside 120 Main St, two feet wide")
    assert body(where).startswith("Found: 120 Main Street, Springfield. Where is the pothole?")
    [summary] = resident.send("1")
    assert body(summary).startswith("Ready to send:")
    resident.send("YES")
    report = only_report()
    assert report.state == "submitted"
    return report


def quiet_for(hours: float) -> None:
    """Move every message the resident sent `hours` into the past."""
    with session_scope() as session:
        for message in session.exec(select(Message).where(Message.direction == "in")):
            message.created_at -= timedelta(hours=hours)


# --- reading Twilio's form ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "media", "location", "place_name"),
    [
        ("whatsapp_text", "There's a big pothole in front of 1200 W Fullerton Ave", (), None, ""),
        ("whatsapp_location", "", (), (39.798352, -89.654432), "Springfield Public Library"),
        (
            "whatsapp_media",
            "Deep hole in the right lane",
            (fixture("whatsapp_media")["MediaUrl0"],),
            None,
            "",
        ),
    ],
)
def test_each_recorded_message_is_the_whatsapp_channels(name, text, media, location, place_name):
    form = fixture(name)
    [event] = sms.CHANNEL.parse(call(form))
    assert (event.channel, event.address, event.external_id) == (
        "whatsapp",
        ADDRESS,
        form["MessageSid"],
    )
    assert event.text == text
    assert event.payload.media == media
    assert event.payload.location == location and event.payload.place_name == place_name
    assert event.payload.reply_to is None
    # Ids and counts only: never the name the resident gave WhatsApp, nor their WhatsApp id.
    assert event.payload.raw["MessageType"] == form["MessageType"]
    kept = json.dumps(event.payload.raw)
    assert "ProfileName" not in kept and "Ana Lima" not in kept
    assert "WaId" not in kept and "13125550142" not in kept


def test_an_sms_from_the_same_number_stays_an_sms():
    [event] = sms.CHANNEL.parse(call(fixture("inbound_sms")))
    assert (event.channel, event.address) == ("sms", "tel:+13125550142")


def test_a_pin_without_a_label_is_named_by_its_address_or_not_at_all():
    form = fixture("whatsapp_location")
    del form["Label"]
    [event] = sms.CHANNEL.parse(call(form))
    assert event.payload.place_name == "Oak Avenue, Springfield"
    del form["Address"]
    [event] = sms.CHANNEL.parse(call(form))
    assert event.payload.location == (39.798352, -89.654432) and event.payload.place_name == ""


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [("95.0", "10.0"), ("10.0", "-181"), ("nan", "1"), ("1e400", "1"), ("", "1"), ("abc", "1")],
)
def test_a_pin_off_the_globe_or_not_a_number_is_left_out(latitude, longitude):
    form = fixture("whatsapp_location") | {"Latitude": latitude, "Longitude": longitude}
    [event] = sms.CHANNEL.parse(call(form))
    assert event.payload.location is None and event.payload.place_name == ""


def test_a_tap_on_a_templates_button_is_read_as_the_words_its_id_stands_for():
    form = fixture("whatsapp_text") | {
        "Body": "Stop updates",
        "ButtonText": "Stop updates",
        "ButtonPayload": "STOP",
        "MessageType": "button",
        "OriginalRepliedMessageSid": "SM" + "e" * 32,
    }
    [event] = sms.CHANNEL.parse(call(form))
    # The template's button id (STOP opts out), and no answer to an earlier question of ours:
    # the bot's own WhatsApp messages carry no buttons, so the tap is never "stale".
    assert event.text == "STOP" and event.payload.reply_to is None
    del form["ButtonPayload"]
    [event] = sms.CHANNEL.parse(call(form))
    assert event.text == "Stop updates"
    # A quoted reply names the message it quotes, but is only words: no button was tapped.
    quoted = fixture("whatsapp_text") | {"OriginalRepliedMessageSid": "SM" + "e" * 32}
    [event] = sms.CHANNEL.parse(call(quoted))
    assert event.payload.reply_to is None


@pytest.mark.parametrize("sender", ["whatsapp:", "whatsapp: +1 312", "whatsapp:+1\x00"])
def test_a_sender_that_is_no_whatsapp_address_is_malformed(sender):
    with pytest.raises(MalformedInbound):
        whatsapp.parse_inbound(fixture("whatsapp_text") | {"From": sender})


def test_a_whatsapp_messages_status_is_the_whatsapp_channels():
    form = fixture("status_delivered") | {"To": ADDRESS, "From": SENDER}
    [status] = sms.CHANNEL.parse(call(form, "/status"))
    assert (status.channel, status.status) == ("whatsapp", "delivered")
    refused = form | {"MessageStatus": "failed", "ErrorCode": "21610"}
    [status] = sms.CHANNEL.parse(call(refused, "/status"))
    assert status.opted_out_address == ADDRESS
    window = form | {"MessageStatus": "failed", "ErrorCode": "63016"}
    [status] = sms.CHANNEL.parse(call(window, "/status"))
    assert (status.channel, status.status, status.error_code) == ("whatsapp", "failed", "63016")


# --- the webhook ------------------------------------------------------------------------------


def test_a_signed_whatsapp_message_is_stored_without_the_residents_profile(quick_resident):
    form = whatsapp_form("pothole", ProfileName="Ana Lima", WaId="13125550142")
    response = post_signed(quick_resident.client, "/webhooks/twilio", form)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    with session_scope() as session:
        [message] = session.exec(select(Message).where(Message.direction == "in")).all()
        contact = session.get(Contact, message.contact_id)
        stored = json.dumps(
            {"text": message.text, "payload": message.payload, "channel": message.channel}
        )
    assert (contact.channel, contact.address) == ("whatsapp", ADDRESS)
    assert message.channel == "whatsapp" and message.external_id == form["MessageSid"]
    assert message.text == "pothole"
    assert "Ana Lima" not in stored and "ProfileName" not in stored
    assert "13125550142" not in stored and "WaId" not in stored


def test_an_unsigned_whatsapp_message_is_refused(quick_resident):
    response = quick_resident.client.post("/webhooks/twilio", data=whatsapp_form("pothole"))
    assert response.status_code == 403
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []


# --- a report from WhatsApp --------------------------------------------------------------------


def test_a_report_filed_from_whatsapp_with_a_shared_pin(resident, twilio_api):
    [menu] = resident.send("hi")
    assert menu["From"] == [SENDER] and menu["To"] == [ADDRESS]
    assert "*1.* Pothole in Street" in body(menu)  # WhatsApp's bold, the number in it

    [ask_where] = resident.send("1")
    assert "Where is it?" in body(ask_where)
    assert body(ask_where).endswith("To send a pin: tap 📎 (or +), then Location.")

    # The resident shares a place from WhatsApp's attachment menu.
    [taken] = resident.send(base="whatsapp_location")
    assert body(taken).startswith("Thanks, I have the location: near Springfield Public Library.")
    [where_exactly] = resident.send("Deep hole in the right lane, cars swerving")
    assert where_exactly["Body"][0].startswith("Where is the pothole?")
    [summary] = resident.send("1")
    assert body(summary).startswith("Ready to send:")
    assert "Springfield Public Library" in body(summary)

    thanks, filed = resident.send("YES")
    report = only_report()
    assert report.state == "submitted"
    assert (report.lat, report.lon) == (39.798352, -89.654432)
    assert f"Request number: {report.service_request_id}" in body(filed)
    from tests.test_end_to_end import city_request

    city = city_request(report.service_request_id)
    assert float(city["lat"]) == pytest.approx(39.798352)
    assert float(city["long"]) == pytest.approx(-89.654432)
    # Every reply went back on WhatsApp, from the WhatsApp sender, with our status callback.
    sends = twilio_api.config["SENT"]
    assert {s["form"]["To"][0] for s in sends} == {ADDRESS}
    assert {s["form"]["From"][0] for s in sends} == {SENDER}
    assert all(
        s["form"]["StatusCallback"][0].startswith(f"{PUBLIC_BASE_URL}/webhooks/twilio/status")
        for s in sends
    )


def test_a_yes_no_question_shows_its_answers_in_bold():
    settings = Settings()
    out = Outgoing(
        1,
        ADDRESS,
        "I found: 120 Main Street. Is that right? Reply YES or NO.",
        OutboundPayload(
            ReplyIntent("I found: 120 Main Street. Is that right? Reply YES or NO.", (), "yes_no")
        ),
    )
    assert whatsapp.formatted(out, settings) == (
        "I found: 120 Main Street. Is that right? Reply *YES* or *NO*."
    )
    spanish = Outgoing(
        1,
        ADDRESS,
        "",
        OutboundPayload(ReplyIntent("¿Es en 120 Main St? Responda SÍ o NO.", (), "yes_no", "es")),
    )
    assert whatsapp.formatted(spanish, settings) == "¿Es en 120 Main St? Responda *SÍ* o *NO*."
    # The resident's own words quoted in a summary keep their capitals unformatted.
    summary = (
        "Ready to send:\n1 Pothole\n2 NO PARKING sign down\nReply YES to send or NO to drop it."
    )
    out = Outgoing(1, ADDRESS, summary, OutboundPayload(ReplyIntent(summary, (), "yes_no")))
    assert whatsapp.formatted(out, settings) == (
        "Ready to send:\n1 Pothole\n2 NO PARKING sign down\nReply *YES* to send or *NO* to drop it."
    )
    # Words in capitals that are no answer stay as they are; a reply with none is unchanged.
    plain = OutboundPayload(ReplyIntent("Text STATUS any time.", (), "text"))
    assert whatsapp.formatted(Outgoing(1, ADDRESS, "", plain), settings) == (
        "Text STATUS any time."
    )


def test_the_same_number_on_sms_and_whatsapp_is_two_contacts(quick_resident, twilio_api):
    phone = Resident(quick_resident.client, twilio_api, sms=True)
    returning(f"tel:{NUMBER}", "sms")
    [on_whatsapp] = quick_resident.send("hi")
    [on_sms] = phone.send("hi")
    assert (on_whatsapp["To"], on_whatsapp["From"]) == ([ADDRESS], [SENDER])
    assert (on_sms["To"], on_sms["From"]) == ([NUMBER], [TWILIO_FROM])
    assert "*1.* Pothole in Street" in body(on_whatsapp)
    assert "1 Pothole in Street" in body(on_sms) and "*" not in body(on_sms)
    with session_scope() as session:
        contacts = {c.address: c.channel for c in session.exec(select(Contact))}
    assert contacts == {ADDRESS: "whatsapp", f"tel:{NUMBER}": "sms"}


# --- the 24-hour window ------------------------------------------------------------------------


def test_a_status_update_after_24_hours_goes_as_its_template(resident, twilio_api, monkeypatch):
    report = file_a_report(resident)
    configure(monkeypatch, WHATSAPP_TEMPLATE_STATUS=TEMPLATE)
    quiet_for(25)

    set_city_status(report.service_request_id, "closed", "Patched by the\nstreets crew.")
    assert jobs.track() == 1
    run_jobs()
    [update] = resident.inbox()
    assert update["ContentSid"] == [TEMPLATE] and "Body" not in update
    assert (update["To"], update["From"]) == ([ADDRESS], [SENDER])
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "sent"
    assert json.loads(update["ContentVariables"][0]) == {
        "1": report.service_request_id,
        "2": "Pothole in Street",
        "3": "closed",
        "4": "Patched by the streets crew.",  # on one line, as WhatsApp takes a variable
        "5": " ".join(notice.text.split()),
    }


def send_status_photo(report: Report) -> int:
    """The city's status update with its photo, stored as the status check stores it and sent;
    its message id."""
    with session_scope() as session:
        notice = jobs.common.add_notice(
            session,
            session.get(Report, report.id),
            "Update on request 1: closed.",
            media_url=PHOTO,
            status=True,
            kind="status",
            values={"status": "closed"},
        )
        notice_id = notice.id
    jobs.deliver(notice_id)
    return notice_id


def test_a_status_update_within_24_hours_is_free_words_with_the_photo(
    resident, twilio_api, monkeypatch
):
    report = file_a_report(resident)
    configure(monkeypatch, WHATSAPP_TEMPLATE_STATUS=TEMPLATE)
    quiet_for(23)
    send_status_photo(report)
    [update] = resident.inbox()
    assert body(update) == "Update on request 1: closed." and update["MediaUrl"] == [PHOTO]
    assert "ContentSid" not in update


def test_a_notice_after_24_hours_without_a_template_is_failed_for_staff(resident, twilio_api):
    report = file_a_report(resident)
    sent_before = len(twilio_api.config["SENT"])
    quiet_for(25)

    set_city_status(report.service_request_id, "closed", "Patched.")
    jobs.track()
    run_jobs(include_delayed=True)
    assert len(twilio_api.config["SENT"]) == sent_before  # nothing went out
    [notice] = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert notice.status == "failed" and notice.error_code == "63016"
    [failure] = [f for f in list_failures() if f.name == f"send:{notice.id}"]
    assert failure.what.endswith("on whatsapp") and failure.error == "63016"
    assert "set WHATSAPP_TEMPLATE_STATUS" in failure.hint  # staff are told what to do


def test_a_reply_is_never_a_template(quick_resident, twilio_api, monkeypatch):
    configure(monkeypatch, WHATSAPP_TEMPLATE_STATUS=TEMPLATE)
    out = Outgoing(7, ADDRESS, "Hi!", OutboundPayload(ReplyIntent("Hi!")), last_inbound_at=None)
    with pytest.raises(SendError) as refused:
        whatsapp.CHANNEL.send(out, get_settings())
    assert refused.value.code == "63016" and not refused.value.retryable
    assert "outside WhatsApp's 24-hour window and no template for replies" in str(refused.value)
    old = datetime.now(UTC) - timedelta(hours=24) + timedelta(minutes=3)  # within the margin
    with pytest.raises(SendError):
        whatsapp.CHANNEL.send(Outgoing(7, ADDRESS, "Hi!", last_inbound_at=old), get_settings())
    assert twilio_api.config["SENT"] == []


def test_twilios_own_63016_leaves_the_message_failed_for_staff(quick_resident, twilio_api):
    twilio_api.config["WINDOW_CLOSED"].add(ADDRESS)
    [menu] = quick_resident.send("hi")  # accepted by Twilio, then failed
    [callback] = twilio_api.config["CALLBACKS"]
    path = callback["url"].removeprefix(PUBLIC_BASE_URL)
    assert post_signed(quick_resident.client, path, callback["form"]).status_code == 204
    [reply] = outbound()
    assert reply.status == "failed" and reply.error_code == "63016"
    assert f"send:{reply.id}" in {f.name for f in list_failures()}


def test_a_send_whose_answer_was_lost_is_found_not_sent_again(quick_resident, twilio_api):
    twilio_api.config["LOSE_ANSWERS"] = 1
    quick_resident.send("hi")
    [menu] = outbound()
    assert menu.status == "pending" and menu.attempts == 1
    run_jobs(include_delayed=True)
    [menu] = outbound()
    [sent] = [s for s in twilio_api.config["SENT"] if s["form"]["To"] == [ADDRESS]]
    assert menu.status == "sent" and menu.external_id == sent["sid"]


# --- opting out ---------------------------------------------------------------------------------


def test_stop_is_confirmed_once_then_nothing_is_sent(quick_resident):
    [menu] = quick_resident.send("hi")
    [confirmed] = quick_resident.send("STOP")  # Twilio does not answer it on WhatsApp: we do
    assert body(confirmed) == "You will get no more messages from us. Send START to come back."
    assert confirmed["To"] == [ADDRESS]
    assert quick_resident.send("hi") == []
    assert quick_resident.send("pothole at 120 Main St") == []
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
    assert contact.opted_out


# --- the channel's settings and pace ----------------------------------------------------------


def test_whatsapp_is_paced_per_sender():
    settings = Settings(twilio_whatsapp_from=SENDER)
    [bucket] = buckets_for("whatsapp", ADDRESS, settings)
    assert bucket.key.endswith(f":whatsapp:{SENDER}") and bucket.rate == 80
    service = Settings(twilio_messaging_service_sid="MG" + "1" * 32, whatsapp_sends_per_second=0)
    assert buckets_for("whatsapp", ADDRESS, service) == ()


@pytest.mark.parametrize(
    "setting",
    [
        {"twilio_whatsapp_from": "+14155238886"},
        {"twilio_whatsapp_from": "whatsapp:14155238886"},
        {"whatsapp_template_status": "HX123"},
        {"whatsapp_template_filed": "MG" + "0" * 32},
    ],
)
def test_a_sender_or_template_not_in_twilios_form_is_refused(setting):
    with pytest.raises(ValidationError):
        Settings(**setting)


def test_template_variables_follow_the_documented_numbering():
    values = {"number": "2026-00042", "service": "Pothole", "reason": "", "text": "a\tb\n c"}
    assert whatsapp.template_variables("rejected", values) == {
        "1": "Pothole",
        "2": "-",  # WhatsApp refuses an empty variable
        "3": "a b c",
    }
    assert whatsapp.template_variables("unknown", values) == {}
    # WhatsApp refuses a template past 1024 characters with its variables (63021): long notes
    # are cut, with an ellipsis, so the variables together keep to MAX_VARIABLES.
    long = {"number": "42", "service": "Pothole", "status": "open", "notes": "n " * 600}
    long["text"] = "Update on request 42: open. " + long["notes"]
    variables = whatsapp.template_variables("status", long)
    assert sum(map(len, variables.values())) <= whatsapp.MAX_VARIABLES
    assert variables["1"] == "42" and variables["3"] == "open"
    assert variables["4"].endswith("…") and variables["5"].endswith("…")
    assert set(whatsapp.TEMPLATE_VARIABLES) == {"filed", "status", "delayed", "saved", "rejected"}


def test_a_notices_kind_and_values_are_stored_and_read_back():
    payload = OutboundPayload(notice="filed", values={"number": "1", "text": "Filed."})
    assert OutboundPayload.from_dict(payload.to_dict()) == payload
    assert OutboundPayload.from_dict({}).values == {} and OutboundPayload.from_dict({}).notice == ""


def test_whatsapp_is_registered_without_a_webhook_of_its_own():
    channel = channel_for("whatsapp")
    assert channel is whatsapp.CHANNEL and channel.webhook_path is None
    assert channel.abilities.reply_window == timedelta(hours=24)
    assert not channel.abilities.carrier_keywords and channel.abilities.finds_sent
    assert "STOP" in channel.abilities.opt_out_words


# --- the Twilio stand-in takes what Twilio takes ------------------------------------------------


def test_the_stand_in_refuses_what_twilio_refuses_for_whatsapp(twilio_server):
    client = make_client(TWILIO_SID, TWILIO_TOKEN, api_base=twilio_server.url)
    tries = [
        ({"content_sid": "HX1234"}, 21655),
        ({"content_sid": TEMPLATE, "content_variables": "[1, 2]"}, 21656),
        ({"body": "hi", "content_variables": "{}"}, 21654),
        ({"body": "hi", "from_": TWILIO_FROM}, 21910),  # an SMS number to a WhatsApp address
    ]
    for params, code in tries:
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(**({"to": ADDRESS, "from_": SENDER} | params))
        assert refused.value.code == code


# --- status photos on SMS -----------------------------------------------------------------------


def test_an_sms_status_photo_goes_as_mms(sqlite_env, twilio_api):
    out = Outgoing(5, f"tel:{NUMBER}", "Update: closed.", OutboundPayload(media_url=PHOTO))
    sms.CHANNEL.send(out, get_settings())
    [sent] = twilio_api.config["SENT"]
    assert sent["form"]["MediaUrl"] == [PHOTO] and sent["form"]["Body"] == ["Update: closed."]
    assert sent["sid"].startswith("MM")


def test_without_mms_an_sms_status_photo_is_its_link(sqlite_env, twilio_api, monkeypatch):
    monkeypatch.setenv("TWILIO_MMS", "false")
    get_settings.cache_clear()
    out = Outgoing(5, f"tel:{NUMBER}", "Update: closed.", OutboundPayload(media_url=PHOTO))
    sms.CHANNEL.send(out, get_settings())
    long = Outgoing(6, f"tel:{NUMBER}", "x" * 1600, OutboundPayload(media_url=PHOTO))
    sms.CHANNEL.send(long, get_settings())
    first, second = (s["form"] for s in twilio_api.config["SENT"])
    assert "MediaUrl" not in first and first["Body"] == [f"Update: closed.\n{PHOTO}"]
    [cut] = second["Body"]
    assert len(cut) == 1600 and cut.endswith(f"…\n{PHOTO}")


# --- a photo from WhatsApp reaches the city ------------------------------------------------------


def test_a_whatsapp_photo_reaches_the_city_without_credentials(
    quick_resident, twilio_server, twilio_api
):
    from tests.fakes.twilio_api import add_media
    from tests.test_end_to_end import city_request
    from tests.test_media_end_to_end import opened_by_the_city, phone_jpeg

    url = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=None))
    replies = quick_resident.send(
        "pothole outside 120 Main St, two feet wide",
        base="whatsapp_media",
        MediaUrl0=url,
    )
    [where] = replies
    assert "*1.* Traffic lane" in body(where)
    # Fetched with the account's credentials at the API host only, then from the "CDN".
    requests = twilio_api.config["MEDIA_REQUESTS"]
    assert [r["authorized"] for r in requests] == [True, False]
    [summary] = quick_resident.send("1")
    assert body(summary).startswith("Ready to send:")
    quick_resident.send("YES")
    report = only_report()
    assert report.state == "submitted"
    at_city = city_request(report.service_request_id)
    assert at_city["media_url"].startswith(f"{PUBLIC_BASE_URL}/media/")
    image = opened_by_the_city(quick_resident.client, at_city["media_url"])
    assert image.size == (640, 480)


def test_production_refuses_a_whatsapp_sender_without_the_webhooks_secret():
    from bot.production import problems

    found = problems(Settings(twilio_whatsapp_from=SENDER, twilio_auth_token=""))
    assert any("TWILIO_WHATSAPP_FROM is set" in problem for problem in found)


def test_staff_setting_the_template_then_retrying_sends_each_failed_notice_once(
    quick_resident, twilio_api, monkeypatch
):
    # Found in review: two notices refused outside the window, then retried once a template
    # was set, went out as one send (the second took the first's SID and stuck "sending").
    report = file_a_report(quick_resident)
    quiet_for(25)
    jobs.track()
    run_jobs(include_delayed=True)
    for status, notes in (("open", "Crew assigned."), ("closed", "Patched.")):
        set_city_status(report.service_request_id, status, notes)
        jobs.track()
        run_jobs(include_delayed=True)
        with session_scope() as session:  # the city's updates came hours apart
            for message in session.exec(select(Message).where(Message.direction == "out")):
                message.created_at -= timedelta(hours=3)
    notices = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert [(m.status, m.error_code) for m in notices] == [("failed", "63016")] * 2

    configure(monkeypatch, WHATSAPP_TEMPLATE_STATUS=TEMPLATE)  # what the failure's hint says
    before = len(twilio_api.config["SENT"])
    assert sorted(retry_all()) == sorted(f"send:{m.id}" for m in notices)
    run_jobs(include_delayed=True)
    sent = twilio_api.config["SENT"][before:]
    assert [s["form"]["ContentSid"] for s in sent] == [[TEMPLATE], [TEMPLATE]]
    after = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert [m.status for m in after] == ["sent", "sent"]
    assert len({m.external_id for m in after}) == 2


def test_a_status_photo_twilio_refuses_does_not_lose_the_words(resident, twilio_api):
    # Found in review: a city's photo Twilio could not take (too large, 63019, 30019) failed the
    # whole notice through the status callback; its words now go again, with the link.
    report = file_a_report(resident)
    notice_id = send_status_photo(report)
    [with_photo] = resident.inbox()
    assert with_photo["MediaUrl"] == [PHOTO]
    with session_scope() as session:
        sid = session.get(Message, notice_id).external_id
    failed = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "63019", "To": ADDRESS}
    client = resident.client
    assert post_signed(client, "/webhooks/twilio/status", failed).status_code == 204
    run_jobs()
    [again] = resident.inbox()
    assert "MediaUrl" not in again and again["Body"] == [f"Update on request 1: closed.\n{PHOTO}"]
    # Once: the same failure told twice sends nothing more.
    assert post_signed(client, "/webhooks/twilio/status", failed).status_code == 204
    run_jobs()
    assert resident.inbox() == []
    notices = [m for m in outbound() if m.payload.get("notice") == "status"]
    assert [(m.status, m.error_code) for m in notices] == [("failed", "63019"), ("sent", None)]
    assert OutboundPayload.from_dict(notices[1].payload).status_notice  # still a notice's lane
