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

from bot.channels import telegram
from bot.inbound import MalformedInbound, receive
from webhooks.intake import malformed, refusal

bp = Blueprint("telegram", __name__, url_prefix=telegram.WEBHOOK_PATH)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _refusal() -> Response | None:
    """A 403 unless the request carries our secret token, else None."""
    secret = current_app.config["SETTINGS"].telegram_secret_token
    given = request.headers.get(SECRET_HEADER, "")
    reason = None
    if not secret:
        reason = "TELEGRAM_SECRET_TOKEN is not set"
    elif not given:
        reason = f"no {SECRET_HEADER} header"
    elif not hmac.compare_digest(given.encode(), secret.encode()):
        reason = f"{SECRET_HEADER} does not match TELEGRAM_SECRET_TOKEN"
    return refusal("Telegram", reason)


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
        return malformed("Telegram", exc)
    if parsed.membership is not None:
        telegram.record_membership(parsed.membership)
    if parsed.inbound is not None:
        receive(parsed.inbound)
    elif parsed.ignored:
        current_app.logger.info("Telegram update %s ignored: %s", data["update_id"], parsed.ignored)
    if parsed.callback_query_id is not None:
        return jsonify(method="answerCallbackQuery", callback_query_id=parsed.callback_query_id)
    return Response("", status=200)
