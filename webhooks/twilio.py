"""Twilio's SMS webhooks: incoming messages and delivery status callbacks."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator

from bot import jobs
from bot.channels import sms
from bot.inbound import MalformedInbound, receive
from webhooks.intake import malformed, refusal

bp = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _signed_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path when set, else the URL we were called at."""
    base = current_app.config["SETTINGS"].public_base_url
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def _refusal() -> Response | None:
    """A 403 when the request is not signed by our Twilio account, else None."""
    token = current_app.config["SETTINGS"].twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    reason = None
    if not token:
        reason = "TWILIO_AUTH_TOKEN is not set"
    elif not signature:
        reason = "no X-Twilio-Signature header"
    elif not RequestValidator(token).validate(_signed_url(), request.form, signature):
        reason = f"signature does not match {_signed_url()} (is PUBLIC_BASE_URL right?)"
    return refusal("Twilio", reason)


@bp.post("")
def incoming():
    """Store an incoming SMS and queue its turn; answer with empty TwiML."""
    refused = _refusal()
    if refused:
        return refused
    try:
        inbound = sms.parse_inbound(request.form)
    except MalformedInbound as exc:
        return malformed("Twilio", exc)
    receive(inbound)
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
def status():
    """Record a delivery status for a message we sent."""
    refused = _refusal()
    if refused:
        return refused
    try:
        update = sms.parse_status(request.form)
    except MalformedInbound as exc:
        return malformed("Twilio status", exc)
    if update.status is None and not update.opted_out:
        return Response("", status=204)
    known = jobs.record_delivery(
        sms.NAME,
        update.sid,
        update.status or "failed",
        update.error_code,
        opted_out_address=update.address if update.opted_out else None,
    )
    if not known:
        current_app.logger.info("status for unknown message %s", update.sid)
    return Response("", status=204)
