"""X (Twitter): direct messages and public mentions of the city's account, through the Account
Activity API's webhook; direct messages and public replies out, through tweepy.

In: X calls `/webhooks/x`.
- A GET with `crc_token` is the Challenge-Response Check (at registration, about hourly, and on
  `PUT /2/webhooks/:id`): answered `{"response_token": "sha256=" + base64(HMAC-SHA256(consumer
  secret, crc_token))}` (X's "Securing webhooks" and V2 Webhooks quickstart, see
  tests/fixtures/x/SOURCES.md).
- Every POST carries `x-twitter-webhooks-signature`: "sha256=" + base64 of the HMAC-SHA256 of
  the raw body with the consumer secret; checked, in constant time, before the body is read.
- The body names our account (`for_user_id`): a call naming another than X_ACCESS_TOKEN's (its
  numeric prefix: "<user id>-<token>") is refused 403 "not our account". It carries, by kind:
  `direct_message_events` (type `message_create`): a resident's DM is an Inbound from
  `x:<sender_id>`, its words (or, for a tapped quick reply, its metadata) and its photo;
  `tweet_create_events`: a post that @mentions our account is an Inbound from `x:<author id>`
  with `public_post` = the post's id and the post's words without the leading @mentions (and
  without the links X adds for its photos), its photos as media; `block_events` /
  `unblock_events` by a resident against our account: a Membership. Our own DMs and posts
  (sender or author is `for_user_id`), retweets, posts that do not mention us, and every other
  kind (favorite_events, follow_events, direct_message_indicate_typing_events,
  direct_message_mark_read_events, tweet_delete_events, user_event...) are Ignored.
- The `users` map (names, screen names, pictures) is never read: a contact is its numeric
  user id alone, never a screen name, in the database, the logs and `raw`.
- Provider ids, unique per channel across both directions: inbound `in:dm:<event id>` and
  `in:tweet:<post id>`; ours `dm:<dm event id>` and `tweet:<post id>`. A replayed event (X
  retries, and the Account Activity replay API) has the same id and is stored once. A send X
  took without naming an id gets one of ours: `tweet:dup:<our message id>` for a public reply
  X refused as a duplicate (its words carry our message's number, so the post X has seen is
  this message's, made by an attempt whose answer was lost), and `tweet:unnamed:<id>` /
  `dm:unnamed:<id>` for a 2xx answer without a readable id (not JSON, say): sent, not retried.

Out (`send`): a message whose payload has `public_reply_to` is posted PUBLICLY, as a reply to
that post (create_tweet(text=..., in_reply_to_tweet_id=...)): the worker makes those, with the
bot's fixed words and nothing of the resident. Every other message is a direct message
(create_direct_message(participant_id=..., text=...): POST
/2/dm_conversations/with/:participant_id/messages), its options as numbered lines (X's v2
direct messages have no quick replies). Nothing is ever posted publicly that is not marked so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from urllib.parse import urlsplit

import requests
import tweepy  # type: ignore[import-untyped]

from bot.channels import fields, x_api
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Membership,
    Outgoing,
    SendError,
    SendRate,
    WebReply,
    WebRequest,
)
from bot.media.download import DEFAULT_PORTS, parse_url
from bot.media.types import MediaRefused, MediaRequest
from bot.payloads import InboundPayload
from bot.settings import Settings

log = logging.getLogger(__name__)

NAME = "x"
WEBHOOK_PATH = "/webhooks/x"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
MAX_DM = 10_000  # characters in one direct message (X's limit)
MAX_POST = 280  # characters in one post (X counts some characters double: ours are plain)
MAX_CRC_TOKEN = 512
_CRC_TOKEN = re.compile(rf"[A-Za-z0-9+/=_-]{{1,{MAX_CRC_TOKEN}}}")
MAX_EVENTS = 100  # events of one kind read from one call (X batches a few)
# A call holds a few posts of a few kB each: a body larger than this is refused (413) unread.
MAX_REQUEST_BYTES = 512 * 1024
# Where a post's photos are (public) and a direct message's (signed with OAuth 1.0a).
PHOTO_HOST = "pbs.twimg.com"
DM_MEDIA_HOST = "ton.twitter.com"
DM_MEDIA_PATH = "/1.1/ton/data/dm/"
# Our error codes (Message.error_code) for X's refusals that staff can act on.
DM_CLOSED = "dm-closed"
DUPLICATE = "duplicate"
NOT_PUBLIC = "not-public"
# X's "too many requests": bot.jobs.delivery's RATE_LIMITED (nothing sent, no attempt counted,
# the account's pacing bucket held for `retry_after`).
RATE_LIMITED = "429"
# The headers of a 429, each reset (epoch seconds) with the count left in its limit: the
# endpoint's 15-minute window, and the 24-hour caps of the account and of the app.
RATE_RESETS = (
    ("x-rate-limit-reset", "x-rate-limit-remaining"),
    ("x-user-limit-24hour-reset", "x-user-limit-24hour-remaining"),
    ("x-app-limit-24hour-reset", "x-app-limit-24hour-remaining"),
)
# Provider ids of our own making, for a send X took without naming its id (X's are digits, so
# these never meet one): "tweet:dup:<our message id>", a public reply X refused as a duplicate
# of the post an earlier attempt made; "tweet:unnamed:<id>" and "dm:unnamed:<id>", a send X
# answered 2xx without an id we could read.
DUPLICATE_ID = "tweet:dup:"
UNNAMED = "unnamed:"
MIN_RATE_WAIT = 60.0  # a 429 that names no usable reset: never retried sooner
MAX_RATE_WAIT = 24 * 3600.0 + 60.0

HANDLED = frozenset(
    {"direct_message_events", "tweet_create_events", "block_events", "unblock_events"}
)
_ID = re.compile(r"[0-9]{1,20}")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,50})+\s*")
_PHOTO_PATH = re.compile(r"/media/[A-Za-z0-9_-]{1,64}\.(?:jpg|jpeg|png|webp)")
_DM_MEDIA_PATH = re.compile(r"/1\.1/ton/data/dm/[0-9]{1,20}/[0-9]{1,20}/[A-Za-z0-9_.-]{1,80}")
# X's words when a resident does not take direct messages from the account, and for a post it
# has seen before (v1.1's 349 and 187; v2 words them in its problem's "detail").
_DM_CLOSED_WORDS = ("cannot send messages", "not permitted to send", "not allowed to send")
_DUPLICATE_WORDS = ("duplicate",)


def address_for(user_id: str) -> str:
    """The contact address of an X user (their numeric id)."""
    return f"{NAME}:{user_id}"


def user_id_of(address: str) -> str:
    """The user id in an 'x:<user id>' address; SendError if it is not one."""
    user_id = address.removeprefix(f"{NAME}:")
    if not address.startswith(f"{NAME}:") or not _ID.fullmatch(user_id):
        raise SendError("not an X address", retryable=False)
    return user_id


# --- the webhook's security ------------------------------------------------------------------


def signature(secret: str, message: bytes) -> str:
    """X's signature of `message`: "sha256=" + base64(HMAC-SHA256(secret, message))."""
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response(secret: str, crc_token: str) -> dict[str, str]:
    """The answer to a Challenge-Response Check."""
    return {"response_token": signature(secret, crc_token.encode())}


def account_id(settings: Settings) -> str | None:
    """The city's account id: X_ACCESS_TOKEN's numeric prefix (X issues an account's access
    token as "<user id>-<token>"); None when the token has none."""
    prefix, dash, _rest = settings.x_access_token.strip().partition("-")
    return prefix if dash and _ID.fullmatch(prefix) else None


# --- inbound -----------------------------------------------------------------------------------


def _id(value: object, name: str) -> str:
    """A numeric id as X sends it (a string of digits; an integer is read too)."""
    if type(value) is int and 0 <= value < 10**20:
        value = str(value)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise MalformedInbound(f"{name} is not an X id")
    return value


def _mapping(value: object, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise MalformedInbound(f"{name} is not an object")
    return value


def _list(data: Mapping, key: str) -> list:
    """The events of one kind, at most MAX_EVENTS; MalformedInbound if it is not a list."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedInbound(f"{key} is not a list")
    if len(value) > MAX_EVENTS:
        log.warning(
            "X: %d of %d %s dropped (%d read)", len(value) - MAX_EVENTS, len(value), key, MAX_EVENTS
        )
    return value[:MAX_EVENTS]


def _each(data: Mapping, kind: str, read: Callable[[Mapping], Event]) -> list[Event]:
    """The events of one kind, each read by `read`: one that cannot be read is Ignored (its
    reason, ours, logged; nothing of the resident's), and the others kept."""
    try:
        items = _list(data, kind)
    except MalformedInbound as problem:
        log.warning("X: unreadable %s ignored: %s", kind, problem)
        return [Ignored(f"unreadable {kind}: {problem}")]
    events: list[Event] = []
    for item in items:
        try:
            events.append(read(_mapping(item, kind)))
        except MalformedInbound as problem:
            log.warning("X: an unreadable item of %s ignored: %s", kind, problem)
            events.append(Ignored(f"unreadable item of {kind}: {problem}"))
        except Exception as exc:  # a reader's bug: that item alone is lost, never the call
            # Its type only: its words (or a traceback's) may quote the item.
            log.error("X: an item of %s ignored (%s)", kind, type(exc).__name__)
            events.append(Ignored(f"unreadable item of {kind} ({type(exc).__name__})"))
    return events


def parse_activity(data: object) -> list[Event]:
    """Read one Account Activity call; MalformedInbound (400) only when the call as a whole
    cannot be read (not a JSON object, or no `for_user_id`): an event that cannot be read is
    Ignored, and the call's others kept."""
    if not isinstance(data, Mapping):
        raise MalformedInbound("not an Account Activity event (not a JSON object)")
    account = _id(data.get("for_user_id"), "for_user_id")
    events: list[Event] = []
    events += _each(data, "direct_message_events", partial(_from_direct_message, account=account))
    events += _each(data, "tweet_create_events", partial(_from_post, account=account, call=data))
    for kind, blocked in (("block_events", True), ("unblock_events", False)):
        events += _each(data, kind, partial(_from_block, account=account, blocked=blocked))
    others = sorted(
        str(key)
        for key in data
        if (str(key).endswith("_events") or key == "user_event") and key not in HANDLED
    )
    events.extend(Ignored(f"{kind[:40]} not handled") for kind in others)
    return events or [Ignored("no event")]


def _from_direct_message(event: Mapping, account: str) -> Event:
    if event.get("type") != "message_create":
        return Ignored(f"direct message event of type {str(event.get('type'))[:30]}")
    event_id = _id(event.get("id"), "direct message id")
    create = _mapping(event.get("message_create"), "message_create")
    sender = _id(create.get("sender_id"), "sender_id")
    target = _mapping(create.get("target"), "target")
    recipient = _id(target.get("recipient_id"), "recipient_id")
    if sender == account:
        return Ignored("our own direct message")
    if recipient != account:
        return Ignored("a direct message to another account")
    message = create.get("message_data")
    message = message if isinstance(message, Mapping) else {}
    text = _words(message.get("text"))
    quick = message.get("quick_reply_response")
    if isinstance(quick, Mapping) and isinstance(quick.get("metadata"), str):
        text = fields.text(quick["metadata"], MAX_DM) or text
    media: tuple[str, ...] = ()
    attachment = message.get("attachment")
    if isinstance(attachment, Mapping) and attachment.get("type") == "media":
        item = attachment.get("media")
        if isinstance(item, Mapping):
            text = _without(text, item.get("url"))
            photo = _photo(item)
            media = (photo,) if photo else ()
    return Inbound(
        channel=NAME,
        address=address_for(sender),
        external_id=f"in:dm:{event_id}",
        text=text.strip(),
        payload=InboundPayload(
            media=media, raw={"kind": "direct_message", "id": event_id, "media": len(media)}
        ),
    )


def _from_post(post: Mapping, account: str, call: Mapping) -> Event:
    post_id = _id(post.get("id_str") or post.get("id"), "post id")
    user = _mapping(post.get("user"), "post's user")
    author = _id(user.get("id_str") or user.get("id"), "post's author id")
    if author == account:
        return Ignored("our own post")
    if post.get("retweeted_status") is not None:
        return Ignored("a repost")
    if call.get("user_has_blocked") in (True, "true"):
        return Ignored("a post by an account we blocked")
    extended = post.get("extended_tweet") if post.get("truncated") else None
    body = extended if isinstance(extended, Mapping) else post
    entities = body.get("entities")
    entities = entities if isinstance(entities, Mapping) else {}
    if not _mentions(entities, account):
        return Ignored("a post that does not mention the account")
    text = _words(body.get("full_text") or body.get("text"))
    photos = []
    extended_entities = body.get("extended_entities") or post.get("extended_entities")
    for item in _media_items(extended_entities) or _media_items(entities):
        text = _without(text, item.get("url"))
        if photo := _photo(item):
            photos.append(photo)
    media = tuple(dict.fromkeys(photos))[: fields.MAX_MEDIA]
    return Inbound(
        channel=NAME,
        address=address_for(author),
        external_id=f"in:tweet:{post_id}",
        text=_LEADING_MENTIONS.sub("", text).strip(),
        payload=InboundPayload(
            media=media,
            raw={"kind": "tweet", "id": post_id, "media": len(media)},
            public_post=post_id,
        ),
    )


def _mentions(entities: Mapping, account: str) -> bool:
    mentions = entities.get("user_mentions")
    if not isinstance(mentions, list):
        return False
    for mention in mentions:
        if isinstance(mention, Mapping):
            found = mention.get("id_str") or mention.get("id")
            if str(found) == account:
                return True
    return False


def _media_items(entities: object) -> list[Mapping]:
    if not isinstance(entities, Mapping) or not isinstance(entities.get("media"), list):
        return []
    return [item for item in entities["media"][: fields.MAX_MEDIA] if isinstance(item, Mapping)]


def _photo(item: Mapping) -> str | None:
    """A photo's media reference (its https URL on X's media hosts); None for a video or GIF."""
    if item.get("type") != "photo":
        return None
    return fields.url(item.get("media_url_https"))


def _words(value: object) -> str:
    """A post's or DM's text: X escapes &, < and > in it (as HTML entities)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedInbound("text is not text")
    return fields.text(html.unescape(value), MAX_DM)


def _without(text: str, link: object) -> str:
    """`text` without the t.co link X adds for an attached photo."""
    if isinstance(link, str) and link.startswith("https://t.co/"):
        return re.sub(r"[ \t]*" + re.escape(link), "", text).strip()
    return text


def _from_block(event: Mapping, account: str, blocked: bool) -> Event:
    source = _mapping(event.get("source"), "source")
    target = _mapping(event.get("target"), "target")
    who = _id(source.get("id_str") or source.get("id"), "source id")
    whom = _id(target.get("id_str") or target.get("id"), "target id")
    if whom != account or who == account:
        return Ignored("a block by our account")
    return Membership(address_for(who), blocked=blocked)


# --- outbound ----------------------------------------------------------------------------------


def _send(out: Outgoing, settings: Settings) -> str:
    """Send one message: a public reply when marked so, else a direct message; its id."""
    user_id = user_id_of(out.address)
    try:
        client = x_api.user_client(settings)
    except ValueError as exc:
        raise SendError(f"X: {exc}", retryable=False) from None
    public = out.payload.public_reply_to
    kind = "tweet" if public is not None else "dm"
    try:
        if public is not None:
            text = public_text(out)
            answer = client.create_tweet(text=text, in_reply_to_tweet_id=public, user_auth=True)
            return f"tweet:{_answered_id(answer, 'id', out)}"
        text = out.text
        if out.payload.media_url:
            text = CHANNEL.with_link(text, out.payload.media_url)
        answer = client.create_direct_message(
            participant_id=user_id, text=text[:MAX_DM], user_auth=True
        )
        return f"dm:{_answered_id(answer, 'dm_event_id', out)}"
    except tweepy.TweepyException as exc:
        error = send_error(exc, direct=public is None)
        if error.code == DUPLICATE:
            # Our public reply's words carry our message's number (`public_text`), so the
            # post X has seen is this message's, made by an earlier attempt whose answer
            # was lost: sent. Its id is ours, X's is not known.
            log.info("X: message %s was posted by an earlier attempt", out.message_id)
            return f"{DUPLICATE_ID}{out.message_id}"
        raise error from None
    except requests.exceptions.JSONDecodeError:
        # X answered 2xx (tweepy reads the body only then) with a body that is not JSON:
        # the post or DM went, and a retry would send it twice.
        log.warning("X: message %s sent, but X's answer was not JSON", out.message_id)
        return f"{kind}:{UNNAMED}{out.message_id}"
    except requests.RequestException as exc:
        raise SendError(f"X unreachable: {type(exc).__name__}", retryable=True) from None


def public_text(out: Outgoing) -> str:
    """The words of a public reply, after the checks that keep a resident's words out of it:
    only a message the worker marked `public_reply_to` (a post's id), with no photo, no
    question and no options, within one post. SendError (permanent) otherwise."""
    post = out.payload.public_reply_to
    if not post or not _ID.fullmatch(post):
        raise SendError("not a public reply to an X post", retryable=False, code=NOT_PUBLIC)
    reply = out.payload.reply
    if out.payload.media_url or (reply is not None and (reply.options or reply.is_question)):
        raise SendError(
            "a public reply carries only the bot's fixed words", retryable=False, code=NOT_PUBLIC
        )
    # X refuses a post whose words it has seen from the account before ("duplicate content"),
    # and the invitation is the same words for every resident: our message's number, which
    # says nothing of theirs, makes each reply its own.
    text = f"{out.text.strip()} (ref. {out.message_id})"
    if not out.text.strip() or len(text) > MAX_POST:
        raise SendError("a public reply must fit one post", retryable=False, code=NOT_PUBLIC)
    return text


def _answered_id(answer: object, key: str, out: Outgoing) -> str:
    """The id X gave what we sent; one of ours (`UNNAMED`) when its answer named none."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    found = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(found, str) or not _ID.fullmatch(found):
        # Sent, but X named no id: ours (a retry would send it twice).
        log.warning("X: message %s sent, but X's answer named no id", out.message_id)
        return f"{UNNAMED}{out.message_id}"
    return found


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """The seconds a 429 asks us to wait: until the latest reset among the limits X says are
    spent (the 15-minute window's, the account's and the app's 24-hour caps: each counted when
    its `-remaining` is "0", the window's also when it is the only one given); at least
    MIN_RATE_WAIT when none is usable (missing, unreadable or past), at most MAX_RATE_WAIT."""
    given = [reset for reset, _remaining in RATE_RESETS if headers.get(reset) is not None]
    resets = []
    for reset, remaining in RATE_RESETS:
        value = str(headers.get(reset) or "").strip()
        spent = str(headers.get(remaining) or "").strip() == "0"
        alone = given == [reset] and reset == "x-rate-limit-reset"
        if value.isdigit() and len(value) <= 12 and (spent or alone):
            resets.append(int(value))
    wait = max(resets) - now + 1 if resets else 0.0  # + 1: X's reset is a whole second
    if wait <= 0:
        return MIN_RATE_WAIT
    return min(wait, MAX_RATE_WAIT)


def send_error(exc: tweepy.TweepyException, *, direct: bool) -> SendError:
    """Our words for X's refusal: rate limited, worth retrying, or permanent (with a code)."""
    if not isinstance(exc, tweepy.HTTPException):
        return SendError(f"X: {type(exc).__name__}", retryable=True)
    status = exc.response.status_code
    said = "; ".join(str(m) for m in exc.api_messages)[:200]
    text = f"X {status}: {said}" if said else f"X {status}"
    if isinstance(exc, tweepy.TooManyRequests):
        retry_after = rate_limit_wait(exc.response.headers, time.time())
        return SendError(text, retryable=True, code=RATE_LIMITED, retry_after=retry_after)
    if isinstance(exc, tweepy.TwitterServerError):
        return SendError(text, retryable=True, code=str(status))
    lowered = said.lower()
    codes = set(exc.api_codes)
    if direct and (349 in codes or any(words in lowered for words in _DM_CLOSED_WORDS)):
        return SendError(text, retryable=False, code=DM_CLOSED)
    if (
        not direct
        and status == 403
        and (187 in codes or any(words in lowered for words in _DUPLICATE_WORDS))
    ):
        return SendError(text, retryable=False, code=DUPLICATE)
    return SendError(text, retryable=status in (408, 409), code=str(status))


# --- media -------------------------------------------------------------------------------------


def _media_request(reference: str, settings: Settings) -> MediaRequest:
    """A post's photo on pbs.twimg.com (public: no credentials), or a direct message's on
    ton.twitter.com (or X_API_BASE's host, the tests' stand-in), fetched with an OAuth 1.0a
    signature of that GET, sent to that host alone."""
    target = parse_url(reference)
    if target.query is not None:
        raise MediaRefused("an X media link has no query")
    if (target.scheme, target.host, target.port) == ("https", PHOTO_HOST, 443):
        if not _PHOTO_PATH.fullmatch(target.path):
            raise MediaRefused("not a photo of a post")
        return MediaRequest(url=reference, hosts=frozenset({PHOTO_HOST}))
    if not _DM_MEDIA_PATH.fullmatch(target.path):
        raise MediaRefused("not X's photo")
    host = _dm_media_host(target.scheme, target.host, target.port, settings)
    try:
        key, secret, token, token_secret = x_api.credentials(settings)
    except ValueError as exc:
        raise MediaRefused(f"X: {exc}") from None
    from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]

    signer = OAuth1Client(
        key, client_secret=secret, resource_owner_key=token, resource_owner_secret=token_secret
    )
    _url, headers, _body = signer.sign(reference, http_method="GET")
    return MediaRequest(
        url=reference,
        hosts=frozenset({host}),
        credential_hosts=frozenset({host}),
        schemes=frozenset({target.scheme}),
        headers=(("Authorization", headers["Authorization"]),),
    )


def _dm_media_host(scheme: str, host: str, port: int, settings: Settings) -> str:
    """The host pattern of a direct message's photo: ton.twitter.com over https, or
    X_API_BASE's own scheme, host and port; MediaRefused for any other."""
    if (scheme, host, port) == ("https", DM_MEDIA_HOST, 443):
        return DM_MEDIA_HOST
    base = urlsplit(settings.x_api_base.strip())
    try:
        base_port = base.port or DEFAULT_PORTS.get(base.scheme.lower())
    except ValueError:
        base_port = None
    if base.hostname and (scheme, host, port) == (base.scheme.lower(), base.hostname, base_port):
        return host if port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    raise MediaRefused("not on X's media hosts")


# --- the webhook's registration (`intake311 x`) ---------------------------------------------------


def webhook_url(settings: Settings) -> str:
    """Where X should call us: PUBLIC_BASE_URL + /webhooks/x."""
    if not settings.public_base_url:
        raise ValueError("PUBLIC_BASE_URL is not set")
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH


def _webhooks(client: tweepy.Client) -> list[dict]:
    """The app's webhooks (GET /2/webhooks, app-only)."""
    found = x_api.call(client, "GET", "/2/webhooks", user_auth=False).get("data")
    return [hook for hook in found or [] if isinstance(hook, dict)]


def set_webhook(settings: Settings) -> dict:
    """Register PUBLIC_BASE_URL/webhooks/x with X's V2 Webhooks API (X checks it with a CRC at
    once; a webhook already there is checked again with PUT /2/webhooks/:id) and subscribe the
    city's account to it (POST /2/account_activity/webhooks/:id/subscriptions/all, as the
    account). Returns the webhook's id, URL, validity and subscription."""
    url = webhook_url(settings)
    client = x_api.app_client(settings)
    existing = [hook for hook in _webhooks(client) if hook.get("url") == url]
    if existing:
        hook = existing[0]
        answer = x_api.call(client, "PUT", f"/2/webhooks/{hook['id']}", user_auth=False)
        valid = bool((answer.get("data") or {}).get("valid"))
    else:
        answer = x_api.call(client, "POST", "/2/webhooks", user_auth=False, json={"url": url})
        hook = answer.get("data") or {}
        valid = bool(hook.get("valid"))
    webhook_id = str(hook.get("id") or "")
    if not _ID.fullmatch(webhook_id):
        raise ValueError("X named no webhook id")
    route = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
    answer = x_api.call(client, "POST", route, user_auth=True, json={})
    subscribed = bool((answer.get("data") or {}).get("subscribed"))
    return {"id": webhook_id, "url": url, "valid": valid, "subscribed": subscribed}


def webhook_info(settings: Settings) -> dict:
    """X's view: the app's webhooks, and whether the account is subscribed to ours
    (X_WEBHOOK_ID, or the one at PUBLIC_BASE_URL/webhooks/x)."""
    client = x_api.app_client(settings)
    hooks = _webhooks(client)
    ours = settings.x_webhook_id.strip()
    if not ours and settings.public_base_url:
        url = webhook_url(settings)
        ours = next((str(hook.get("id")) for hook in hooks if hook.get("url") == url), "")
    subscribed = None
    if ours and _ID.fullmatch(ours):
        route = f"/2/account_activity/webhooks/{ours}/subscriptions/all"
        try:
            answer = x_api.call(client, "GET", route, user_auth=True)
            subscribed = bool((answer.get("data") or {}).get("subscribed"))
        except tweepy.NotFound:
            subscribed = False
    return {"webhooks": hooks, "webhook_id": ours, "subscribed": subscribed}


class X(Channel):
    """The city's X account: DMs both ways, public mentions in and public replies out."""

    name = NAME
    scheme = NAME
    webhook_path = WEBHOOK_PATH
    provider = "X"
    max_request_bytes = MAX_REQUEST_BYTES
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        media=True,
        text_budget=MAX_DM,
        budget_unit="characters",
        public_posts=True,
    )

    def serve(self, request: WebRequest, settings: Settings) -> WebReply | None:
        """The Challenge-Response Check: a GET with crc_token, answered with its HMAC."""
        if request.method != "GET":
            return None
        token = request.query.get("crc_token", "")
        if not settings.x_consumer_secret:
            return WebReply(status=403, body="X_CONSUMER_SECRET is not set")
        # Only a token shaped like X's (base64 of either alphabet): our answer is the
        # signature of a POST whose body is the token, so answering any text would sign a
        # forged event (a JSON body always holds `{` and `"`, which this never does).
        if request.subpath or not _CRC_TOKEN.fullmatch(token):
            return WebReply(status=400, body="a CRC needs crc_token")
        return WebReply(
            body=json.dumps(crc_response(settings.x_consumer_secret, token)),
            content_type="application/json",
        )

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Refuse a call whose x-twitter-webhooks-signature is not the consumer secret's HMAC of
        the raw body (compared in constant time), or whose `for_user_id` is not the city's
        account (when X_ACCESS_TOKEN names it: `account_id`)."""
        secret = settings.x_consumer_secret
        given = request.header(SIGNATURE_HEADER)
        if not secret:
            return "X_CONSUMER_SECRET is not set"
        if not given:
            return f"no {SIGNATURE_HEADER} header"
        expected = signature(secret, request.body)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return f"{SIGNATURE_HEADER} does not match the body"
        ours = account_id(settings)
        data = request.json
        named = data.get("for_user_id") if isinstance(data, Mapping) else None
        if type(named) is int:
            named = str(named)
        # Another account subscribed to the app's webhook (a test account, say): not ours to
        # answer. (A for_user_id that is no id at all is parse's 400.)
        if ours and isinstance(named, str) and _ID.fullmatch(named) and named != ours:
            return "not our account (for_user_id is not X_ACCESS_TOKEN's account)"
        return None

    def parse(self, request: WebRequest) -> list[Event]:
        """The events of one Account Activity call."""
        if request.subpath:
            raise MalformedInbound("no X webhook there")
        return parse_activity(request.json)

    def send(self, out: Outgoing, settings: Settings) -> str:
        """A public reply (only when marked `public_reply_to`) or a direct message."""
        return _send(out, settings)

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The city account's pace (X_SENDS_PER_SECOND), DMs and replies alike."""
        return (SendRate("x:account", settings.x_sends_per_second),)

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        """What staff can do about X's refusals."""
        if error_code == DM_CLOSED:
            return (
                "the resident does not take direct messages from the city's account (X: \"You "
                'cannot send messages to this user"); they can follow the account or open their '
                "DMs to everyone, then write to it again"
            )
        if error_code == DUPLICATE:
            return "X refused a post identical to an earlier one of the account's"
        if error_code == NOT_PUBLIC:
            return "refused by the bot itself: only its fixed public replies are ever posted"
        if error_code in ("401", "403"):
            return (
                "X refused the account's credentials or the permission: check X_CONSUMER_KEY, "
                "X_ACCESS_TOKEN and their secrets, and that the app may read, write and send "
                "direct messages"
            )
        return ""

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """How a post's or a direct message's photo is fetched (see `_media_request`)."""
        return _media_request(reference, settings)


CHANNEL = X()
