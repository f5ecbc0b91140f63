"""Our Twilio sends against Twilio's own OpenAPI description, served by Stoplight's Prism.

Opt-in: serve twilio-oai's spec with scripts/twilio_peer.py (docs/twilio-peer.md says how) and
name it, e.g. INTAKE311_TWILIO_PEER="127.0.0.1:4010" (the spec as published, `--errors`), and
optionally INTAKE311_TWILIO_PEER_FIXED="127.0.0.1:4011" (`up --fixed`: the form's arrays
declared, so a send with a photo can pass, and the Messages list answered). Without them these
tests are skipped, as in CI. Prism checks each request against the spec and answers 422 with the
violations when one is not valid; a valid one gets the spec's example answer (always the same
SID). What they found is in docs/twilio-peer.md.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from twilio.base import values
from twilio.base.exceptions import TwilioRestException

from bot.channels import sms
from bot.channels.base import Outgoing, SendError
from bot.db import session_scope
from bot.models import Message
from bot.payloads import OutboundPayload
from bot.settings import get_settings
from tests.conftest import run_jobs
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

pytestmark = pytest.mark.sqlite_only

PUBLISHED = os.environ.get("INTAKE311_TWILIO_PEER", "")
FIXED = os.environ.get("INTAKE311_TWILIO_PEER_FIXED", "")
SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
EXAMPLE_SID = "SM" + "a" * 32  # the SID of the spec's CreateMessage example answer
RESIDENT = "+13125550142"
SERVICE_SID = "MG" + "0123456789abcdef" * 2
TEMPLATE_SID = "HX" + "0123456789abcdef" * 2
PHOTO = "https://intake.example.org/media/3q2-7Zb_photo"
WA_SENDER = "whatsapp:+14155238886"
WA_RESIDENT = f"whatsapp:{RESIDENT}"


def _point(monkeypatch, address: str) -> None:
    if not address:
        pytest.skip("the peer is not named (INTAKE311_TWILIO_PEER / _FIXED)")
    monkeypatch.setenv("TWILIO_API_BASE", f"http://{address}")
    # For the WhatsApp channel and SMS status photos as MMS (issue 17); unknown before them.
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", WA_SENDER)
    monkeypatch.setenv("TWILIO_MMS", "true")
    get_settings.cache_clear()


@pytest.fixture
def published(sqlite_env, monkeypatch):
    """Settings whose Twilio is Prism serving the spec as published (with --errors)."""
    _point(monkeypatch, PUBLISHED)
    return get_settings()


@pytest.fixture
def fixed(sqlite_env, monkeypatch):
    """Settings whose Twilio is Prism serving the spec with its form arrays declared."""
    _point(monkeypatch, FIXED)
    return get_settings()


def last_form(settings) -> dict:
    """The form the real twilio client posted last (its own record of the request)."""
    request = sms.twilio_client(settings).http_client._test_only_last_request
    assert request is not None
    return dict(request.data or {})


def last_answer(settings) -> str:
    """The body Prism answered last."""
    return sms.twilio_client(settings).http_client._test_only_last_response.text


def violations(settings) -> list[str]:
    """The violations of Prism's last 422 answer, as "location: message"."""
    body = json.loads(last_answer(settings))
    assert body["status"] == 422, body
    return [f"{'.'.join(v['location'])}: {v['message']}" for v in body["validation"]]


def text(body: str, payload: OutboundPayload | None = None) -> Outgoing:
    return Outgoing(1, f"tel:{RESIDENT}", body, payload or OutboundPayload())


# ---------------------------------------------------------------- SMS: accepted as the spec says


def test_a_plain_text_send_is_valid_and_its_sid_read(published):
    sid = sms.CHANNEL.send(text("Your report 1234 was received. Reply STATUS 1234."), published)
    assert sid == EXAMPLE_SID and SID.match(sid)
    form = last_form(published)
    assert form["To"] == RESIDENT and form["From"] == published.twilio_from_number
    assert form["StatusCallback"].startswith("https://") and "MessagingServiceSid" not in form


def test_a_send_through_a_messaging_service_is_valid(published, monkeypatch):
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", SERVICE_SID)
    get_settings.cache_clear()
    settings = get_settings()
    assert sms.CHANNEL.send(text("Ready to send?"), settings) == EXAMPLE_SID
    form = last_form(settings)
    assert form["MessagingServiceSid"] == SERVICE_SID and "From" not in form


def test_a_long_unicode_text_is_valid(published):
    words = "Ваш запрос принят. Ремонт дороги запланирован. " * 40  # many segments
    assert sms.CHANNEL.send(text(words[:1600]), published) == EXAMPLE_SID


def test_a_status_photo_goes_as_media_url_and_is_valid(fixed):
    out = text("Update on 1234: closed.", OutboundPayload(media_url=PHOTO, status_notice=True))
    sid = sms.CHANNEL.send(out, fixed)
    if "MediaUrl" not in last_form(fixed):
        pytest.skip("the SMS channel does not send a status update's media_url yet")
    assert SID.match(sid) and last_form(fixed)["MediaUrl"] in (PHOTO, [PHOTO])


def test_a_status_photo_as_a_link_is_valid(published, monkeypatch):
    monkeypatch.setenv("TWILIO_MMS", "false")
    get_settings.cache_clear()
    settings = get_settings()
    out = text("Update on 1234: closed.", OutboundPayload(media_url=PHOTO, status_notice=True))
    assert sms.CHANNEL.send(out, settings) == EXAMPLE_SID
    form = last_form(settings)
    if PHOTO not in form["Body"]:
        pytest.skip("the SMS channel does not send a status update's media_url yet")
    assert "MediaUrl" not in form and form["Body"].endswith(PHOTO)


def test_the_delivery_job_sends_a_reply_the_spec_accepts(published):
    client = create_app({"TESTING": True}).test_client()
    assert post_signed(client, "/webhooks/twilio", sms_form("hi", RESIDENT)).status_code == 200
    run_jobs()
    with session_scope() as session:
        out = session.exec(select(Message).where(Message.direction == "out")).all()
    assert out, "the bot answered nothing"
    # Prism answers every send with the same example SID, and a SID is unique per channel:
    # the first reply carries it; more replies in one turn could not all be recorded.
    assert out[0].status == "sent" and out[0].external_id == EXAMPLE_SID, out[0].error_code


# ---------------------------------------------------------------- the Messages list (find_sent)


def test_the_lookup_of_a_lost_send_with_the_spec_as_published(published):
    """With --errors Prism refuses its own example list (relative `*_uri` fail `format: uri`):
    a 500, which our classification retries."""
    with pytest.raises(SendError) as caught:
        sms.CHANNEL.find_sent(text("testing"), datetime(2019, 1, 1, tzinfo=UTC), published, set())
    assert caught.value.retryable and "500" in str(caught.value)
    assert "Response body property first_page_uri" in last_answer(published)


def test_the_lookup_of_a_lost_send_reads_the_spec_example(fixed):
    """The spec's list example holds an outbound-api "testing" and an inbound message."""
    since = datetime(2019, 5, 24, 17, 44, 40, tzinfo=UTC)
    found = sms.CHANNEL.find_sent(text("testing"), since, fixed, set())
    assert found == "SMded05904ccb347238880ca9264e8fe1c"
    assert sms.CHANNEL.find_sent(text("testing"), since, fixed, {found}) is None
    assert sms.CHANNEL.find_sent(text("testing"), datetime.now(UTC), fixed, set()) is None


# ---------------------------------------------------------------- the peer refuses what is wrong


def test_a_send_without_to_is_refused_and_not_retried(published):
    client = sms.twilio_client(published)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=values.unset, from_=published.twilio_from_number, body="hi")
    assert caught.value.status == 422
    assert violations(published) == ["body: Request body must have required property 'To'"]
    error = sms._send_error(caught.value)
    assert not error.retryable and error.code == "422"  # Prism's body has no Twilio code


def test_a_malformed_messaging_service_sid_is_refused(published, monkeypatch):
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", "MG-not-a-sid")
    get_settings.cache_clear()
    settings = get_settings()
    with pytest.raises(SendError) as caught:
        sms.CHANNEL.send(text("hi"), settings)
    assert not caught.value.retryable and "422" in str(caught.value)
    assert any(v.startswith("body.MessagingServiceSid") for v in violations(settings))


def test_a_malformed_account_sid_is_refused(published, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC-not-an-account")
    get_settings.cache_clear()
    settings = get_settings()
    with pytest.raises(SendError) as caught:
        sms.CHANNEL.send(text("hi"), settings)
    assert not caught.value.retryable
    assert any(v.startswith("path.accountsid") for v in violations(settings))


def test_a_status_callback_that_is_not_a_url_is_refused(published):
    client = sms.twilio_client(published)
    with pytest.raises(TwilioRestException):
        client.messages.create(
            to=RESIDENT, from_=published.twilio_from_number, body="hi", status_callback="/status"
        )
    assert violations(published) == [
        'body.StatusCallback: Request body property StatusCallback must match format "uri"'
    ]


def test_a_media_url_as_published_is_refused_for_its_encoding(published):
    """The gap `up --fixed` works around: no `encoding` in the spec, so Prism reads even a
    repeated MediaUrl as one string and refuses it."""
    client = sms.twilio_client(published)
    with pytest.raises(TwilioRestException):
        client.messages.create(
            to=RESIDENT, from_=published.twilio_from_number, media_url=[PHOTO, PHOTO + "2"]
        )
    assert violations(published) == ["body.MediaUrl: Request body property MediaUrl must be array"]


def test_a_media_url_that_is_not_a_url_is_refused(fixed):
    client = sms.twilio_client(fixed)
    with pytest.raises(TwilioRestException):
        client.messages.create(to=RESIDENT, from_=fixed.twilio_from_number, media_url=["photo"])
    assert violations(fixed) == [
        'body.MediaUrl.0: Request body property MediaUrl.0 must match format "uri"'
    ]


# ---------------------------------------------------------------- WhatsApp through Twilio


def test_a_whatsapp_template_with_twilios_documented_parameters_is_valid(published):
    client = sms.twilio_client(published)
    message = client.messages.create(
        to=WA_RESIDENT,
        from_=WA_SENDER,
        content_sid=TEMPLATE_SID,
        content_variables=json.dumps({"1": "1234", "2": "closed"}),
    )
    assert message.sid == EXAMPLE_SID
    form = last_form(published)
    assert form["ContentSid"] == TEMPLATE_SID and json.loads(form["ContentVariables"])["1"]


def test_a_whatsapp_template_sid_that_is_not_hx_is_refused(published):
    client = sms.twilio_client(published)
    with pytest.raises(TwilioRestException):
        client.messages.create(to=WA_RESIDENT, from_=WA_SENDER, content_sid="HX12")
    assert any(v.startswith("body.ContentSid") for v in violations(published))


def test_a_whatsapp_photo_is_valid(fixed):
    client = sms.twilio_client(fixed)
    message = client.messages.create(to=WA_RESIDENT, from_=WA_SENDER, body="", media_url=[PHOTO])
    assert SID.match(message.sid)


def _whatsapp():
    return pytest.importorskip(
        "bot.channels.whatsapp", reason="bot.channels.whatsapp is not built yet (issue 17)"
    )


def _within_window(address: str, words: str, payload: OutboundPayload | None = None) -> Outgoing:
    """A message to a WhatsApp resident who wrote a minute ago (free words may go)."""
    return Outgoing(
        1,
        address,
        words,
        payload or OutboundPayload(),
        last_inbound_at=datetime.now(UTC) - timedelta(minutes=1),
    )


def test_the_whatsapp_channel_sends_text_the_spec_accepts(published):
    whatsapp = _whatsapp()
    out = _within_window(WA_RESIDENT, "Your report 1234 was received.")
    sid = whatsapp.CHANNEL.send(out, published)
    form = last_form(published)
    assert SID.match(sid) and form["To"] == WA_RESIDENT and form["From"] == WA_SENDER


def test_the_whatsapp_channel_sends_a_photo_the_spec_accepts(fixed):
    whatsapp = _whatsapp()
    payload = OutboundPayload(media_url=PHOTO, status_notice=True)
    sid = whatsapp.CHANNEL.send(_within_window(WA_RESIDENT, "Update: closed.", payload), fixed)
    form = last_form(fixed)
    assert SID.match(sid) and form["To"] == WA_RESIDENT
    assert form.get("MediaUrl") in (PHOTO, [PHOTO]), "the photo was not attached"


def test_the_whatsapp_channel_sends_a_template_the_spec_accepts(published, monkeypatch):
    whatsapp = _whatsapp()
    monkeypatch.setenv("WHATSAPP_TEMPLATE_STATUS", TEMPLATE_SID)
    get_settings.cache_clear()
    settings = get_settings()
    payload = OutboundPayload(
        status_notice=True, notice="status", values={"number": "1234", "status": "closed"}
    )
    sid = whatsapp.CHANNEL.send(Outgoing(1, WA_RESIDENT, "Update: closed.", payload), settings)
    form = last_form(settings)
    assert SID.match(sid) and form["ContentSid"] == TEMPLATE_SID and "Body" not in form
    assert "1234" in json.loads(form["ContentVariables"]).values()


# ---------------------------------------------------------------- our fake refuses them too

# What the spec refuses that tests/fakes/twilio_api.py once took, each with the error Twilio
# documents for it (https://www.twilio.com/docs/api/errors/<code>). (A Content SID not "HX" + 32
# hex digits, 21655, the fake refuses with the WhatsApp work of issue 17.)
REFUSED = [
    ({"to": RESIDENT, "messaging_service_sid": "MG-not-a-sid", "body": "hi"}, 21705),
    ({"to": RESIDENT, "from_": "+13125550100", "body": "hi", "status_callback": "/s"}, 21609),
]
ALSO_REFUSED = [({"to": WA_RESIDENT, "from_": WA_SENDER, "content_sid": "HX12"}, 21655)]


@pytest.mark.parametrize(("params", "code"), REFUSED)
def test_the_fake_refuses_what_the_spec_refuses(sqlite_env, twilio_api, params, code):
    client = sms.twilio_client(sqlite_env)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(**params)
    assert caught.value.code == code and caught.value.status == 400
    assert twilio_api.config["SENT"] == []


@pytest.mark.parametrize(("params", "code"), REFUSED + ALSO_REFUSED)
def test_the_peer_refuses_them(published, params, code):
    client = sms.twilio_client(published)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(**params)
    assert caught.value.status == 422 and violations(published)


def test_the_fake_takes_what_the_spec_takes(sqlite_env, twilio_api):
    client = sms.twilio_client(sqlite_env)
    message = client.messages.create(
        to=WA_RESIDENT,
        from_=WA_SENDER,
        content_sid=TEMPLATE_SID,
        content_variables=json.dumps({"1": "1234"}),
        status_callback="https://intake.example.org/webhooks/twilio/status?m=7",
    )
    assert SID.match(message.sid)
    [sent] = twilio_api.config["SENT"]
    assert sent["form"]["ContentSid"] == [TEMPLATE_SID]
