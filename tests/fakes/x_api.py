"""A local server speaking the parts of X's API v2 the bot uses, for driving tweepy's real Client.

Built from X's references (tests/fixtures/x/SOURCES.md): direct messages (`POST
/2/dm_conversations/with/<participant_id>/messages`), posts (`POST /2/tweets`), the V2 Webhooks
API (`/2/webhooks`, app-only bearer), Account Activity subscriptions
(`/2/account_activity/webhooks/<id>/subscriptions/all`, user context), `POST /oauth2/token` and
a direct message's photo (`GET /1.1/ton/data/dm/...`, user context). Every user-context call's
OAuth 1.0a `Authorization` header is checked the way X does: the consumer key and access token
ours, the HMAC-SHA1 signature recomputed by oauthlib over the method, the URL as received and
the query (a JSON body is not signed), the timestamp recent and the nonce never seen before. A
call that fails gets 401 `{"title": "Unauthorized", ...}` and is recorded with ``ok`` False.

Knobs in ``app.config``:
- ``CALLS``: every call, in order: ``{"method", "path", "json", "auth" ("oauth1", "bearer",
  "basic" or None), "ok"}``.
- ``CLOSED_DMS``: user ids who take no DMs from the account: 403 "You cannot send messages to
  this user."
- ``RATE_LIMITED``: the number of next sends answered 429 with ``x-rate-limit-reset`` set
  ``RESET_IN`` seconds ahead.
- ``FAIL_NEXT``: statuses (500, 503) the next calls answer, one each.
- ``LOSE_NEXT``: the number of next sends that are made, then answered only after ``LOSE_FOR``
  seconds (longer than the client waits: its answer is lost).
- ``GARBLE_NEXT``: the number of next sends that are made, then answered 201 with a body that
  is not JSON (a proxy's page, say).
- ``CRC_CHECK``: a function ``(url, crc_token) -> dict | None`` standing for X's GET of the
  webhook URL (the tests wire it to our app): what the URL answered, as JSON.
- ``WEBHOOKS``, ``SUBSCRIPTIONS``: what was registered.
- ``DM_PHOTOS``: ``{path: bytes}`` served at ``/1.1/ton/data/dm/...``.

``reset_x_api(app)`` clears them, so one served fake is shared across tests. The module also
builds and signs webhook calls as X makes them (``signed_post``, ``dm_event``, ``mention``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "x"
ACCOUNT_ID = "3001234567"  # the city's account (for_user_id)
BEARER = "AAAAAAAAAAAAAAAAAAAAAtestbearer0123456789"
SEND_PATHS = ("/2/tweets", "/2/dm_conversations/with/")
MAX_POST = 280
MAX_DM = 10_000


def reset_x_api(app: Flask) -> None:
    """Forget calls, injected failures, webhooks and subscriptions."""
    with app.config["LOCK"]:
        app.config["CALLS"].clear()
        app.config.update(
            CLOSED_DMS=set(),
            RATE_LIMITED=0,
            RESET_IN=60,
            FAIL_NEXT=[],
            CRC_CHECK=None,
            WEBHOOKS={},
            SUBSCRIPTIONS=set(),
            DM_PHOTOS={},
            NONCES=set(),
            POSTS=[],
            LOSE_NEXT=0,
            LOSE_FOR=1.5,
            GARBLE_NEXT=0,
        )


def _problem(status: int, title: str, detail: str, headers: dict | None = None) -> Response:
    response = jsonify({"title": title, "detail": detail, "type": "about:blank", "status": status})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def oauth_problem(consumer: tuple[str, str], token: tuple[str, str], nonces: set) -> str | None:
    """Why the request's OAuth 1.0a header is not a valid one of ours (None: it is)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("OAuth "):
        return "no OAuth header"
    params = {key: unquote(value) for key, value in parse_authorization_header(header)}
    if params.get("oauth_signature_method") != "HMAC-SHA1" or params.get("oauth_version") != "1.0":
        return "not HMAC-SHA1, OAuth 1.0"
    if params.get("oauth_consumer_key") != consumer[0] or params.get("oauth_token") != token[0]:
        return "not our consumer key and token"
    stamp = params.get("oauth_timestamp", "")
    if not stamp.isdigit() or abs(int(stamp) - time.time()) > 300:
        return "timestamp not within 5 minutes"
    nonce = params.get("oauth_nonce", "")
    if not nonce or nonce in nonces:
        return "nonce missing or used before"
    collected = oauth_signature.collect_parameters(
        uri_query=request.query_string.decode(),
        headers={"Authorization": header},
        exclude_oauth_signature=True,
    )
    if request.mimetype == "application/x-www-form-urlencoded":
        collected += oauth_signature.collect_parameters(body=request.get_data(as_text=True))
    base = oauth_signature.signature_base_string(
        request.method,
        oauth_signature.base_string_uri(request.base_url),
        oauth_signature.normalize_parameters(collected),
    )
    signer = SimpleNamespace(client_secret=consumer[1], resource_owner_secret=token[1])
    expected = oauth_signature.sign_hmac_sha1_with_client(base, signer)
    if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
        return "signature does not match"
    nonces.add(nonce)
    return None


def create_x_api_app(consumer: tuple[str, str], token: tuple[str, str]) -> Flask:
    """Build a Flask app answering X's API for the app `consumer` (key, secret) acting as the
    account of `token` (access token, secret)."""
    app = Flask(__name__)
    lock = threading.Lock()
    app.config.update(LOCK=lock, CALLS=[])
    reset_x_api(app)
    ids = itertools.count(1868000000000000001)

    def record(auth: str | None) -> dict:
        call = {
            "method": request.method,
            "path": request.path,
            "json": request.get_json(silent=True),
            "auth": auth,
            "ok": False,
        }
        with lock:
            app.config["CALLS"].append(call)
        return call

    def user_context(call: dict) -> Response | None:
        with lock:
            problem = oauth_problem(consumer, token, app.config["NONCES"])
        if problem:
            call["problem"] = problem
            return _problem(401, "Unauthorized", "Unauthorized")
        return None

    def bearer(call: dict) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {BEARER}":
            call["problem"] = "not the app's bearer token"
            return _problem(403, "Unsupported Authentication", "needs an app-only bearer token")
        return None

    def injected(sending: bool) -> Response | None:
        with lock:
            fail = app.config["FAIL_NEXT"].pop(0) if app.config["FAIL_NEXT"] else None
            limited = sending and app.config["RATE_LIMITED"] > 0
            if limited:
                app.config["RATE_LIMITED"] -= 1
        if fail is not None:
            return _problem(fail, "Service Unavailable", "Service Unavailable")
        if limited:
            reset = int(time.time()) + int(app.config["RESET_IN"])
            return _problem(
                429,
                "Too Many Requests",
                "Too Many Requests",
                {
                    "x-rate-limit-limit": "200",
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset),
                },
            )
        return None

    def answered(call: dict, body: dict) -> Response:
        """A made send's answer: 201 with `body`, unless a lost or garbled answer is due."""
        with lock:
            lose = app.config["LOSE_NEXT"] > 0
            garble = not lose and app.config["GARBLE_NEXT"] > 0
            app.config["LOSE_NEXT"] -= lose
            app.config["GARBLE_NEXT"] -= garble
        if lose:
            call["lost"] = True
            time.sleep(float(app.config["LOSE_FOR"]))
        if garble:
            call["garbled"] = True
            return Response("<html><body>OK</body></html>", 201, content_type="text/html")
        response = jsonify(body)
        response.status_code = 201
        return response

    @app.post("/2/dm_conversations/with/<participant_id>/messages")
    def send_dm(participant_id: str):
        call = record("oauth1")
        refused = user_context(call) or injected(True)
        if refused is not None:
            return refused
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return _problem(400, "Invalid Request", "text is required")
        if not body["text"].strip() or len(body["text"]) > MAX_DM:
            return _problem(400, "Invalid Request", "text must be 1 to 10000 characters")
        if participant_id in app.config["CLOSED_DMS"]:
            return _problem(403, "Forbidden", "You cannot send messages to this user.")
        call["ok"] = True
        event_id = str(next(ids))
        call["result"] = event_id
        data = {"dm_conversation_id": f"{ACCOUNT_ID}-{participant_id}", "dm_event_id": event_id}
        return answered(call, {"data": data})

    @app.post("/2/tweets")
    def post():
        call = record("oauth1")
        refused = user_context(call) or injected(True)
        if refused is not None:
            return refused
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return _problem(400, "Invalid Request", "text is required")
        text = body["text"]
        if not text.strip() or len(text) > MAX_POST:
            return _problem(400, "Invalid Request", "text must be 1 to 280 characters")
        with lock:
            if text in app.config["POSTS"]:
                return _problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            app.config["POSTS"].append(text)
        post_id = str(next(ids))
        call["ok"] = True
        call["result"] = post_id
        return answered(
            call, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}
        )

    @app.post("/oauth2/token")
    def token_for_app():
        call = record("basic")
        given = request.authorization
        if (
            given is None
            or (given.username, given.password) != consumer
            or request.form.get("grant_type") != "client_credentials"
        ):
            return jsonify(
                {"errors": [{"code": 99, "message": "Unable to verify your credentials"}]}
            ), 403
        call["ok"] = True
        return jsonify({"token_type": "bearer", "access_token": BEARER})

    def crc(url: str) -> bool:
        check = app.config["CRC_CHECK"]
        if check is None:
            return False
        challenge = base64.urlsafe_b64encode(hashlib.sha256(url.encode()).digest()).decode()
        answer = check(url, challenge)
        digest = hmac.new(consumer[1].encode(), challenge.encode(), hashlib.sha256).digest()
        expected = "sha256=" + base64.b64encode(digest).decode()
        return isinstance(answer, dict) and answer.get("response_token") == expected

    @app.post("/2/webhooks")
    def create_webhook():
        call = record("bearer")
        refused = bearer(call) or injected(False)
        if refused is not None:
            return refused
        url = (request.get_json(silent=True) or {}).get("url", "")
        if not isinstance(url, str) or not url.startswith("https://"):
            return _problem(400, "UrlValidationFailed", "The callback URL is not valid")
        with lock:
            if any(hook["url"] == url for hook in app.config["WEBHOOKS"].values()):
                return _problem(400, "DuplicateUrlFailed", "A webhook already has this URL")
        if not crc(url):
            return _problem(400, "CrcValidationFailed", "The callback URL did not answer the CRC")
        hook = {
            "id": str(next(ids)),
            "url": url,
            "valid": True,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }
        with lock:
            app.config["WEBHOOKS"][hook["id"]] = hook
        call["ok"] = True
        return jsonify({"data": hook})

    @app.get("/2/webhooks")
    def list_webhooks():
        call = record("bearer")
        refused = bearer(call) or injected(False)
        if refused is not None:
            return refused
        call["ok"] = True
        hooks = list(app.config["WEBHOOKS"].values())
        return jsonify({"data": hooks, "meta": {"result_count": len(hooks)}})

    @app.put("/2/webhooks/<webhook_id>")
    def validate_webhook(webhook_id: str):
        call = record("bearer")
        refused = bearer(call) or injected(False)
        if refused is not None:
            return refused
        hook = app.config["WEBHOOKS"].get(webhook_id)
        if hook is None:
            return _problem(400, "WebhookIdInvalid", "No such webhook")
        hook["valid"] = crc(hook["url"])
        call["ok"] = True
        return jsonify({"data": {"valid": hook["valid"]}})

    @app.route(
        "/2/account_activity/webhooks/<webhook_id>/subscriptions/all", methods=["GET", "POST"]
    )
    def subscription(webhook_id: str):
        call = record("oauth1")
        refused = user_context(call) or injected(False)
        if refused is not None:
            return refused
        if webhook_id not in app.config["WEBHOOKS"]:
            return _problem(400, "WebhookIdInvalid", "No such webhook")
        if request.method == "POST":
            with lock:
                app.config["SUBSCRIPTIONS"].add(webhook_id)
        call["ok"] = True
        return jsonify({"data": {"subscribed": webhook_id in app.config["SUBSCRIPTIONS"]}})

    @app.get("/1.1/ton/data/dm/<path:rest>")
    def dm_photo(rest: str):
        call = record("oauth1")
        refused = user_context(call)
        if refused is not None:
            return refused
        found = app.config["DM_PHOTOS"].get(request.path)
        if found is None:
            return _problem(404, "Not Found", "Not Found")
        call["ok"] = True
        return Response(found, mimetype="image/jpeg")

    return app


def sends(app: Flask, path_prefix: str = "") -> list[dict]:
    """The accepted DMs and posts (their JSON and the id the fake gave them), in order."""
    return [
        {"path": call["path"], **(call["json"] or {}), "id": call.get("result")}
        for call in app.config["CALLS"]
        if call["ok"]
        and call["method"] == "POST"
        and call["path"].startswith(SEND_PATHS)
        and call["path"].startswith(path_prefix)
    ]


# --- webhook calls, as X makes them --------------------------------------------------------------

_event_ids = itertools.count(1869000000000000001)


def fixture(name: str) -> dict:
    """A recorded Account Activity body (tests/fixtures/x/<name>.json)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def dm_event(sender: str, text: str) -> dict:
    """A resident's direct message to the account, built on the recorded one, with a fresh id."""
    body = fixture("dm_text")
    event = body["direct_message_events"][0]
    event["id"] = str(next(_event_ids))
    event["message_create"]["sender_id"] = sender
    event["message_create"]["message_data"]["text"] = text
    return body


def mention(author: str, text: str) -> dict:
    """A public post by `author` mentioning the account, with a fresh id."""
    body = fixture("mention")
    post = copy.deepcopy(body["tweet_create_events"][0])
    post_id = next(_event_ids)
    post.update(id=post_id, id_str=str(post_id), text=f"@Springfield311 {text}")
    post["user"].update(id=int(author), id_str=author)
    body["tweet_create_events"] = [post]
    return body


def sign(body: bytes, consumer_secret: str) -> str:
    """X's x-twitter-webhooks-signature of a body."""
    digest = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def signed_post(client, body: dict | bytes, consumer_secret: str | None):
    """POST a body to our webhook as X does (signed with the consumer secret, if given)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if consumer_secret is not None:
        headers["x-twitter-webhooks-signature"] = sign(raw, consumer_secret)
    return client.post("/webhooks/x", data=raw, headers=headers)
