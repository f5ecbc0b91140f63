"""Mastodon through its REST API (Mastodon.py): mentions of the city's account read by the
scheduler, the conversation carried on in direct posts.

Mastodon calls no webhook for a mention, so the channel has none: the scheduler's generic job
(`bot.jobs.polling.poll_channels`) calls `poll` every MASTODON_POLL_SECONDS with the last
notification id it kept (with the account and instance it counts: `<account id>@<host>:<id>`,
another's read as lost), and `poll` reads `GET /api/v1/notifications?types[]=mention` after
it. The read pages forward from the cursor with `min_id` ("returns results immediately newer
than this ID": docs.joinmastodon.org/methods/notifications), at most MAX_PAGES pages of
PAGE_LIMIT a poll, so a backlog is read oldest first and a poll that stops at the bound leaves
its cursor at the newest mention it read: the next one goes on from there, nothing skipped.
(`since_id` would give the newest page above the cursor first, and walking down from it with
`max_id` cannot stop half way without losing the mentions between.) A lost cursor (Redis
emptied, or another account's) is found again in the database: the newest notification id of
the account's stored mentions (`payload.raw`), and the read goes on from there. With none
stored (a new account) only the newest page is read, and of it only the mentions posted within
FIRST_READ_WINDOW: a new account's old mentions are not answered days later. A poll's calls
take at most POLL_DEADLINE in all, each at most its timeouts' sum however slowly the instance
answers (`bot.channels.deadline_http`); a later page that fails or would come after the
deadline ends the read with the pages read (the next poll goes on from their newest).

In, per mention notification, its status:
- `address` is `mastodon:<acct>` of its author, fully qualified: `user@host` for a local
  account too (the host is MASTODON_BASE_URL's), so a local and a remote "alice" never meet;
- `external_id` is `in:<status id>` (ours are `out:<status id>`); one status is one mention;
- `text` is the status's HTML as plain words (`plain_text`: tags dropped, <br> and paragraphs
  as newlines, entities read, the leading @mentions dropped), its content warning first;
- `payload.public_post` is the status id when the status is public or unlisted (the worker
  answers it in public with nothing of the resident, and goes on in direct posts); None for a
  followers-only or direct one;
- its image attachments are photos (`payload.media`: their URLs on the instance or
  MASTODON_MEDIA_HOSTS, fetched without credentials).
Ignored: other kinds of notification, boosts, our own account's posts, and posts from accounts
flagged as bots (`bot: true`): two bots answering each other's mentions would never stop, and a
bot reports nothing a resident saw.

Out, `send` posts one status starting with the resident's mention (`@user` for a local
account, `@user@domain` otherwise: a direct post reaches only the accounts it mentions, so
every other "@name" in our words, a resident's quoted, is made plain words by `defused`): with
`visibility="direct"`, or, for the worker's public reply to a resident's public post
(`payload.public_reply_to`), `visibility="unlisted"` in reply to that post. Each carries an
`Idempotency-Key` made from our message id and its words: Mastodon keeps it an hour and answers
a second POST with the same key with the status the first made, so a send retried after a lost
answer or a dead worker within that hour is not posted twice: at most once, without
`find_sent` (the delivery job's retries come within minutes; one made over an hour after a
try that reached Mastodon could post again). A status photo goes as its link: a status
attaches only media uploaded to it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot.channels import fields
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Outgoing,
    Polled,
    PollError,
    SendError,
    SendRate,
)
from bot.channels.deadline_http import Deadline, DeadlineSession
from bot.media.types import MediaRefused, MediaRequest
from bot.payloads import InboundPayload
from bot.settings import Settings

NAME = "mastodon"
INBOUND_PREFIX = "in:"
OUTBOUND_PREFIX = "out:"
# A status holds 500 characters on a default instance, counted as Mastodon counts them: a
# mention as "@username" alone (its domain not counted) and a link as 23 characters
# (StatusLengthValidator). A local username has at most 30 characters.
MAX_CHARS = 500
MAX_USERNAME = 30
URL_CHARS = 23
TEXT_BUDGET = MAX_CHARS - len("@") - MAX_USERNAME - len(" ")
PAGE_LIMIT = 80  # notifications a page, Mastodon's most (4.1 and later)
MAX_PAGES = 10
FIRST_READ_WINDOW = timedelta(hours=1)
TIMEOUT = (5.0, 10.0)  # seconds to connect, to read (their sum: the most one call may take)
POLL_DEADLINE = 30.0  # seconds a poll's calls may take in all (its job's timeout is twice that)
MAX_HTML = 64 * 1024  # characters of a status's HTML read (500 characters of words, marked up)
PUBLIC = frozenset({"public", "unlisted"})
ELLIPSIS = "…"
NOT_PUBLIC = "not-public"  # our own refusal of a public reply (as X's channel's)

log = logging.getLogger(__name__)

# A leading @mention, with what may follow it before the words ("@city311, stop",
# "@city311: STOP").
_LEADING_MENTION = re.compile(r"\s*@[\w-]+(?:\.[\w-]+)*(?:@[\w.-]+)?(?:[,:;!.]+|(?=\s|$))")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_ACCT = re.compile(r"[A-Za-z0-9_.-]{1,64}@[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")
_DIGITS = re.compile(r"[0-9]{1,30}")
_TAG = re.compile(r"<[/!?]?[A-Za-z][^<>]*(?:>|(?=<)|$)")
# Where Mastodon reads a mention (Account::MENTION_RE: "@" not after "=", "/" or a word
# character, then a username's first character): the words we post name no one else.
_MENTION_START = re.compile(r"(?<![=/\w])@(?=[A-Za-z0-9_])")


def defused(text: str) -> str:
    """`text` with every @mention made plain words (a zero-width space after its "@"): a
    direct post reaches every account it mentions, and our words may quote a resident's."""
    return _MENTION_START.sub("@\u200b", text)


# --- settings --------------------------------------------------------------------------------


def configured(settings: Settings) -> bool:
    """Whether MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN are both set."""
    return bool(settings.mastodon_base_url and settings.mastodon_access_token)


def instance_host(settings: Settings) -> str:
    """MASTODON_BASE_URL's host, in lower case: the domain of the instance's local accounts."""
    return (urlsplit(settings.mastodon_base_url).hostname or "").lower()


def client(settings: Settings, deadline: Deadline | None = None) -> Mastodon:
    """A Mastodon.py client for the city's account: rate limits raised, never slept through
    (`ratelimit_method="throw"`: a job must not sleep for minutes), timeouts, certifi's CAs,
    no version check (no extra call). With a `deadline`, each call ends within its timeouts'
    sum, answer read, and all before the deadline (MastodonNetworkError when cut off)."""
    if not configured(settings):
        raise ValueError("MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN must be set")
    session = DeadlineSession(deadline, budget=sum(TIMEOUT)) if deadline else requests.Session()
    session.verify = certifi.where()
    session.hooks["response"].append(_note_retry_after)
    return Mastodon(
        access_token=settings.mastodon_access_token,
        api_base_url=settings.mastodon_base_url,
        ratelimit_method="throw",
        request_timeout=TIMEOUT,  # type: ignore[arg-type]  # requests takes (connect, read)
        version_check_mode="none",
        session=session,
        user_agent="intake311",
    )


# The Retry-After of the last answer this thread had (Mastodon.py's rate limit error carries
# no headers).
_LAST_ANSWER = threading.local()


def _note_retry_after(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Keep an answer's Retry-After for `send_error`."""
    _LAST_ANSWER.retry_after = response.headers.get("Retry-After")


def retry_after_seconds(value: object, now: float | None = None) -> float | None:
    """A Retry-After header's wait in seconds (a number of seconds, or an HTTP date); None
    when it is neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value[:9])
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - (time.time() if now is None else now)


def redact(text: str, settings: Settings) -> str:
    """The text with the access token masked."""
    token = settings.mastodon_access_token
    return text.replace(token, "<token>") if token else text


# --- addresses -------------------------------------------------------------------------------


def address_for(acct: str, settings: Settings) -> str:
    """The contact address of an account: `mastodon:user@domain`, a local account's domain
    being the instance's host; MalformedInbound when it is not an account name."""
    acct = fields.identifier(acct, fields.MAX_ADDRESS - len(NAME) - 1, "acct", ascii_only=True)
    user, _, domain = acct.lstrip("@").partition("@")
    full = f"{user}@{(domain or instance_host(settings)).lower()}"
    if not _ACCT.fullmatch(full):
        raise MalformedInbound("acct is not an account name")
    return f"{NAME}:{full}"


def mention_for(address: str, settings: Settings) -> str:
    """How a post names the resident at `address`: "@user" for the instance's own accounts,
    "@user@domain" for others'; SendError when it is not a Mastodon address."""
    acct = address.removeprefix(f"{NAME}:")
    if not address.startswith(f"{NAME}:") or not _ACCT.fullmatch(acct):
        raise SendError(f"not a Mastodon address: {address[:40]!r}", retryable=False)
    user, _, domain = acct.partition("@")
    return f"@{user}" if domain == instance_host(settings) else f"@{acct}"


# --- reading a status's HTML -----------------------------------------------------------------


class _Words(HTMLParser):
    """A status's HTML as words: every tag dropped, what a script or style holds too; <br> a
    newline and each paragraph (or other block) on lines of its own; entities read."""

    BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3"})
    HIDDEN = frozenset({"script", "style", "template", "title", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(html: object) -> str:
    """A status's HTML content as the words a resident typed: tags dropped (a broken or
    hostile one too: no tag survives), line breaks kept, entities read, at most
    fields.MAX_TEXT characters; "" for anything that is not a string."""
    if not isinstance(html, str):
        return ""
    parser = _Words()
    try:
        parser.feed(html[:MAX_HTML])
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # noqa: BLE001  any HTML whatever is read without a 500
        text = unescape(_TAG.sub(" ", html[:MAX_HTML]))
    # Control characters go first (as the stored words lose them), so none can hide a tag
    # ("<\u202ediv>"); what the parser could not read as a tag (an unclosed "<a href=..." at
    # the end, "<" written with an entity) is then dropped like a tag.
    text = fields.text(text, MAX_HTML)
    text = _TAG.sub(" ", text) if "<" in text else text
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n")]
    kept = "\n".join(lines)
    kept = re.sub(r"\n{3,}", "\n\n", kept).strip()
    return fields.text(kept)


def without_leading_mentions(text: str) -> str:
    """The words after the @mentions a post starts with ("@city311 @bob the pothole...")."""
    while True:
        found = _LEADING_MENTION.match(text)
        if not found:
            return text.strip()
        text = text[found.end() :]


# --- inbound ---------------------------------------------------------------------------------


def parse_notification(
    notification: object, settings: Settings, own_account_id: str | None
) -> Event:
    """One notification as an event: a resident's message for a mention, Ignored for the rest;
    MalformedInbound when it is not a notification we can read."""
    if not isinstance(notification, Mapping):
        raise MalformedInbound("not a notification")
    note_id = _id(notification.get("id"), "notification id")
    kind = notification.get("type")
    if kind != "mention":
        return Ignored(f"notification of type {str(kind)[:40]}")
    status = notification.get("status")
    if not isinstance(status, Mapping):
        return Ignored("mention without a status")
    if status.get("reblog"):
        return Ignored("a boost")
    account = status.get("account")
    if not isinstance(account, Mapping):
        raise MalformedInbound("status without an account")
    if own_account_id is not None and str(account.get("id")) == own_account_id:
        return Ignored("our own post")
    if account.get("bot") is True:
        return Ignored("a post from a bot account")
    status_id = _id(status.get("id"), "status id")
    visibility = status.get("visibility")
    words = without_leading_mentions(plain_text(status.get("content")))
    warning = fields.line(status.get("spoiler_text"))
    media = _photos(status.get("media_attachments"))
    return Inbound(
        channel=NAME,
        address=address_for(account.get("acct"), settings),  # type: ignore[arg-type]
        external_id=INBOUND_PREFIX + status_id,
        text=f"{warning}\n{words}".strip() if warning else words,
        payload=InboundPayload(
            media=media,
            public_post=status_id if isinstance(visibility, str) and visibility in PUBLIC else None,
            raw={
                "notification_id": note_id,
                # whose notification: where a lost cursor is found again (`stored_cursor`)
                "to": account_key(own_account_id, settings) if own_account_id else None,
                "status_id": status_id,
                "visibility": fields.line(visibility, 20),
                "media": len(media),
            },
        ),
    )


def _id(value: object, name: str) -> str:
    """A Mastodon id: digits (a string, or a number as Mastodon.py may give it)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise MalformedInbound(f"{name} is not a Mastodon id")
    return str.__str__(value)  # a plain str (Mastodon.py gives its own str subclass)


def _photos(attachments: object) -> tuple[str, ...]:
    """The URLs of a status's image attachments (on the instance: `url`, never `remote_url`)."""
    if not isinstance(attachments, Sequence) or isinstance(attachments, str):
        return ()
    found = []
    for item in attachments[: fields.MAX_MEDIA]:
        if isinstance(item, Mapping) and item.get("type") == "image":
            url = fields.url(item.get("url"))
            if url and len(url) <= fields.MAX_LINE:
                found.append(url)
    return tuple(found)


def _order(note_id: str) -> tuple[int, str]:
    """Mastodon's ids sort as numbers (a longer one is newer)."""
    return (len(note_id), note_id)


def _created(notification: Mapping) -> datetime | None:
    value = notification.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _note_id(note: object) -> str | None:
    """A notification's id; None for what is not a notification with one."""
    try:
        return _id(note.get("id"), "notification id") if isinstance(note, Mapping) else None
    except MalformedInbound:
        return None


def notifications_page(api: Mastodon, **query: str | int) -> list[Any]:
    """One page of mention notifications, the filtered ones too (`include_filtered=true`:
    Mastodon 4.3 and later leave out by default the private mentions its NotificationPolicy
    filters, a new resident's first direct post among them; an older instance ignores it).
    Mastodon.py's `notifications` does not take it: its request method does."""
    params: dict[str, Any] = {
        "types[]": ["mention"],
        "limit": PAGE_LIMIT,
        "include_filtered": "true",
        **query,
    }
    request = api._Mastodon__api_request  # type: ignore[attr-defined]
    return list(request("GET", "/api/v1/notifications", params))


def read_mentions(
    api: Mastodon, cursor: str | None, deadline: Deadline | None = None
) -> tuple[list[tuple[str, Mapping]], str | None]:
    """The mention notifications after `cursor` with their ids, oldest first, and the newest
    id read (the cursor again when none came). No cursor: the newest page alone. An item
    without a readable id (no instance sends one) is left out. Once `deadline` has passed, or a
    later page fails, no further page is asked for: the next poll goes on from the newest read
    (MastodonError only when the first page fails)."""
    if cursor is None:
        page = notifications_page(api)
        notes = sorted(_with_ids(page), key=lambda pair: _order(pair[0]))
        return notes, (notes[-1][0] if notes else None)
    read: list[tuple[str, Mapping]] = []
    newest = cursor
    for _page in range(MAX_PAGES):
        if deadline is not None and deadline.passed():
            break
        try:
            page = notifications_page(api, min_id=newest)
        except MastodonError as exc:
            if not read:
                raise
            # The pages read are kept: the next poll goes on from the newest of them.
            log.warning("Mastodon poll stopped after %d page(s): %s", _page, type(exc).__name__)
            break
        fresh = [pair for pair in _with_ids(page) if _order(pair[0]) > _order(newest)]
        if not fresh:
            break
        read += fresh
        newest = max((note_id for note_id, _ in fresh), key=_order)
        if len(page) < PAGE_LIMIT:
            break
    read.sort(key=lambda pair: _order(pair[0]))
    return read, newest


def _with_ids(page: Sequence[Any]) -> list[tuple[str, Mapping]]:
    return [(note_id, note) for note in page if (note_id := _note_id(note))]


# The id of the account each (instance, token) posts as, kept by the process: a supervised
# worker (`intake311 worker --processes N`) keeps it for its life, so verify_credentials is
# asked once a process, not once a poll.
_OWN_ACCOUNTS: dict[tuple[str, str], str] = {}


def own_account_id(api: Mastodon, settings: Settings) -> str:
    """The id of the account we post as (verify_credentials, once a process per instance and
    token)."""
    token = hashlib.sha256(settings.mastodon_access_token.encode()).hexdigest()[:32]
    key = (settings.mastodon_base_url, token)
    if key not in _OWN_ACCOUNTS:
        _OWN_ACCOUNTS[key] = _id(api.account_verify_credentials().get("id"), "account id")
    return _OWN_ACCOUNTS[key]


def account_key(own: str, settings: Settings) -> str:
    """Whose notifications a cursor counts: `<account id>@<host>[:port]` (a notification id
    means nothing on another instance, nor for another account)."""
    port = urlsplit(settings.mastodon_base_url).port
    return f"{own}@{instance_host(settings)}{f':{port}' if port else ''}"


def note_cursor(cursor: str | None, key: str) -> str | None:
    """The notification id a poll cursor (`<account key>:<notification id>`) holds when it is
    this account's on this instance; None otherwise (read as a lost cursor)."""
    if cursor is None:
        return None
    owner, sep, note_id = cursor.rpartition(":")
    return note_id if sep and owner == key and _DIGITS.fullmatch(note_id) else None


def stored_cursor(key: str, raws: Sequence[Mapping]) -> str | None:
    """Where a lost cursor was, as far as the stored mentions say (their raw payloads, newest
    first): the newest notification id of account `key`'s; None when none is (a new account,
    or one whose messages were all purged)."""
    found = []
    for raw in raws:
        if isinstance(raw, Mapping) and raw.get("to") == key:
            note_id = raw.get("notification_id")
            if isinstance(note_id, str) and _DIGITS.fullmatch(note_id):
                found.append(note_id)
    return max(found, key=_order) if found else None


def poll_error(exc: MastodonError, settings: Settings, api: Mastodon | None = None) -> PollError:
    """Our words for a failed read: worth another poll (a rate limit's after its reset), or
    not until staff act."""
    status = _status_of(exc)
    text = redact(f"Mastodon {type(exc).__name__}{f' {status}' if status else ''}", settings)
    if isinstance(exc, MastodonRatelimitError) or status == 429:
        return PollError(text, retryable=True, retry_after=rate_limit_wait(api))
    if isinstance(exc, (MastodonNetworkError, MastodonServerError)):
        return PollError(text, retryable=True)
    if status in (401, 403):
        return PollError(
            f"{text}: the instance refused MASTODON_ACCESS_TOKEN (revoked, or without the scopes "
            "read:notifications read:statuses write:statuses): make a new token (README, "
            "Mastodon)",
            retryable=False,
        )
    if status == 429 or (status is not None and status >= 500):
        return PollError(text, retryable=True)
    return PollError(text, retryable=False)


def _status_of(exc: MastodonError) -> int | None:
    """The HTTP status Mastodon.py put in an API error's arguments."""
    if isinstance(exc, MastodonAPIError) and len(exc.args) > 1 and isinstance(exc.args[1], int):
        return exc.args[1]
    return None


# --- outbound --------------------------------------------------------------------------------


def countable_length(text: str) -> int:
    """`text`'s length as Mastodon counts it: a link as 23 characters."""
    return len(_URL.sub("x" * URL_CHARS, text))


def fitted(mention: str, text: str) -> str:
    """The status: the mention, then the words cut (with an ellipsis) to fit MAX_CHARS as
    Mastodon counts them (the mention as its username alone)."""
    room = MAX_CHARS - len("@" + mention.lstrip("@").split("@", 1)[0] + " ")
    if countable_length(text) > room:
        while text and countable_length(text) > room - len(ELLIPSIS):
            text = text[: max(0, len(text) - (countable_length(text) - room + len(ELLIPSIS)))]
        text = text.rstrip() + ELLIPSIS
    return f"{mention} {text}"


def idempotency_key(out: Outgoing, status: str) -> str:
    """The Idempotency-Key of a send: our message id and a hash of its words and address, so a
    retry of the same message has it and another message never does (not even one with the
    same id from another database, within Mastodon's hour)."""
    digest = hashlib.sha256(f"{out.address}\n{status}".encode()).hexdigest()[:24]
    return f"intake311-{out.message_id}-{digest}"


def send_error(exc: MastodonError, api: Mastodon, settings: Settings) -> SendError:
    """Our words for a failed post: retried (a rate limit for as long as Mastodon asks) or
    refused for good, with its status as the code."""
    status = _status_of(exc)
    detail = exc.args[3] if isinstance(exc, MastodonAPIError) and len(exc.args) > 3 else None
    text = f"Mastodon {type(exc).__name__}"
    if status:
        text += f" {status}"
    if isinstance(detail, str) and detail:
        text += f": {fields.line(detail, 200)}"
    text = redact(text, settings)
    if isinstance(exc, MastodonRatelimitError) or status == 429:
        return SendError(text, retryable=True, code="429", retry_after=rate_limit_wait(api))
    if isinstance(exc, (MastodonNetworkError, MastodonServerError)):
        return SendError(text, retryable=True, code=str(status) if status else None)
    if isinstance(exc, MastodonUnauthorizedError) or status in (401, 403):
        return SendError(text, retryable=False, code=str(status or 401))
    if isinstance(exc, MastodonNotFoundError) or status == 404:
        return SendError(text, retryable=False, code="404")
    if status is not None and status >= 500:
        return SendError(text, retryable=True, code=str(status))
    return SendError(text, retryable=False, code=str(status) if status else None)


RATE_LIMIT_WAIT = 60.0  # seconds a 429 waits when its X-RateLimit-Reset is missing or past
MAX_RATE_LIMIT_WAIT = 3 * 3600.0  # Mastodon's longest period (statuses: 300 per 3 hours)


def rate_limit_wait(api: Mastodon | None) -> float:
    """How long a 429 asks us to wait: until its X-RateLimit-Reset; without a usable one (a
    proxy's 429), its Retry-After, and at least RATE_LIMIT_WAIT."""
    reset = getattr(api, "ratelimit_reset", None)
    if isinstance(reset, (int, float)) and reset > time.time():
        wait = float(reset) - time.time()
    else:
        asked = retry_after_seconds(getattr(_LAST_ANSWER, "retry_after", None))
        wait = max(RATE_LIMIT_WAIT, asked or 0.0)
    return max(1.0, min(wait, MAX_RATE_LIMIT_WAIT))


HINTS = {
    "401": "the instance refused MASTODON_ACCESS_TOKEN: make a new token with the scopes "
    "read:notifications read:statuses write:statuses (README, Mastodon), then retry",
    "403": "the instance forbade the post: check the bot's account is not suspended or "
    "limited, and the token's scope write:statuses, then retry",
    "404": "the post it answers was deleted (or is no longer visible to the city's account): "
    "nothing to retry",
    NOT_PUBLIC: "refused by the bot itself: only its fixed public replies are ever posted",
    "422": "the instance refused the post's content (too long for its limit, or the resident's "
    "account is gone): see the error, nothing to retry as it is",
}


def public_checked(out: Outgoing) -> None:
    """The checks that keep a resident's words out of a public reply: a status id to answer,
    and only the bot's fixed words: no photo, no question, no options. SendError (permanent,
    NOT_PUBLIC) otherwise."""
    post = out.payload.public_reply_to
    if not post or not _DIGITS.fullmatch(post):
        raise SendError("not a public reply to a Mastodon status", retryable=False, code=NOT_PUBLIC)
    reply = out.payload.reply
    if out.payload.media_url or (reply is not None and (reply.options or reply.is_question)):
        raise SendError(
            "a public reply carries only the bot's fixed words", retryable=False, code=NOT_PUBLIC
        )


def _send(out: Outgoing, settings: Settings) -> str:
    """Post one status to the resident; return `out:<status id>`."""
    if not configured(settings):
        raise SendError("MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN are not set", retryable=False)
    mention = mention_for(out.address, settings)
    public = out.payload.public_reply_to
    if public:
        public_checked(out)
    text = out.text
    if out.payload.media_url:
        text = MASTODON.with_link(text, out.payload.media_url)
    status = fitted(mention, defused(text))
    api = client(settings)
    try:
        if public:
            posted = api.status_post(
                status,
                in_reply_to_id=public,
                visibility="unlisted",
                idempotency_key=idempotency_key(out, status),
            )
        else:
            posted = api.status_post(
                status, visibility="direct", idempotency_key=idempotency_key(out, status)
            )
    except MastodonError as exc:
        raise send_error(exc, api, settings) from None
    finally:
        api.session.close()
    try:
        return OUTBOUND_PREFIX + _id(posted.get("id"), "status id")
    except MalformedInbound:
        raise SendError("Mastodon answered a post without its id", retryable=False) from None


class MastodonChannel(Channel):
    """The city's Mastodon account: mentions polled, direct posts out."""

    name = NAME
    scheme = NAME
    webhook_path = None  # Mastodon calls no webhook for a mention: read by `poll`
    provider = "Mastodon"
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        media=True,
        text_budget=TEXT_BUDGET,
        budget_unit="characters",
        public_posts=True,
    )

    def poll_every(self, settings: Settings) -> float | None:
        """MASTODON_POLL_SECONDS, once MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN are set."""
        return settings.mastodon_poll_seconds if configured(settings) else None

    def poll(self, settings: Settings, cursor: str | None) -> Polled:
        """The mentions since `cursor` (see the module's docstring); PollError when the
        instance cannot be asked now (retryable) or refuses our token (not)."""
        if not configured(settings):
            raise PollError(
                "MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN are not set", retryable=False
            )
        deadline = Deadline(POLL_DEADLINE)
        api = client(settings, deadline)
        try:
            own = own_account_id(api, settings)
            key = account_key(own, settings)
            after = note_cursor(cursor, key)
            if cursor is not None and after is None:
                log.info("Mastodon poll cursor is another account's or instance's: not used")
            notes, newest = read_mentions(api, after, deadline)
        except MastodonError as exc:
            raise poll_error(exc, settings, api) from None
        except MalformedInbound as exc:
            raise PollError(f"Mastodon answered what is not a notification: {exc}") from None
        finally:
            api.session.close()
        oldest = datetime.now(UTC) - FIRST_READ_WINDOW
        events: list[Event] = []
        for _, note in notes:
            if after is None and (_created(note) or oldest) < oldest:
                events.append(Ignored("a mention from before the first read"))
                continue
            try:
                events.append(parse_notification(note, settings, own))
            except MalformedInbound as exc:
                events.append(Ignored(f"unreadable notification: {exc}"))
            except Exception as exc:  # noqa: BLE001  one odd notification never stops the reads
                log.warning("Mastodon notification not read: %s", type(exc).__name__)
                events.append(Ignored(f"unreadable notification: {type(exc).__name__}"))
        return Polled(events=events, cursor=f"{key}:{newest}" if newest else None)

    def resume_cursor(self, settings: Settings, raws: Sequence[Mapping]) -> str | None:
        """A lost cursor found again in the stored mentions of this account on this instance
        (see `Channel.resume_cursor`); None for a new account, or an instance that cannot be
        asked now (the poll then says why)."""
        if not configured(settings):
            return None
        api = client(settings, Deadline(POLL_DEADLINE))
        try:
            key = account_key(own_account_id(api, settings), settings)
        except (MastodonError, MalformedInbound):
            return None
        finally:
            api.session.close()
        found = stored_cursor(key, raws)
        return f"{key}:{found}" if found else None

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Post one status: direct, or a public post's unlisted reply."""
        return _send(out, settings)

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The city's account's pace (MASTODON_SENDS_PER_SECOND), on its instance."""
        return (
            SendRate(f"mastodon:{instance_host(settings)}", settings.mastodon_sends_per_second),
        )

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        """What staff can do about a post the instance refused, by its HTTP status."""
        return HINTS.get(error_code or "", "")

    def with_link(self, text: str, url: str) -> str:
        """The words cut to leave the link room within the budget (a link counts 23)."""
        room = TEXT_BUDGET - URL_CHARS - 1
        if countable_length(text) > room:
            text = text[: max(0, room - len(ELLIPSIS))].rstrip() + ELLIPSIS
        return f"{text}\n{url}" if text else url

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """An image attachment's URL, fetched without credentials from the instance's host or
        MASTODON_MEDIA_HOSTS (https; http too where MASTODON_BASE_URL is http, as in tests).
        MediaRefused for a URL elsewhere."""
        if not settings.mastodon_base_url:
            raise MediaRefused("MASTODON_BASE_URL is not set")
        url = fields.url(reference)
        if not url:
            raise MediaRefused("not a Mastodon media URL")
        base = urlsplit(settings.mastodon_base_url)
        host = instance_host(settings)
        default = {"http": 80, "https": 443}.get(base.scheme.lower())
        own = host if base.port in (None, default) else f"{host}:{base.port}"
        extra = {h.strip().lower() for h in settings.mastodon_media_hosts.split(",") if h.strip()}
        return MediaRequest(
            url=url,
            hosts=frozenset({own, *extra}),
            schemes=frozenset({"https", base.scheme.lower()}),
        )


MASTODON = MastodonChannel()
CHANNEL = MASTODON


POLICY_FIELDS = (
    "for_private_mentions",
    "for_new_accounts",
    "for_not_following",
    "for_not_followers",
    "for_limited_accounts",
)


def account_info(settings: Settings) -> dict[str, Any]:
    """The account we post as (verify_credentials), the instance and the account's
    notification policy (Mastodon 4.3 and later; "" before), for `intake311 mastodon info`:
    never the token."""
    api = client(settings)
    try:
        account = api.account_verify_credentials()
        policy = notification_policy(api)
    finally:
        api.session.close()
    return {
        "instance": settings.mastodon_base_url,
        "account": f"@{account.get('acct')}@{instance_host(settings)}",
        "account_id": str(account.get("id")),
        "bot": bool(account.get("bot")),
        "url": str(account.get("url") or ""),
        "notifications_policy": policy,
    }


def notification_policy(api: Mastodon) -> str:
    """The account's notification policy (GET /api/v2/notifications/policy) as
    "for_private_mentions=filter, ..."; "" when the instance has none (before 4.3)."""
    try:
        policy = api.notifications_policy()
    except MastodonAPIError as exc:
        if isinstance(exc, MastodonNotFoundError) or _status_of(exc) in (404, 410):
            return ""
        raise
    if not isinstance(policy, Mapping):
        return ""
    return ", ".join(
        f"{name}={fields.line(policy.get(name), 20)}" for name in POLICY_FIELDS if name in policy
    )
