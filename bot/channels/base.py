"""The contract every channel keeps, and the typed events its webhooks become.

A channel owns its wire format both ways and nothing else: it checks that a webhook call is
genuine (`verify`), reads it into typed events (`parse`), answers it (`answer`, `serve`), and
sends one stored message (`send`, and `find_sent` where the provider can be asked whether an
earlier attempt went out). What it can do is declared in `abilities`, never found by probing.
Storing, queueing and jobs are not a channel's business (`bot/intake.py` stores its events;
`tests/test_boundaries.py` enforces it); no web framework reaches below `WebRequest`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar, Literal

from bot.media.types import MediaRefused, MediaRequest
from bot.payloads import InboundPayload, OutboundPayload, ReplyIntent
from bot.settings import Settings

# No provider's call nests deeper (a Telegram Update nests about 10 deep).
MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is beyond a float")
    return value


def _depth_within(data: Any, most: int) -> bool:
    """Whether parsed JSON nests at most `most` containers deep (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > most:
            return False
        stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return True


class MalformedInbound(ValueError):
    """A webhook payload that lacks what we need; answered with 400, never a 500."""


class SendError(Exception):
    """A failed send; `retryable` says whether trying again later may succeed.

    `opted_out` marks a recipient who asked for no more messages: never retried.
    `retry_after` is a wait the provider asked for; such a rate limit never uses up the tries.
    `sender_wide` says that wait is for the sender as a whole (an app's or a page's limit):
    the sender's own pace (the first of `Channel.send_rates`) is held, not the recipient's.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        opted_out: bool = False,
        retry_after: float | None = None,
        sender_wide: bool = False,
    ):
        super().__init__(message)
        self.retryable = retryable and not opted_out
        self.code = code
        self.opted_out = opted_out
        self.retry_after = retry_after  # the provider asked us to wait this long (rate limit)
        self.sender_wide = sender_wide


# --- what a webhook call becomes ---------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """One message from a resident, whatever the channel.

    `address` is URN-like ('tel:+15551234567', 'telegram:12345'); `external_id` is the
    provider's message id (None where the channel has none: a redelivery is then the same
    words from the same sender within seconds).
    """

    channel: str
    address: str
    external_id: str | None
    text: str
    payload: InboundPayload = field(default_factory=InboundPayload)


@dataclass(frozen=True)
class DeliveryStatus:
    """A provider's report on a message we sent: our status word (None: nothing new), the
    provider's error code, the recipient when the provider says they opted out, and whether
    the message failed for its photo alone (its words then go again with the photo's link)."""

    channel: str
    external_id: str
    status: str | None
    error_code: str | None = None
    opted_out_address: str | None = None
    media_refused: bool = False


@dataclass(frozen=True)
class Membership:
    """The resident blocked the channel's bot (`blocked`) or started it again."""

    address: str
    blocked: bool


@dataclass(frozen=True)
class Ignored:
    """A call that asks nothing of us (an edit, a group chat), and why."""

    reason: str


Event = Inbound | DeliveryStatus | Membership | Ignored


class PollError(Exception):
    """The provider could not be asked for new events now; `retryable`: the next poll may
    (`retry_after`: seconds the provider asked us to wait, when it said)."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Polled:
    """What one poll found: its events, oldest first, and the cursor to poll from next time
    (None: keep the one we had)."""

    events: list[Event]
    cursor: str | None


@dataclass(frozen=True)
class WebRequest:
    """A provider's HTTP call as a channel reads it.

    `url` is the URL we were called at, `path` and `query_string` its parts; `subpath` what
    follows the channel's webhook path ("" or "/status"); `headers` has lower-case names;
    `form` keeps repeated fields as the web framework gave them (Twilio signs them all).
    """

    method: str
    url: str
    path: str
    query_string: str
    subpath: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes
    remote_addr: str = ""  # the client's address (TRUST_PROXY's proxies believed)

    def header(self, name: str) -> str:
        """A header's value, "" when absent."""
        return self.headers.get(name.lower(), "")

    @cached_property
    def json(self) -> Any:
        """The body as JSON, read once per call; None when it is not JSON, nests deeper than
        MAX_JSON_DEPTH (a depth that exhausts the parser's stack included) or holds NaN or
        an infinity ("Infinity", 1e999: which JSON has not, and no database column takes)."""
        try:
            data = json.loads(self.body, parse_constant=_no_constant, parse_float=_finite)
        except (ValueError, RecursionError):
            return None
        return data if _depth_within(data, MAX_JSON_DEPTH) else None


@dataclass(frozen=True)
class WebReply:
    """What a webhook answers the provider."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A message ready for a channel: our id, who, its plain-text rendering (numbered options
    as lines) and what the channel may render natively.

    `last_inbound_at` is when the resident last wrote, filled only for a channel with a
    `reply_window` (None: never, or not asked)."""

    message_id: int
    address: str
    text: str
    payload: OutboundPayload = field(default_factory=OutboundPayload)
    last_inbound_at: datetime | None = None

    @property
    def reply(self) -> ReplyIntent | None:
        """The engine's reply intent, if the message carries one."""
        return self.payload.reply


@dataclass(frozen=True)
class Abilities:
    """What a channel can do, declared once.

    `carrier_keywords`: the carrier itself answers the opt-out and opt-in words (Twilio's
    Advanced Opt-Out), so we record them but send nothing; otherwise the bot confirms an
    opt-out once and greets an opt-in. `buttons`: options and yes/no can be tapped;
    `location_requests`: a "share location" button; `media`: photos in and out;
    `text_budget`: how long one message may be, in SMS segments when `budget_unit` is
    "segments" or in characters; `reply_window`: after this long without a message from the
    resident the provider restricts what may be sent (None: no such rule); `finds_sent`: an
    earlier attempt can be looked up (`Channel.find_sent`); `phone_numbers`: below.
    """

    opt_out_words: frozenset[str]
    opt_in_words: frozenset[str]
    carrier_keywords: bool = False
    buttons: bool = False
    location_requests: bool = False
    media: bool = False
    text_budget: int = 3
    budget_unit: Literal["segments", "characters"] = "segments"
    reply_window: timedelta | None = None
    finds_sent: bool = False
    # The address is the resident's phone number (sent to the city as their phone, with their
    # consent; `intake311 forget +1...` erases them on every such channel).
    phone_numbers: bool = False
    # Residents can write in public (a post that mentions the city: `InboundPayload.
    # public_post`); `send` posts a message marked `public_reply_to` in public, all else privately.
    public_posts: bool = False


# Words that switch every message off or on, on channels without carrier keywords of their own.
# CANCEL is one of them, as on SMS (carriers treat it as STOP): dropping a report is RESTART.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "OPTOUT", "STOP ALL"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})


@dataclass(frozen=True)
class SendRate:
    """One pace a channel's sends keep (bot.pacing): the name of its bucket, shared by every
    worker (a sender's, a chat's), and the messages a second it allows (0: not paced)."""

    key: str
    per_second: float


class Channel:
    """One channel: its name, its addresses, its webhooks and its sends.

    Subclasses set the class attributes and implement `verify`, `parse` and `send`; the rest
    has defaults that suit a channel without them. The route asks `serve` first, for every
    call (a GET, or a call the channel answers by itself); then, for a POST it did not serve,
    `verify`, `parse` and, once the events are stored, `answer`.

    Provider ids are unique per channel across both directions (`Message`'s unique
    `(channel, external_id)`, at most 128 characters): where the provider's ids for inbound
    and outbound messages could meet, prefix them (web chat's `in:`; Telegram's `msg:`,
    `cbq:`). `send` returns the provider's id for what it sent, or one of its own making
    (e.g. from `out.message_id`) when the provider names none.
    """

    name: ClassVar[str]
    scheme: ClassVar[str]  # the address prefix: 'tel' in 'tel:+15551234567'
    # Where the provider calls us ("/webhooks/twilio", and below it "/status"); None: no webhook.
    webhook_path: ClassVar[str | None] = None
    # The provider's name in logs ("Twilio"), where it differs from the channel's.
    provider: ClassVar[str] = ""
    abilities: ClassVar[Abilities] = Abilities(OPT_OUT_WORDS, OPT_IN_WORDS)
    # The largest call the provider makes, in bytes: a larger body is refused (413) unread.
    max_request_bytes: ClassVar[int] = 1024 * 1024

    def address_for(self, identity: object) -> str:
        """The contact address of this channel's user `identity`."""
        return f"{self.scheme}:{identity}"

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Why the call is refused (a forged or unsigned call), or None when it is genuine."""
        return "this channel takes no webhooks"

    def parse(self, request: WebRequest) -> list[Event]:
        """The events a genuine call carries; MalformedInbound when it cannot be read."""
        raise MalformedInbound("this channel takes no webhooks")

    def answer(self, request: WebRequest, events: list[Event]) -> WebReply:
        """The HTTP answer to a call whose events are stored."""
        return WebReply()

    def unstorable(self, request: WebRequest, problem: str) -> WebReply:
        """The answer to a genuine, readable call that holds a value the database refuses
        (which the parser and `fields.bounded` should have caught). A 400 by default; a
        provider that redelivers every call not answered 2xx, holding up the calls behind it,
        is answered 200 instead, and the call is set aside (logged, not stored)."""
        return WebReply(status=400, body=f"malformed webhook: {problem}")

    def serve(self, request: WebRequest, settings: Settings) -> WebReply | None:
        """The answer to a GET (a provider's handshake, a page's poll); None: not allowed."""
        return None

    def poll_every(self, settings: Settings) -> float | None:
        """Seconds between two polls of the provider, for a channel that has no webhook for
        what it needs (Mastodon's mentions); None: not polled (or not set up)."""
        return None

    def poll(self, settings: Settings, cursor: str | None) -> Polled:
        """The events since `cursor` (None: only the newest few) and the next cursor.
        PollError when the provider cannot be asked now (`bot.jobs.polling` tries again)."""
        raise PollError("this channel is not polled", retryable=False)

    def resume_cursor(self, settings: Settings, raws: Sequence[Mapping]) -> str | None:
        """The cursor to poll from when none is kept (Redis lost it), read from the raw
        payloads of the channel's newest stored messages, newest first; None: read only the
        newest page."""
        return None

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Transmit one message; its provider id. Raises SendError (retryable or not)."""
        raise NotImplementedError

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The paces a send to `address` keeps, the sender's own first and the narrowest
        last (a provider's "too many requests" holds that one); none: not paced."""
        return ()

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        """What staff can do about a message this channel's provider refused for good, by its
        error code and its notice's kind ("" for a reply); "" when there is nothing to add."""
        return ""

    def with_link(self, text: str, url: str) -> str:
        """`text` with `url` at its end, within one message: a photo the provider refused,
        sent again as its link."""
        return f"{text}\n{url}" if text else url

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """How to fetch one of this channel's media references (an `InboundPayload.media`
        item): its URL, the hosts it and its redirects may be on, the credentials for the
        provider's own host. MediaRefused when the reference is not the provider's (a forged
        link gets no request at all); MediaUnavailable when the provider cannot be asked now."""
        raise MediaRefused(f"the {self.name} channel takes no media")

    def forget(self, address: str, settings: Settings) -> None:
        """Let go of what the channel keeps about `address` outside our database, once its
        resident is erased (their last reply is on its way or was just delivered)."""
        return None

    def find_sent(
        self, out: Outgoing, since: datetime, settings: Settings, taken: set[str]
    ) -> str | None:
        """The provider id of `out` if an earlier attempt reached the provider (asked only
        where `abilities.finds_sent`); None when it did not. Without it, a send whose answer
        was lost (a timeout, a worker killed mid-send) is sent again: at least once, not
        exactly once."""
        return None
