"""Telegram's webhook: one Update per POST, checked by its secret token, stored and queued.

A button tap (callback query) must be answered or the resident's button keeps spinning. It is
answered in this webhook's HTTP response (`{"method": "answerCallbackQuery", ...}`), which the
Bot API accepts for webhooks ("Making requests when getting updates"): no extra request, no
token in the web process's hands, and the answer goes out even when the turn is slow. Telegram
does not report whether that answer worked; a failed one costs only a spinner that times out.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from redis.exceptions import RedisError

from bot.channels import telegram
from bot.inbound import MalformedInbound, receive

bp = Blueprint("telegram", __name__, url_prefix=telegram.WEBHOOK_PATH)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _refusal() -> Response | None:
    """A 403 unless the request carries our secret token, else None."""
    secret = current_app.config["SETTINGS"].telegram_secret_token
    given = request.headers.get(SECRET_HEADER, "")
    if not secret:
        reason = "TELEGRAM_SECRET_TOKEN is not set"
    elif not given:
        reason = f"no {SECRET_HEADER} header"
    elif not hmac.compare_digest(given.encode(), secret.encode()):
        reason = f"{SECRET_HEADER} does not match TELEGRAM_SECRET_TOKEN"
    else:
        return None
    current_app.logger.warning("refused Telegram webhook from %s: %s", request.remote_addr, reason)
    return Response("forbidden", status=403, mimetype="text/plain")


@bp.post("")
def incoming():
    """Store an Update's message and queue its turn; answer a button tap in the response."""
    refused = _refusal()
    if refused:
        return refused
    data = request.get_json(force=True, silent=True)
    try:
        parsed = telegram.parse_update(data)
    except MalformedInbound as exc:
        current_app.logger.warning("malformed Telegram webhook: %s", exc)
        return Response(f"malformed update: {exc}", status=400, mimetype="text/plain")
    if parsed.membership is not None:
        telegram.record_membership(parsed.membership)
    if parsed.inbound is not None:
        try:
            receive(parsed.inbound)
        except RedisError:
            # Stored but not queued: the message waits in the database for the next turn.
            current_app.logger.error("queue unavailable; message stored for later")
    elif parsed.ignored:
        current_app.logger.info("Telegram update %s ignored: %s", data["update_id"],
                                parsed.ignored)
    if parsed.callback_query_id is not None:
        return jsonify(method="answerCallbackQuery", callback_query_id=parsed.callback_query_id)
    return Response("", status=200)
