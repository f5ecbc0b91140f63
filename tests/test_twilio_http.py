"""The real twilio client, redirected to the local fake Messages API, and webhook signing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.datastructures import MultiDict

from bot.channels.twilio_http import RedirectingHttpClient, make_client
from sandbox.server import serve
from tests.fakes.twilio_api import count_segments, create_twilio_api_app, reset_twilio_api
from tests.twilio_signing import sign

FIXTURES = Path(__file__).parent / "fixtures" / "twilio"
ACCOUNT_SID = "AC5f3c7a2e9b1d4086a7e2c9f4b1d30e68"
AUTH_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CITY = "+13125550100"
RESIDENT = "+13125550142"
OPTED_OUT = "+15005550009"
CALLBACK = "https://intake.example.org/webhooks/twilio/status"


@pytest.fixture(autouse=True)
def _no_region_from_env(monkeypatch):
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def served_fake():
    app = create_twilio_api_app(ACCOUNT_SID, AUTH_TOKEN)
    server = serve(app)
    server.app = app
    yield server
    server.stop()


@pytest.fixture
def fake(served_fake):
    reset_twilio_api(served_fake.app)
    return served_fake


@pytest.fixture
def client(fake) -> Client:
    return make_client(ACCOUNT_SID, AUTH_TOKEN, api_base=fake.url, timeout=5.0)


def test_send_reaches_fake_with_twilio_form(fake, client):
    message = client.messages.create(
        to=RESIDENT,
        from_=CITY,
        body="Your request number is 25-00012345.",
        status_callback=CALLBACK,
    )
    [sent] = fake.app.config["SENT"]
    assert sent["form"]["To"] == [RESIDENT]
    assert sent["form"]["From"] == [CITY]
    assert sent["form"]["Body"] == ["Your request number is 25-00012345."]
    assert sent["form"]["StatusCallback"] == [CALLBACK]
    assert message.sid == sent["sid"]
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert message.date_created.tzinfo is not None


def test_fetch_returns_sent_message(fake, client):
    sid = client.messages.create(to=RESIDENT, from_=CITY, body="hello").sid
    fake.app.config["MESSAGES"][sid]["status"] = "delivered"
    assert client.messages(sid).fetch().status == "delivered"
    with pytest.raises(TwilioRestException) as missing:
        client.messages("SM" + "0" * 32).fetch()
    assert missing.value.status == 404 and missing.value.code == 20404


def test_messaging_service_media_send_is_accepted(fake, client):
    message = client.messages.create(
        to=RESIDENT,
        messaging_service_sid="MG2b8e4f6a1c9d4e7f8a3b5c6d7e8f9a01",
        media_url=["https://example.org/a.jpg", "https://example.org/b.jpg"],
    )
    [sent] = fake.app.config["SENT"]
    assert sent["form"]["MediaUrl"] == ["https://example.org/a.jpg", "https://example.org/b.jpg"]
    assert "From" not in sent["form"]
    assert message.status == "accepted"
    assert message.num_media == "2"


def test_unsubscribed_recipient_raises_21610(fake, client):
    fake.app.config["FAIL_TO"] = {OPTED_OUT: 21610}
    with pytest.raises(TwilioRestException) as failure:
        client.messages.create(to=OPTED_OUT, from_=CITY, body="hello")
    assert failure.value.code == 21610
    assert failure.value.status == 400
    assert "unsubscribed" in failure.value.msg
    assert fake.app.config["SENT"] == []


def test_fake_error_body_matches_fixture(fake):
    fake.app.config["FAIL_TO"] = {OPTED_OUT: 21610}
    response = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": OPTED_OUT, "From": CITY, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json() == json.loads((FIXTURES / "error_21610.json").read_text())


def test_fake_created_message_has_recorded_keys(fake, client):
    client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    [message] = fake.app.config["MESSAGES"].values()
    recorded = json.loads((FIXTURES / "message_created.json").read_text())
    assert set(recorded) <= set(message)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"From": CITY, "Body": "hi"}, 21604),
        ({"To": RESIDENT, "Body": "hi"}, 21603),
        ({"To": RESIDENT, "From": CITY}, 21602),
        ({"To": "12345", "From": CITY, "Body": "hi"}, 21211),
    ],
)
def test_missing_or_invalid_fields_are_rejected(fake, fields, code):
    response = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data=fields,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_bad_auth_token_gets_401(fake):
    client = make_client(ACCOUNT_SID, "not-the-token", api_base=fake.url)
    with pytest.raises(TwilioRestException) as failure:
        client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    assert failure.value.status == 401
    assert failure.value.code == 20003


def test_fail_next_500_raises_then_recovers(fake, client):
    fake.app.config["FAIL_NEXT"] = [500]
    with pytest.raises(TwilioRestException) as failure:
        client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    assert failure.value.status == 500
    assert client.messages.create(to=RESIDENT, from_=CITY, body="hello").status == "queued"
    assert len(fake.app.config["REQUESTS"]) == 2
    assert len(fake.app.config["SENT"]) == 1


def test_region_and_edge_still_reach_fake(fake):
    client = make_client(ACCOUNT_SID, AUTH_TOKEN, api_base=fake.url, region="ie1", edge="dublin")
    message = client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    assert message.sid == fake.app.config["SENT"][0]["sid"]
    last = client.http_client._test_only_last_request
    assert last.url == f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_rewrite_keeps_path_and_query():
    http = RedirectingHttpClient(api_base="http://127.0.0.1:54321/")
    url = "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    assert (
        http.rewrite_url(url)
        == "http://127.0.0.1:54321/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    )
    assert RedirectingHttpClient().rewrite_url(url) == url


def test_timeout_is_always_passed(fake):
    fake.app.config["DELAY"] = 1.0
    client = make_client(ACCOUNT_SID, AUTH_TOKEN, api_base=fake.url, timeout=0.5)
    assert client.http_client.timeout == 0.5
    # twilio does not wrap transport errors: requests' own ReadTimeout escapes (an OSError).
    with pytest.raises(requests.exceptions.ReadTimeout) as failure:
        client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    assert isinstance(failure.value, OSError)
    assert not isinstance(failure.value, TwilioException)
    # As with Twilio, the slow request still lands: a timed-out send may have been sent.
    deadline = time.monotonic() + 5
    while not fake.app.config["SENT"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake.app.config["SENT"]) == 1


def test_refused_connection_raises_requests_connection_error():
    client = make_client(ACCOUNT_SID, AUTH_TOKEN, api_base="http://127.0.0.1:9", timeout=2)
    with pytest.raises(requests.exceptions.ConnectionError) as failure:
        client.messages.create(to=RESIDENT, from_=CITY, body="hello")
    assert isinstance(failure.value, OSError)


def test_segments_count_roughly():
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("é" * 160) == 1
    assert count_segments("bache ñ ü 🕳") == 1
    assert count_segments("🕳" * 40) == 2


def test_sign_matches_request_validator():
    url = "https://intake.example.org/webhooks/twilio/sms"
    params = json.loads((FIXTURES / "inbound_sms.json").read_text())
    signature = sign(url, params, AUTH_TOKEN)
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, {**params, "Body": "changed"}, signature)
    assert not RequestValidator("another-token").validate(url, params, signature)


def test_sign_accepts_repeated_fields():
    url = "http://127.0.0.1:8000/webhooks/twilio/sms"
    params = {"MediaUrl": ["https://a.example/1", "https://a.example/2"], "To": CITY}
    signature = sign(url, params, AUTH_TOKEN)
    form = MultiDict(
        [("MediaUrl", "https://a.example/2"), ("To", CITY), ("MediaUrl", "https://a.example/1")]
    )
    assert RequestValidator(AUTH_TOKEN).validate(url, form, signature)
