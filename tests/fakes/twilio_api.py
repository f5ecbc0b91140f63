"""A local server speaking Twilio's Messages API (2010-04-01), for driving the real twilio client.

Built from Twilio's Message resource reference and recorded responses (see
tests/fixtures/twilio/SOURCES.md). Knobs in ``app.config``, all safe to change while serving:

- ``SENT``: every accepted send, in order, as ``{"sid", "account_sid", "form"}`` where ``form``
  is the posted form as a dict of lists (``{"To": ["+1..."], "MediaUrl": [..., ...]}``).
- ``MESSAGES``: message JSON by sid (what ``GET .../Messages/<sid>.json`` answers); tests may edit
  a message's ``status`` here.
- ``REQUESTS``: ``(method, path)`` of every request that reached an account route, failed or not.
- ``FAIL_TO``: ``{"+15005550009": 21610}``: sends to that recipient get Twilio's 400 error JSON.
- ``FAIL_NEXT``: ``[500, 503]``: the next requests answer those statuses (one each, in order).
- ``LOSE_ANSWERS``: how many of the next accepted sends lose their answer (the message is
  stored and listed, the client gets a 500 as if the answer never came).
- ``DELAY``: seconds to sleep before answering any account route (for timeout tests).
- ``RATE``: ``(per_second, burst)``: each sender (From, or MessagingServiceSid) takes sends at
  that rate (a token bucket holding ``burst``); one beyond it is refused with 429 (20429) and
  counted in ``REFUSED_FOR_RATE``. None (the default): no limit. ``SENT`` entries carry ``at``,
  the time (``time.time()``) each send was accepted.

- ``WINDOW_CLOSED``: WhatsApp recipients (``{"whatsapp:+1..."}``) whose 24-hour window is
  closed: a free-form send to one is accepted (201, queued) and then fails with 63016, as
  Twilio does; the status callback Twilio would post is appended to ``CALLBACKS`` as
  ``{"url", "form"}`` for the test to deliver. A template (``ContentSid``) goes through.

WhatsApp as Twilio takes it: ``whatsapp:`` To and From (of one channel, else 21910), and
``ContentSid`` ("HX" + 32 hex digits, else 21655) with ``ContentVariables`` (a JSON object,
else 21656) in place of a Body; both are in the form ``SENT`` records.

Media, as Twilio serves a received message's MediaUrl with "Enforce HTTP Auth on Media URLs"
on (https://www.twilio.com/docs/messaging/api/media-resource; Twilio help article 223183748,
"Protect Media Access with HTTP Basic Authentication"): ``GET
/2010-04-01/Accounts/<sid>/Messages/<MM...>/Media/<ME...>`` needs the account's basic auth (401
and error 20003 otherwise), then answers 307 to a short-lived URL on another host that serves
the bytes with no auth (Twilio's is mms.twiliocdn.com; here the same server under its other
loopback name: ``localhost`` when called as ``127.0.0.1`` and back, at ``/cdn/<key>``).

- ``MEDIA``: ``{media path: (bytes, content type)}``; ``add_media(app, base_url, data)`` puts a
  photo there and returns its MediaUrl.
- ``MEDIA_REQUESTS``: every media and CDN request, as ``{"host", "path", "authorized"}``
  (``authorized``: it carried an Authorization header).
- ``MEDIA_FAIL``: an HTTP status (500, 503) every media request answers while it is set.
- ``MEDIA_REDIRECT``: a base URL the API redirects to instead of its CDN (a host not allowed).
- ``CDN_MODE``: ``"length"`` (default, Content-Length sent), ``"stream"`` (chunks, no length)
  or ``"drip"`` (one byte every ``CDN_DRIP`` seconds, no length).

The account itself (what `intake311 doctor` asks; ``ACCOUNT_STATUS``: active, suspended or
closed): ``GET /2010-04-01/Accounts/<sid>.json``,
``GET .../IncomingPhoneNumbers.json?PhoneNumber=`` over ``NUMBERS`` (the account's numbers, a
set: empty until a test adds one) and Messaging's ``GET /v1/Services/<MG...>`` over
``SERVICES`` (its Messaging Service SIDs; another is 404, error 20404, as Twilio answers).

``reset_twilio_api(app)`` clears all of these, so one served fake can be shared across tests.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

from flask import Flask, Response, jsonify, request

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600

# Messages as Twilio words them (https://www.twilio.com/docs/api/errors/<code>).
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}.",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21609: (400, "The StatusCallback URL {url} is not a valid URL."),
    21705: (400, "The Messaging Service is invalid"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21654: (400, "ContentSid Required"),
    21655: (400, "The ContentSid is Invalid"),
    21656: (400, "The ContentVariables Parameter is invalid"),
    21910: (400, "Invalid From and To pair. From and To should be of the same channel"),
}
# A free-form WhatsApp message outside the 24-hour window (reported in its status, not the 201).
OUTSIDE_WINDOW = (
    63016,
    "Failed to send freeform message because you are outside the allowed window. If you are "
    "using WhatsApp, please use a Message Template.",
)
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")

# HTTP status -> the Twilio code its error body carries (for FAIL_NEXT).
_CODE_FOR_STATUS = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}

_ADDRESS = re.compile(r"^(?:[a-z]+:)?\+[1-9]\d{6,14}$")
# As Twilio's OpenAPI description (twilio-oai) has them: docs/twilio-peer.md.
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_CALLBACK = re.compile(r"^https?://[^/?#\s]+\S*$")

# GSM 03.38 basic set, and the extension set (each extension character costs two septets).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """Return roughly how many SMS segments Twilio would bill for `body`."""
    if not body:
        return 1
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in body)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)  # UTF-16 code units
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return ""


def error_body(code: int, **fields: str) -> tuple[dict, int]:
    """Return Twilio's error JSON for `code` and its HTTP status."""
    status, message = ERRORS.get(code, (400, "Error {code}"))
    return (
        {
            "code": code,
            "message": message.format_map(_Fields(code=code, **fields)),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status,
    )


def _json_object(text: str) -> bool:
    """Whether `text` is a JSON object (Twilio's ContentVariables)."""
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def reset_twilio_api(app: Flask) -> None:
    """Forget sent messages and injected failures (to share one served fake across tests)."""
    with app.config["LOCK"]:
        app.config["SENT"].clear()
        app.config["MESSAGES"].clear()
        app.config["REQUESTS"].clear()
        app.config.update(FAIL_TO={}, FAIL_NEXT=[], DELAY=0.0, LOSE_ANSWERS=0)
        app.config.update(RATE=None, REFUSED_FOR_RATE=0, BUCKETS={})
        app.config.update(WINDOW_CLOSED=set(), CALLBACKS=[])
        app.config.update(MEDIA={}, MEDIA_REQUESTS=[], CDN={}, MEDIA_REDIRECT=None, MEDIA_FAIL=None)
        app.config.update(CDN_MODE="length", CDN_DRIP=0.2)
        app.config.update(NUMBERS=set(), SERVICES=set(), ACCOUNT_STATUS="active")


def add_media(app: Flask, base_url: str, data: bytes, content_type: str = "image/jpeg") -> str:
    """Keep `data` as the media of a new received message; its MediaUrl on `base_url` (the
    fake's URL), as Twilio's webhook gives it (no extension)."""
    message_sid = "MM" + secrets.token_hex(16)
    media_sid = "ME" + secrets.token_hex(16)
    account = app.config["ACCOUNT_SID"]
    path = f"/{API_VERSION}/Accounts/{account}/Messages/{message_sid}/Media/{media_sid}"
    with app.config["LOCK"]:
        app.config["MEDIA"][path] = (data, content_type)
    return base_url.rstrip("/") + path


def _other_loopback_name(host: str) -> str:
    """The same server's other name: 127.0.0.1:<port> <-> localhost:<port>."""
    name, _, port = host.partition(":")
    other = "localhost" if name == "127.0.0.1" else "127.0.0.1"
    return f"{other}:{port}" if port else other


def create_twilio_api_app(account_sid: str, auth_token: str) -> Flask:
    """Build a Flask app answering Twilio's Messages API for one account."""
    app = Flask(__name__)
    lock = threading.Lock()
    app.config.update(LOCK=lock, SENT=[], MESSAGES={}, REQUESTS=[])
    app.config.update(FAIL_TO={}, FAIL_NEXT=[], DELAY=0.0, LOSE_ANSWERS=0)
    app.config.update(RATE=None, REFUSED_FOR_RATE=0, BUCKETS={})
    app.config.update(WINDOW_CLOSED=set(), CALLBACKS=[])
    app.config.update(MEDIA={}, MEDIA_REQUESTS=[], CDN={}, MEDIA_REDIRECT=None, MEDIA_FAIL=None)
    app.config.update(CDN_MODE="length", CDN_DRIP=0.2, ACCOUNT_SID=account_sid)
    app.config.update(NUMBERS=set(), SERVICES=set())

    def over_rate(sender: str) -> bool:
        """Take one of the sender's tokens (RATE); True when none was left."""
        rate = app.config.get("RATE")
        if not rate:
            return False
        per_second, burst = rate
        now = time.time()
        with lock:
            tokens, then = app.config["BUCKETS"].get(sender, (burst, now))
            tokens = min(burst, tokens + (now - then) * per_second)
            if tokens < 1:
                app.config["REFUSED_FOR_RATE"] += 1
                app.config["BUCKETS"][sender] = (tokens, now)
                return True
            app.config["BUCKETS"][sender] = (tokens - 1, now)
        return False

    def error(code: int, **fields: str):
        body, status = error_body(code, **fields)
        response = jsonify(body)
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response

    def gate(sid: str):
        """Log, delay, authenticate and apply FAIL_NEXT; return an error response or None."""
        with lock:
            app.config["REQUESTS"].append((request.method, request.path))
        delay = float(app.config.get("DELAY") or 0)
        if delay:
            time.sleep(delay)
        auth = request.authorization
        if (
            auth is None
            or auth.type != "basic"
            or auth.username != account_sid
            or auth.password != auth_token
            or sid != account_sid
        ):
            return error(20003)
        with lock:
            fail_next = app.config["FAIL_NEXT"]
            status = fail_next.pop(0) if fail_next else None
        if status is not None:
            code = _CODE_FOR_STATUS.get(status, 20500)
            body, _ = error_body(code, path=request.path)
            body["status"] = status
            response = jsonify(body)
            response.status_code = status
            return response
        return None

    @app.post(f"/{API_VERSION}/Accounts/<sid>/Messages.json")
    def create_message(sid: str):
        refused = gate(sid)
        if refused is not None:
            return refused
        form = request.form.to_dict(flat=False)
        to = request.form.get("To", "")
        sender = request.form.get("From", "")
        service = request.form.get("MessagingServiceSid", "")
        body = request.form.get("Body", "")
        media = request.form.getlist("MediaUrl")
        content_sid = request.form.get("ContentSid", "")
        if not to:
            return error(21604)
        if not sender and not service:
            return error(21603)
        if not body and not media and not content_sid:
            return error(21602)
        if len(body) > MAX_BODY_CHARS:
            return error(21617)
        if service and not _SERVICE_SID.match(service):
            return error(21705)
        callback = request.form.get("StatusCallback")
        if callback is not None and not _CALLBACK.match(callback):
            return error(21609, url=callback)
        if not _ADDRESS.match(to):
            return error(21211, to=to)
        whatsapp = to.startswith("whatsapp:")
        if sender and whatsapp != sender.startswith("whatsapp:"):
            return error(21910)
        variables = request.form.get("ContentVariables")
        if variables is not None and not content_sid:
            return error(21654)
        if content_sid and not _CONTENT_SID.fullmatch(content_sid):
            return error(21655)
        if variables is not None and not _json_object(variables):
            return error(21656)
        injected = dict(app.config.get("FAIL_TO") or {}).get(to)
        if injected is not None:
            return error(int(injected), to=to)
        if over_rate(service or sender):
            return error(20429)

        message_sid = ("MM" if media else "SM") + secrets.token_hex(16)
        now = _rfc2822(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}"
        message = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": str(len(media)),
            # A Messaging Service picks the sender later, so Twilio answers 0 segments.
            "num_segments": "0" if service and not sender else str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "accepted" if service and not sender else "queued",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": to,
            "uri": f"{uri}.json",
        }
        closed = whatsapp and not content_sid and to in app.config["WINDOW_CLOSED"]
        if closed:  # accepted, then failed: the status callback says why
            failed = dict(message, status="failed", error_code=OUTSIDE_WINDOW[0])
            failed["error_message"] = OUTSIDE_WINDOW[1]
        with lock:
            app.config["MESSAGES"][message_sid] = failed if closed else message
            if closed and callback:
                status = {"MessageSid": message_sid, "MessageStatus": "failed"}
                status |= {"ErrorCode": str(OUTSIDE_WINDOW[0]), "To": to, "From": sender}
                status |= {"AccountSid": account_sid, "ApiVersion": API_VERSION}
                app.config["CALLBACKS"].append({"url": callback, "form": status})
            app.config["SENT"].append(
                {"sid": message_sid, "account_sid": sid, "form": form, "at": time.time()}
            )
            lose = app.config.get("LOSE_ANSWERS", 0) > 0
            if lose:
                app.config["LOSE_ANSWERS"] -= 1
        if lose:
            return error(20500)
        response = jsonify(message)
        response.status_code = 201
        return response

    @app.get(f"/{API_VERSION}/Accounts/<sid>/Messages.json")
    def list_messages(sid: str):
        # Twilio's Message list: newest first, filtered by To and From, paged by PageSize.
        refused = gate(sid)
        if refused is not None:
            return refused
        to, sender = request.args.get("To"), request.args.get("From")
        size = min(int(request.args.get("PageSize", 50)), 1000)
        with lock:
            found = [
                m
                for m in reversed(list(app.config["MESSAGES"].values()))
                if (not to or m["to"] == to) and (not sender or m["from"] == sender)
            ][:size]
        uri = f"/{API_VERSION}/Accounts/{sid}/Messages.json?PageSize={size}&Page=0"
        return jsonify(
            {
                "messages": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    @app.get(f"/{API_VERSION}/Accounts/<sid>/Messages/<message_sid>.json")
    def fetch_message(sid: str, message_sid: str):
        refused = gate(sid)
        if refused is not None:
            return refused
        with lock:
            message = app.config["MESSAGES"].get(message_sid)
        if message is None:
            return error(20404, path=request.path)
        return jsonify(message)

    @app.get(f"/{API_VERSION}/Accounts/<sid>.json")
    def fetch_account(sid: str):
        refused = gate(sid)
        if refused is not None:
            return refused
        status = app.config.get("ACCOUNT_STATUS") or "active"
        return jsonify(
            {"sid": sid, "friendly_name": "intake311 test", "status": status, "type": "Full"}
        )

    @app.get(f"/{API_VERSION}/Accounts/<sid>/IncomingPhoneNumbers.json")
    def list_numbers(sid: str):
        refused = gate(sid)
        if refused is not None:
            return refused
        wanted = request.args.get("PhoneNumber")
        with lock:
            owned = sorted(app.config["NUMBERS"])
        found = [
            {"sid": f"PN{index:032x}", "account_sid": sid, "phone_number": number}
            for index, number in enumerate(owned)
            if not wanted or number == wanted
        ]
        uri = f"/{API_VERSION}/Accounts/{sid}/IncomingPhoneNumbers.json?PageSize=50&Page=0"
        return jsonify(
            {
                "incoming_phone_numbers": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    @app.get("/v1/Services/<service_sid>")
    def fetch_messaging_service(service_sid: str):
        refused = gate(account_sid)
        if refused is not None:
            return refused
        with lock:
            known = service_sid in app.config["SERVICES"]
        if not known:
            return error(20404, path=request.path)
        return jsonify(
            {"sid": service_sid, "account_sid": account_sid, "friendly_name": "intake311 test"}
        )

    def record_media_request() -> None:
        with lock:
            app.config["MEDIA_REQUESTS"].append(
                {
                    "host": request.host,
                    "path": request.path,
                    "authorized": "Authorization" in request.headers,
                }
            )

    @app.get(f"/{API_VERSION}/Accounts/<sid>/Messages/<message_sid>/Media/<media_sid>")
    def fetch_media(sid: str, message_sid: str, media_sid: str):
        # Without an extension, Twilio answers the file itself: here, as with HTTP auth on, a
        # redirect to a short-lived URL on its media CDN.
        record_media_request()
        if app.config["MEDIA_FAIL"]:
            return error(_CODE_FOR_STATUS.get(app.config["MEDIA_FAIL"], 20500))
        refused = gate(sid)
        if refused is not None:
            return refused
        with lock:
            found = app.config["MEDIA"].get(request.path)
            key = secrets.token_urlsafe(24)
            if found is not None:
                app.config["CDN"][key] = request.path
        if found is None:
            return error(20404, path=request.path)
        base = app.config["MEDIA_REDIRECT"] or f"http://{_other_loopback_name(request.host)}"
        response = Response(status=307)
        response.headers["Location"] = f"{base.rstrip('/')}/cdn/{key}"
        return response

    @app.get("/cdn/<key>")
    def cdn(key: str):
        record_media_request()
        with lock:
            path = app.config["CDN"].get(key)
            found = app.config["MEDIA"].get(path) if path else None
        if found is None:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403, mimetype="text/xml")
        data, content_type = found
        mode = app.config["CDN_MODE"]
        if mode == "length":
            return Response(data, mimetype=content_type)
        drip = float(app.config["CDN_DRIP"])

        def chunks():
            if mode == "drip":
                for index in range(min(len(data), 600)):
                    time.sleep(drip)
                    yield data[index : index + 1]
            else:
                for start in range(0, len(data), 16 * 1024):
                    yield data[start : start + 16 * 1024]

        return Response(chunks(), mimetype=content_type)

    return app
