"""Twilio's minimal Flask SMS reply app with its request-validation decorator.

Written from Twilio's guides "Receive and Reply to Incoming Messages - Python"
(https://www.twilio.com/docs/messaging/tutorials/how-to-receive-and-reply/python) and "Secure
your Flask App by Validating Incoming Twilio Requests"
(https://www.twilio.com/docs/usage/tutorials/how-to-secure-your-flask-app-by-validating-incoming-twilio-requests).
One change: the URL validated is PUBLIC_BASE_URL + the path (what Twilio signed) rather than
`request.url`, as behind any proxy; intake311 does the same.
"""

import os
from functools import wraps

from flask import Flask, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

app = Flask(__name__)


def validate_twilio_request(f):
    """Validates that incoming requests genuinely originated from Twilio."""

    @wraps(f)
    def decorated_function(*args, **kwargs):
        validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN"))
        url = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/") + request.full_path.rstrip("?")
        request_valid = validator.validate(
            url, request.form, request.headers.get("X-TWILIO-SIGNATURE", "")
        )
        if request_valid:
            return f(*args, **kwargs)
        return abort(403)

    return decorated_function


@app.route("/healthz")
def healthz() -> str:
    """For the harness to see the app is up."""
    return "ok"


@app.route("/webhooks/twilio", methods=["POST"])
@validate_twilio_request
def incoming_sms() -> str:
    """Send a dynamic reply to an incoming text message."""
    resp = MessagingResponse()
    resp.message("The Robots are coming! Head for the hills!")
    return str(resp)
