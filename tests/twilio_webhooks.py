"""Post signed Twilio webhooks to our Flask app, as Twilio would."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN
from tests.twilio_signing import sign

FIXTURES = Path(__file__).parent / "fixtures" / "twilio"


def fixture(name: str) -> dict:
    """A recorded Twilio webhook form (tests/fixtures/twilio/<name>.json)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def post_signed(client, path: str, form: dict, token: str = TWILIO_TOKEN):
    """POST `form` to `path` with the signature Twilio would compute for our public URL."""
    signature = sign(PUBLIC_BASE_URL + path, form, token)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


_counter = iter(range(1, 10**6))


def sms_form(body: str, sender: str = "+13125550142", sid: str | None = None) -> dict:
    """An inbound SMS webhook form built on the recorded one, with a new MessageSid."""
    form = fixture("inbound_sms")
    sid = sid or f"SM{next(_counter):032x}"
    form.update(Body=body, From=sender, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    return form
