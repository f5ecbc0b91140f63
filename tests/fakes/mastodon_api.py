"""A local server speaking Mastodon's REST API, for driving Mastodon.py's real client.

Built from Mastodon's API documentation (docs.joinmastodon.org: methods/notifications,
methods/statuses, methods/accounts#verify_credentials, methods/instance, api/rate-limits; see
tests/fixtures/mastodon/SOURCES.md). Every `/api/` call but the instance's needs
`Authorization: Bearer <token>` (401 `{"error": "The access token is invalid"}` otherwise) and
is answered with the rate-limit headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`, an ISO
time at the end of the 5-minute period). Knobs in ``app.config``:

- ``CALLS``: every API call, in order, as ``{"method", "path", "query", "form", "headers"}``
  (``query`` and ``form`` as lists per name, ``headers`` the Idempotency-Key alone).
- ``NOTIFICATIONS``: the account's notifications (``add_notification``); `GET
  /api/v1/notifications` filters them by ``types[]``/``exclude_types[]``, pages them by
  ``max_id``, ``since_id``, ``min_id`` and ``limit`` (40 by default, at most 80) as Mastodon
  does (``min_id``: the page immediately newer than it), newest first, with a Link header
  (``rel="next"`` with ``max_id``, ``rel="prev"`` with ``min_id``) when the page is not empty.
  As Mastodon 4.3's default NotificationPolicy does (``for_private_mentions: filter``), a
  direct mention from an account the city's does not follow (``FOLLOWING``, account ids) that
  answers none of its posts is filtered: left out unless ``include_filtered=true``.
  ``POLICY`` is the policy `GET /api/v2/notifications/policy` answers (None: 404, an
  instance before 4.3).
- ``STATUSES``: the statuses posted (`POST /api/v1/statuses`), by id; a second POST with an
  ``Idempotency-Key`` already used answers the first one's status and posts nothing.
  ``KNOWN_STATUSES`` are the ids a reply may answer (404 "Record not found" for another).
  A status over 500 characters (a mention counted as ``@username``, a link as 23) is 422.
- ``FAIL_NEXT``: ``[503, 429, ...]``: the next calls answer those statuses (one each; 429 with
  ``RESET_IN`` seconds in its X-RateLimit-Reset, and ``RETRY_AFTER``, when set, as its
  Retry-After: a proxy's); ``DROP_NEXT_POST``: the next status is
  posted but its answer is a 502 (a lost answer).
- ``MEDIA``: ``{path: bytes}`` served at that path (an attachment's file, no credentials).

``reset_mastodon_api(app)`` clears them. The module also builds notifications as Mastodon
writes them, from the recorded fixtures (``mention``).
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mastodon"
RATE_LIMIT = 300
DEFAULT_LIMIT = 40
MAX_LIMIT = 80
MAX_CHARS = 500
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@([A-Za-z0-9_]+)(?:@[A-Za-z0-9.-]+(?::[0-9]+)?)?")


# Mastodon 4.3's defaults (docs.joinmastodon.org/entities/NotificationPolicy).
DEFAULT_POLICY = {
    "for_not_following": "accept",
    "for_not_followers": "accept",
    "for_new_accounts": "accept",
    "for_private_mentions": "filter",
    "for_limited_accounts": "filter",
    "summary": {"pending_requests_count": 0, "pending_notifications_count": 0},
}


def fixture(name: str) -> dict:
    """A recorded payload from tests/fixtures/mastodon/."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def reset_mastodon_api(app: Flask) -> None:
    """Forget calls, notifications, statuses and injected failures."""
    with app.config["LOCK"]:
        app.config["CALLS"].clear()
        app.config.update(
            NOTIFICATIONS=[],
            STATUSES={},
            KNOWN_STATUSES=set(),
            IDEMPOTENCY={},
            FAIL_NEXT=[],
            RESET_IN=30,
            RETRY_AFTER=None,
            DROP_NEXT_POST=False,
            MEDIA={},
            REMAINING=RATE_LIMIT,
            FOLLOWING=set(),
            POLICY=copy.deepcopy(DEFAULT_POLICY),
        )


_ids = itertools.count(110000000000000001)


def next_id() -> str:
    """A fresh id, larger than every earlier one (Mastodon's ids grow with time)."""
    return str(next(_ids))


def mention(
    acct: str,
    content: str,
    *,
    visibility: str = "public",
    account_id: str = "971724",
    bot: bool = False,
    media: list[dict] | None = None,
    spoiler_text: str = "",
    created_at: datetime | None = None,
) -> dict:
    """A mention notification as Mastodon writes it (the recorded one, with these values)."""
    note = fixture("notification_mention")
    status_id, note_id = next_id(), next_id()
    when = (created_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    account = note["account"] | {
        "id": account_id,
        "acct": acct,
        "username": acct.split("@")[0],
        "bot": bot,
    }
    note.update(id=note_id, created_at=when, account=account)
    note["status"].update(
        id=status_id,
        created_at=when,
        in_reply_to_id=None,
        in_reply_to_account_id=None,
        visibility=visibility,
        content=content,
        spoiler_text=spoiler_text,
        account=copy.deepcopy(account),
        media_attachments=media or [],
    )
    return note


def add_notification(app: Flask, notification: dict) -> dict:
    """Keep `notification` for the account (its status may then be replied to)."""
    with app.config["LOCK"]:
        app.config["NOTIFICATIONS"].append(notification)
        status = notification.get("status")
        if isinstance(status, dict):
            app.config["KNOWN_STATUSES"].add(status["id"])
    return notification


def posted(app: Flask) -> list[dict]:
    """The form of every status posted (once per status), with its id and Idempotency-Key."""
    return [
        {
            "id": status["id"],
            "status": status["_text"],
            "visibility": status["visibility"],
            "in_reply_to_id": status["in_reply_to_id"],
            "idempotency_key": status["_key"],
        }
        for status in app.config["STATUSES"].values()
    ]


def _counted(text: str) -> int:
    return len(_MENTION.sub(lambda m: "@" + m.group(1), _URL.sub("x" * 23, text)))


def _order(value: str) -> tuple[int, str]:
    return (len(value), value)


def create_mastodon_api_app(token: str, account: dict | None = None) -> Flask:
    """Build a Flask app answering Mastodon's API for the account with `token`."""
    app = Flask(__name__)
    app.config.update(LOCK=threading.Lock(), CALLS=[])
    reset_mastodon_api(app)
    me = account or fixture("account_credentials")

    def reset_at() -> datetime:
        now = datetime.now(UTC)
        return now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)

    def limited(response: Response, remaining: int | None = None) -> Response:
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        left = app.config["REMAINING"] if remaining is None else remaining
        response.headers["X-RateLimit-Remaining"] = str(left)
        response.headers["X-RateLimit-Reset"] = reset_at().isoformat().replace("+00:00", "Z")
        return response

    def error(status: int, message: str) -> Response:
        response = jsonify({"error": message})
        response.status_code = status
        return response

    @app.before_request
    def record_and_check():
        if not request.path.startswith("/api/"):
            return None
        with app.config["LOCK"]:
            app.config["CALLS"].append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.args.to_dict(flat=False),
                    "form": request.form.to_dict(flat=False),
                    "headers": {
                        k: v for k, v in request.headers.items() if k.lower() == "idempotency-key"
                    },
                }
            )
            failure = app.config["FAIL_NEXT"].pop(0) if app.config["FAIL_NEXT"] else None
            app.config["REMAINING"] = max(0, app.config["REMAINING"] - 1)
        if request.path.startswith("/api/v1/instance") or request.path.startswith(
            "/api/v2/instance"
        ):
            return None
        if request.headers.get("Authorization") != f"Bearer {token}":
            return limited(error(401, "The access token is invalid"))
        if failure == 429:
            response = limited(error(429, "Too many requests"), remaining=0)
            at = datetime.now(UTC) + timedelta(seconds=app.config["RESET_IN"])
            response.headers["X-RateLimit-Reset"] = at.isoformat().replace("+00:00", "Z")
            if app.config["RETRY_AFTER"] is not None:
                response.headers["Retry-After"] = str(app.config["RETRY_AFTER"])
            return response
        if failure:
            return error(failure, "Service unavailable")
        return None

    @app.get("/api/v1/instance")
    def instance_v1():
        host = request.host.split(":")[0]
        return limited(
            jsonify(
                {
                    "uri": host,
                    "title": "Springfield Social",
                    "short_description": "",
                    "description": "",
                    "email": "",
                    "version": "4.3.0",
                    "urls": {},
                    "stats": {"user_count": 1, "status_count": 0, "domain_count": 1},
                    "languages": ["en"],
                    "registrations": False,
                    "approval_required": False,
                    "invites_enabled": False,
                    "configuration": {"statuses": {"max_characters": MAX_CHARS}},
                }
            )
        )

    @app.get("/api/v2/instance")
    def instance_v2():
        host = request.host.split(":")[0]
        return limited(
            jsonify(
                {
                    "domain": host,
                    "title": "Springfield Social",
                    "version": "4.3.0",
                    "source_url": "https://github.com/mastodon/mastodon",
                    "description": "",
                    "usage": {"users": {"active_month": 1}},
                    "languages": ["en"],
                    "configuration": {
                        "statuses": {
                            "max_characters": MAX_CHARS,
                            "max_media_attachments": 4,
                            "characters_reserved_per_url": 23,
                        }
                    },
                    "registrations": {"enabled": False, "approval_required": False},
                    "api_versions": {"mastodon": 2},
                }
            )
        )

    @app.get("/api/v1/accounts/verify_credentials")
    def verify_credentials():
        return limited(jsonify(me))

    @app.get("/api/v1/notifications")
    def notifications():
        args = request.args
        types = args.getlist("types[]")
        excluded = args.getlist("exclude_types[]")
        try:
            limit = min(int(args.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        except ValueError:
            return error(422, "limit is not a number")
        include_filtered = args.get("include_filtered", "").lower() in ("true", "1")
        with app.config["LOCK"]:
            found = [
                n
                for n in app.config["NOTIFICATIONS"]
                if (not types or n["type"] in types)
                and n["type"] not in excluded
                and (include_filtered or not filtered(n))
            ]
        found.sort(key=lambda n: _order(n["id"]), reverse=True)
        if "max_id" in args:
            found = [n for n in found if _order(n["id"]) < _order(args["max_id"])]
        if "since_id" in args:
            found = [n for n in found if _order(n["id"]) > _order(args["since_id"])]
        if "min_id" in args:
            above = [n for n in found if _order(n["id"]) > _order(args["min_id"])]
            page = sorted(above, key=lambda n: _order(n["id"]))[:limit]
            page.reverse()
        else:
            page = found[:limit]
        response = limited(jsonify(page))
        if page:
            kept = {"limit": limit, "types[]": types} if types else {"limit": limit}
            base = request.base_url
            newer = urlencode({**kept, "min_id": page[0]["id"]}, doseq=True)
            older = urlencode({**kept, "max_id": page[-1]["id"]}, doseq=True)
            response.headers["Link"] = f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
        return response

    def filtered(note: dict) -> bool:
        """Whether the policy filters `note`: a private mention that is no answer to us, from
        an account we do not follow (Mastodon 4.3's NotificationPolicy)."""
        status = note.get("status") or {}
        return (
            app.config["POLICY"] is not None
            and app.config["POLICY"].get("for_private_mentions") == "filter"
            and note["type"] == "mention"
            and status.get("visibility") == "direct"
            and status.get("in_reply_to_account_id") != me["id"]
            and note["account"]["id"] not in app.config["FOLLOWING"]
        )

    @app.get("/api/v2/notifications/policy")
    def notifications_policy():
        if app.config["POLICY"] is None:
            return limited(error(404, "Record not found"))
        return limited(jsonify(app.config["POLICY"]))

    @app.post("/api/v1/statuses")
    def post_status():
        form = request.form
        text = form.get("status", "")
        key = request.headers.get("Idempotency-Key")
        with app.config["LOCK"]:
            if key and key in app.config["IDEMPOTENCY"]:
                return limited(
                    jsonify(_public(app.config["STATUSES"][app.config["IDEMPOTENCY"][key]]))
                )
        visibility = form.get("visibility", "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return limited(error(422, "Validation failed: Visibility is not included in the list"))
        if not text.strip():
            return limited(error(422, "Validation failed: Text can't be blank"))
        if _counted(text) > MAX_CHARS:
            return limited(
                error(422, f"Validation failed: Text character limit of {MAX_CHARS} exceeded")
            )
        reply_to = form.get("in_reply_to_id") or None
        with app.config["LOCK"]:
            if reply_to and reply_to not in app.config["KNOWN_STATUSES"]:
                return limited(error(404, "Record not found"))
            status_id = next_id()
            status = {
                "id": status_id,
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "in_reply_to_id": reply_to,
                "in_reply_to_account_id": None,
                "sensitive": False,
                "spoiler_text": "",
                "visibility": visibility,
                "language": "en",
                "uri": f"{request.host_url}users/{me['username']}/statuses/{status_id}",
                "url": f"{request.host_url}@{me['username']}/{status_id}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "content": "<p>" + html.escape(text).replace("\n", "<br />") + "</p>",
                "reblog": None,
                "application": {"name": "intake311", "website": None},
                "account": me,
                "media_attachments": [],
                "mentions": [],
                "tags": [],
                "emojis": [],
                "card": None,
                "poll": None,
                "_text": text,
                "_key": key,
            }
            app.config["STATUSES"][status_id] = status
            app.config["KNOWN_STATUSES"].add(status_id)
            if key:
                app.config["IDEMPOTENCY"][key] = status_id
            drop = app.config["DROP_NEXT_POST"]
            app.config["DROP_NEXT_POST"] = False
        if drop:
            return error(502, "Bad gateway")
        return limited(jsonify(_public(status)))

    @app.get("/<path:path>")
    def media(path: str):
        data = app.config["MEDIA"].get("/" + path)
        if data is None:
            return error(404, "Record not found")
        return Response(data, content_type="image/jpeg")

    return app


def _public(status: dict) -> dict:
    return {k: v for k, v in status.items() if not k.startswith("_")}
