"""A local server speaking the part of Meta's Graph API the Messenger channel uses.

Built from Meta's documentation (see tests/fixtures/messenger/SOURCES.md): every call is
`/{version}/<path>` with the page token as the `access_token` query parameter; the Send API
(`POST /{version}/me/messages`) takes a JSON body with `recipient.id`, `messaging_type`
(`RESPONSE`, `UPDATE` or `MESSAGE_TAG` with a `tag`) and a `message` holding either `text` (at
most 2000 characters, up to 13 `quick_replies` of `content_type` "text", a `title` of at most 20
characters and a `payload` of at most 1000) or an `attachment`; it answers `{"recipient_id",
"message_id"}`. Errors are Meta's error JSON (`{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`) with HTTP 400 (500 for Meta's own failures). Knobs in
``app.config``:

- ``CALLS``: every call that reached the API with the right version and token, in order, as
  ``{"method", "path", "params", "body"}`` (params without the token).
- ``REFUSED``: calls refused for a wrong version or token, as ``{"path", "why"}``.
- ``WINDOW_CLOSED``: PSIDs whose 24-hour window has closed: a send to them that is not
  `MESSAGE_TAG` gets code 10, subcode 2018278.
- ``UNAVAILABLE``: PSIDs that get code 551 ("This person isn't available right now").
- ``FAIL_NEXT``: ``[(status, code, subcode), ...]``: the next sends answer those (one each;
  ``None`` in the list: that send answers as usual, so a later one can be made to fail).
- ``SLOW``: seconds the next send waits before it answers (once): a timeout.
- ``UNFETCHABLE``: image URLs Meta "cannot fetch": code 100, subcode 2018008.
- ``SUBSCRIBED``: the fields `POST /{page-id}/subscribed_apps` stored.
- ``FILES``: ``{name: bytes}`` served at ``GET /cdn/<name>`` (the CDN's stand-in: a resident's
  image URL points there); ``FILE_REQUESTS`` the names asked for, with any Authorization
  header seen (there must be none).

``reset_graph_api(app)`` clears them all, so one served fake can be shared across tests.
The module also builds the webhook calls Meta makes (``event_body``, ``signed_post``).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "messenger"
PAGE_ID = "104512345678901"
PAGE_NAME = "City of Springfield 311"
APP_ID = "1517776481860111"
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
MAX_PAYLOAD = 1000
MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
TAGS = {"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "HUMAN_AGENT"}
MESSAGES = {
    10: "(#10) This message is sent outside of allowed window.",
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    551: "(#551) This person isn't available right now.",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    1200: "(#1200) Temporary send message failure. Please try again later",
    2: "An unexpected error has occurred. Please retry your request later.",
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
}

_mids = itertools.count(1)


def reset_graph_api(app: Flask) -> None:
    """Forget calls, injected failures, the subscription and the files."""
    with app.config["LOCK"]:
        app.config["CALLS"].clear()
        app.config.update(
            REFUSED=[],
            WINDOW_CLOSED=set(),
            UNAVAILABLE=set(),
            FAIL_NEXT=[],
            SLOW=0.0,
            UNFETCHABLE=set(),
            SUBSCRIBED=[],
            FILES={},
            FILE_REQUESTS=[],
        )


def sent(app: Flask, psid: str | None = None) -> list[dict]:
    """The body of every accepted send (to `psid` if given), with the mid the fake gave it."""
    return [
        call["body"] | {"mid": call["mid"]}
        for call in app.config["CALLS"]
        if call["path"] == "me/messages"
        and call.get("mid")
        and (psid is None or call["body"]["recipient"]["id"] == psid)
    ]


def _error(code: int, subcode: int | None = None, status: int = 400, message: str = ""):
    error = {
        "message": message or MESSAGES.get(code, "(#100) Invalid parameter"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(16),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    response = jsonify({"error": error})
    response.status_code = status
    return response


def _check_message(message: object) -> str | None:
    """Meta's complaint about a `message` object, or None."""
    if not isinstance(message, dict):
        return "message must be an object"
    if ("text" in message) == ("attachment" in message):
        return "message must have exactly one of text and attachment"
    if "text" in message:
        text = message["text"]
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
            return "(#100) Length of param message[text] must be less than or equal to 2000"
    else:
        attachment = message["attachment"]
        url = (attachment.get("payload") or {}).get("url") if isinstance(attachment, dict) else 0
        if attachment.get("type") != "image" or not isinstance(url, str):
            return "only image attachments by URL are expected"
    replies = message.get("quick_replies")
    if replies is not None:
        if not isinstance(replies, list) or not 0 < len(replies) <= MAX_QUICK_REPLIES:
            return "(#100) param message[quick_replies] must have at most 13 elements"
        for reply in replies:
            if reply.get("content_type") != "text":
                return "quick reply content_type must be text"
            if not 0 < len(reply.get("title", "")) <= MAX_TITLE:
                return "(#100) Title of a quick reply must be 1-20 characters"
            if not 0 < len(reply.get("payload", "")) <= MAX_PAYLOAD:
                return "(#100) payload of a quick reply must be 1-1000 characters"
    return None


def create_graph_api_app(token: str, version: str) -> Flask:
    """Build a Flask app answering the Graph API for the page with `token`, at `version`."""
    app = Flask(__name__)
    app.config.update(LOCK=threading.Lock(), CALLS=[])
    reset_graph_api(app)

    def send(body: dict):
        with app.config["LOCK"]:
            failure = app.config["FAIL_NEXT"].pop(0) if app.config["FAIL_NEXT"] else None
            slow, app.config["SLOW"] = app.config["SLOW"], 0.0
        if slow:
            time.sleep(slow)
        if failure is not None:
            status, code, subcode = failure
            return _error(code, subcode, status=status), None
        if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
            return _error(100, message="(#100) param recipient must be non-empty."), None
        psid = body["recipient"].get("id")
        if not isinstance(psid, str) or not psid.isdigit():
            return _error(100, 2018001, message="(#100) No matching user found"), None
        kind = body.get("messaging_type")
        if kind not in MESSAGING_TYPES:
            return _error(100, message="(#100) param messaging_type is invalid"), None
        if kind == "MESSAGE_TAG" and body.get("tag") not in TAGS:
            return _error(100, message="(#100) Invalid tag"), None
        complaint = _check_message(body.get("message"))
        if complaint:
            return _error(100, message=complaint), None
        if psid in app.config["UNAVAILABLE"]:
            return _error(551, 1545041), None
        if psid in app.config["WINDOW_CLOSED"] and kind != "MESSAGE_TAG":
            return _error(10, 2018278), None
        attachment = body["message"].get("attachment")
        if attachment and attachment["payload"]["url"] in app.config["UNFETCHABLE"]:
            return _error(
                100, 2018008, message="(#100) Failed to fetch the file from the url"
            ), None
        mid = f"m_{next(_mids):06d}" + secrets.token_urlsafe(30)
        return jsonify({"recipient_id": psid, "message_id": mid}), mid

    @app.route("/cdn/<name>")
    def cdn(name: str):
        with app.config["LOCK"]:
            app.config["FILE_REQUESTS"].append((name, request.headers.get("Authorization")))
        data = app.config["FILES"].get(name)
        if data is None:
            return Response("not found", status=404)
        return Response(data, mimetype="image/jpeg")

    @app.route("/<given_version>/<path:path>", methods=["GET", "POST", "DELETE"])
    def graph(given_version: str, path: str):
        if given_version != version:
            app.config["REFUSED"].append({"path": path, "why": "version"})
            return _error(2500, message=f"Unknown path components: /{given_version}")
        if request.args.get("access_token") != token:
            app.config["REFUSED"].append({"path": path, "why": "token"})
            return _error(190)
        params = {k: v for k, v in request.args.items() if k != "access_token"}
        body = request.get_json(silent=True) if request.data else None
        call = {"method": request.method, "path": path, "params": params, "body": body}
        mid = None
        if (request.method, path) == ("POST", "me/messages"):
            response, mid = send(copy.deepcopy(body))
        elif (request.method, path) == ("GET", "me"):
            wanted = params.get("fields", "id").split(",")
            page = {"id": PAGE_ID, "name": PAGE_NAME}
            response = jsonify({k: page[k] for k in wanted if k in page})
        elif (request.method, path) == ("POST", f"{PAGE_ID}/subscribed_apps"):
            fields = params.get("subscribed_fields", "")
            if not fields:
                response = _error(100, message="(#100) param subscribed_fields is required")
            else:
                app.config["SUBSCRIBED"] = fields.split(",")
                response = jsonify({"success": True})
        elif (request.method, path) == ("GET", "me/subscribed_apps"):
            apps = []
            if app.config["SUBSCRIBED"]:
                apps.append(
                    {
                        "category": "Business",
                        "link": "https://311.springfield.example/",
                        "name": "Springfield 311 intake",
                        "id": APP_ID,
                        "subscribed_fields": app.config["SUBSCRIBED"],
                    }
                )
            response = jsonify({"data": apps})
        else:
            response = _error(2500, message=f"Unknown path components: /{path}")
        with app.config["LOCK"]:
            app.config["CALLS"].append(call | {"status": response.status_code, "mid": mid})
        return response

    return app


# --- the webhook calls Meta makes ---------------------------------------------------------------


def fixture(name: str) -> dict:
    """A recorded webhook body (or Send API answer) from tests/fixtures/messenger."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def event_body(events: list[dict]) -> dict:
    """A webhook body carrying `events` in one entry, as Meta batches them."""
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": _now_ms(), "messaging": events}],
    }


_clock = itertools.count(1764990000000, 1000)


def _now_ms() -> int:
    return next(_clock)


def message_event(psid: str, text: str = "", **message) -> dict:
    """A resident's message: words, `quick_reply={"payload": ...}`, `attachments=[...]`."""
    body = {"mid": "m_" + secrets.token_urlsafe(40), **message}
    if text:
        body["text"] = text
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": _now_ms(),
        "message": body,
    }


def sign(body: bytes, secret: str) -> str:
    """X-Hub-Signature-256 as Meta makes it: "sha256=" and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_post(client, body: dict | bytes, secret: str | None, path: str = "/webhooks/messenger"):
    """POST a webhook body signed with `secret` (None: unsigned)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(raw, secret)
    return client.post(path, data=raw, headers=headers)
