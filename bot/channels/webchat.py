"""Web chat: a chat box a city's website embeds (or links to), speaking plain JSON.

The page (served at `/webhooks/webchat/`, `webchat.html`) asks for a session, then posts what
the resident types and polls for the bot's replies:
- `POST /webhooks/webchat/session` -> `{"token": "<session>.<signature>"}`: a new session; the
  signature is an HMAC of the session id with `WEBCHAT_SECRET`, so a token cannot be forged
  and the server keeps no table of sessions. A client (IP address) past
  WEBCHAT_SESSIONS_PER_CLIENT gets a 429 with Retry-After and `{"error": "..."}`, which the
  page shows.
- `POST /webhooks/webchat` with `Authorization: Bearer <token>` and
  `{"id": "<the page's id for this message>", "text": "...", "reply_to": "<id of the reply
  whose button was tapped>"}`: one message (the page's id makes a resent one a redelivery).
- `GET /webhooks/webchat/messages?after=N` with the same header -> `{"messages": [{"seq": n,
  "id": ..., "text": ..., "options": [...], "expects": ...}]}`: the replies after `seq` N.

Replies wait for the page in a Redis list per session (this channel's "provider"), kept for
MAILBOX_HOURS after the last one and trimmed to MAILBOX_SIZE: a resident who closes the page
loses nothing the bot said in the meantime, and nothing is kept for long.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import cast

import redis

from bot import ratelimits
from bot.channels import fields
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Event,
    Inbound,
    MalformedInbound,
    Outgoing,
    SendError,
    WebReply,
    WebRequest,
)
from bot.languages import load_languages
from bot.payloads import InboundPayload, ReplyIntent
from bot.settings import Settings
from conversations import texts
from conversations.language import ENGLISH

NAME = "webchat"
WEBHOOK_PATH = "/webhooks/webchat"
MAX_TEXT = 2000  # characters the page accepts in one message, and the bot's budget per reply
MAILBOX_HOURS = 24
MAILBOX_SIZE = 200
# An erased resident's mailbox stays only until an open page has read the last reply.
FORGOTTEN_MAILBOX_SECONDS = 600
SESSION_BYTES = 16
MAX_ID = 128  # characters of a reply id the page may name (a provider id's column width)
MAX_PAGE_ID = 64  # characters of the page's own id for a message
# The page posts one message of MAX_TEXT characters (at most 6 bytes each as JSON) and two ids:
# a body larger than this is refused (413) before it is read.
MAX_REQUEST_BYTES = 32 * 1024
# What the page shows a client past WEBCHAT_SESSIONS_PER_CLIENT (bot.ratelimits).
SESSIONS_REFUSED = "Too many chats were started from here. Please try again later."


def _signature(session: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), session.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_token(secret: str) -> str:
    """A new session's token: its id and the id's signature."""
    session = secrets.token_urlsafe(SESSION_BYTES)
    return f"{session}.{_signature(session, secret)}"


def session_of(token: str, secret: str) -> str | None:
    """The session a token names, or None when its signature is not ours."""
    session, dot, signature = token.partition(".")
    if not dot or not session or not secret:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(session, secret).encode()):
        return None
    return session


def _bearer(request: WebRequest) -> str:
    scheme, _, token = request.header("Authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5)


def _mailbox(session: str) -> str:
    return f"intake311:webchat:{session}"


def _json(body: object, status: int = 200, headers: tuple = ()) -> WebReply:
    return WebReply(
        status=status, body=json.dumps(body), content_type="application/json", headers=headers
    )


def buttons_for(reply: ReplyIntent | None, settings: Settings) -> list[list[str]]:
    """The page's buttons for a reply, as [label, what a tap sends], in its language."""
    if reply is None:
        return []
    if reply.expects == "choice":
        return [[label, str(n)] for n, label in enumerate(reply.options, start=1)]
    if reply.expects in ("yes_no", "yes_no_private"):
        say = load_languages(settings.locale_dir or None).get(reply.language or "en", ENGLISH)
        labels = [(texts.YES_BUTTON, "yes"), (texts.NO_BUTTON, "no")]
        if reply.expects == "yes_no_private":
            labels.insert(1, (texts.PRIVATE_BUTTON, "private"))
        return [[say(label), value] for label, value in labels]
    return []


def page() -> str:
    """The chat page (HTML with its script; every text is set as text, never as HTML)."""
    return resources.files("bot.channels").joinpath("webchat.html").read_text(encoding="utf-8")


class WebChat(Channel):
    """A chat box on the city's website."""

    name = NAME
    scheme = NAME
    webhook_path = WEBHOOK_PATH
    provider = "Web chat"
    max_request_bytes = MAX_REQUEST_BYTES
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        buttons=True,
        text_budget=MAX_TEXT,
        budget_unit="characters",
        finds_sent=True,
    )

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Refuse a message without a session token we signed."""
        if not settings.webchat_secret:
            return "WEBCHAT_SECRET is not set"
        token = _bearer(request)
        if not token:
            return "no bearer token"
        if session_of(token, settings.webchat_secret) is None:
            return "the token's signature does not match WEBCHAT_SECRET"
        return None

    def parse(self, request: WebRequest) -> list[Event]:
        """One message from the page."""
        if request.subpath not in ("", "/"):
            raise MalformedInbound(f"no web chat webhook at {request.subpath!r}")
        data = request.json
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise MalformedInbound('not a web chat message (no "text")')
        message_id = data.get("id")
        if message_id is not None and message_id != "":
            message_id = fields.identifier(message_id, MAX_PAGE_ID, '"id"')
        # Not one of our ids: the tap is read as typed words.
        reply_to = fields.optional_identifier(data.get("reply_to"), MAX_ID)
        session = _bearer(request).partition(".")[0]
        return [
            Inbound(
                channel=NAME,
                address=self.address_for(session),
                external_id=f"in:{session}:{message_id}" if message_id else None,
                text=fields.text(data["text"], MAX_TEXT),
                payload=InboundPayload(reply_to=reply_to, raw={"id": message_id}),
            )
        ]

    def answer(self, request: WebRequest, events: list[Event]) -> WebReply:
        """The page needs only to know the message is kept."""
        return _json({"ok": True})

    def serve(self, request: WebRequest, settings: Settings) -> WebReply | None:
        """The page itself, a new session, and the replies waiting for a session."""
        path = request.subpath.rstrip("/")
        if not settings.webchat_secret:
            return _json({"error": "web chat is off (WEBCHAT_SECRET is not set)"}, 404)
        if request.method == "GET" and path == "":
            return WebReply(body=page(), content_type="text/html; charset=utf-8")
        if request.method == "POST" and path == "/session":
            refused = ratelimits.session_refusal(request.remote_addr, settings)
            if refused is not None:  # sessions are free to make: each a new sender
                return _json(
                    {"error": SESSIONS_REFUSED},
                    429,
                    headers=(("Retry-After", str(refused.seconds)),),
                )
            return _json({"token": new_token(settings.webchat_secret)})
        if request.method == "GET" and path == "/messages":
            session = session_of(_bearer(request), settings.webchat_secret)
            if session is None:
                return _json({"error": "no valid session token"}, 403)
            try:
                after = int(request.query.get("after") or 0)
            except ValueError:
                return _json({"error": "after must be a number"}, 400)
            try:
                replies, last = self.waiting(session, after, settings)
            except redis.RedisError:
                return _json({"error": "temporarily unavailable"}, 503)
            return _json({"messages": replies, "last": last})
        return None

    def waiting(self, session: str, after: int, settings: Settings) -> tuple[list[dict], int]:
        """The replies for `session` numbered after `after`, oldest first, and the number of
        the newest reply (lower than `after` once an idle mailbox expired and began again)."""
        connection = _redis(settings.redis_url)
        # A sync client: redis-py types its answers as maybe awaitable.
        entries = cast(list[bytes], connection.lrange(_mailbox(session), 0, -1))
        last = int(cast(bytes | None, connection.get(_mailbox(session) + ":seq")) or 0)
        replies = [json.loads(entry) for entry in entries]
        return [reply for reply in replies if reply["seq"] > after], last

    def forget(self, address: str, settings: Settings) -> None:
        """The erased resident's mailbox expires in FORGOTTEN_MAILBOX_SECONDS, not a day."""
        key = _mailbox(address.removeprefix(f"{NAME}:"))
        try:
            pipe = _redis(settings.redis_url).pipeline()
            for name in (key, key + ":seq"):
                pipe.expire(name, FORGOTTEN_MAILBOX_SECONDS)
            pipe.execute()
        except redis.RedisError:
            pass  # it expires MAILBOX_HOURS after the last reply all the same

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Put the reply in the session's mailbox; its provider id is '<session>:<our id>'."""
        session = out.address.removeprefix(f"{NAME}:")
        key = _mailbox(session)
        reply = out.reply
        try:
            buttons = buttons_for(reply, settings)
            connection = _redis(settings.redis_url)
            seq = connection.incr(key + ":seq")
            provider_id = f"{session}:{out.message_id}"
            entry = {
                "seq": seq,
                "id": provider_id,
                "message_id": out.message_id,
                # The engine's words alone where buttons offer the options; else the plain
                # text, with the options as numbered lines.
                "text": (reply.text if reply and buttons else "") or out.text,
                "options": list(reply.options) if reply else [],
                "expects": reply.expects if reply else "text",
                "buttons": buttons,
                "media_url": out.payload.media_url,
            }
            pipe = connection.pipeline()
            pipe.rpush(key, json.dumps(entry))
            pipe.ltrim(key, -MAILBOX_SIZE, -1)
            for name in (key, key + ":seq"):
                pipe.expire(name, MAILBOX_HOURS * 3600)
            pipe.execute()
        except redis.RedisError as exc:
            raise SendError(f"web chat mailbox unavailable: {exc}", retryable=True) from exc
        return provider_id

    def find_sent(
        self, out: Outgoing, since: datetime, settings: Settings, taken: set[str]
    ) -> str | None:
        """The reply's id if an earlier attempt put it in the mailbox."""
        session = out.address.removeprefix(f"{NAME}:")
        try:
            entries = cast(list[bytes], _redis(settings.redis_url).lrange(_mailbox(session), 0, -1))
        except redis.RedisError as exc:
            raise SendError(f"web chat mailbox unavailable: {exc}", retryable=True) from exc
        for entry in entries:
            reply = json.loads(entry)
            if reply.get("message_id") == out.message_id:
                return reply["id"]
        return None


CHANNEL = WebChat()
