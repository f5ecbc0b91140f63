"""The minimal webhook-to-reply pipeline: a Flask webhook that checks Twilio's signature and
enqueues an rq job, and the job, which sends one text with the twilio client. No bot logic.

    web:    the Procfile's web command with `bench.baselines.pipeline:app`
    worker: rq worker -w rq.worker.SimpleWorker --url $REDIS_URL bench-pipeline

TWILIO_API_BASE points the client at another host (the benchmark's fake Twilio), by the same
URL rewrite as intake311's (bot/channels/twilio_http.py), so both pay the same HTTP path.
"""

import os
from functools import cache
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, abort, request
from redis import Redis
from rq import Queue
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

QUEUE = "bench-pipeline"
app = Flask(__name__)


class _Redirect(TwilioHttpClient):
    def request(self, method, url, *args, **kwargs):
        base = urlsplit(os.environ["TWILIO_API_BASE"])
        parts = urlsplit(url)
        url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


@cache
def _queue() -> Queue:
    return Queue(QUEUE, connection=Redis.from_url(os.environ["REDIS_URL"]))


@cache
def _client() -> Client:
    return Client(
        os.environ["TWILIO_ACCOUNT_SID"],
        os.environ["TWILIO_AUTH_TOKEN"],
        http_client=_Redirect(timeout=10),
    )


def send_reply(to: str) -> str:
    """The job: one text back to the sender."""
    message = _client().messages.create(
        to=to, from_=os.environ["TWILIO_FROM_NUMBER"], body="Hi! What would you like to report?"
    )
    return message.sid


@app.route("/healthz")
def healthz() -> str:
    """For the harness to see the app is up."""
    return "ok"


@app.route("/webhooks/twilio", methods=["POST"])
def incoming_sms():
    """Check the signature, enqueue the reply, answer empty TwiML."""
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    url = os.environ["PUBLIC_BASE_URL"].rstrip("/") + request.path
    if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    _queue().enqueue(send_reply, request.form["From"])
    return "<Response/>", 200, {"Content-Type": "text/xml"}
