"""Every field a provider sends, bounded and typed at the edge, before anything stores it.

A channel's parser reads its wire format with these, and `bounded` checks every event once more
before it is stored (the web route and `bot.intake.receive` both call it), so what reaches the
database, the logs and the engine is:

- words (`text`, `line`): strings without NUL, lone surrogates (replaced by U+FFFD) or control
  characters (a message keeps its newlines and tabs, "\\r\\n" read as "\\n"), cut to a length;
  too long is cut, never refused: whatever the resident said that fits is kept;
- names (`identifier`): the sender's address and the provider's ids, printable and within
  their columns (`Contact.address` 255, `Message.external_id` 128). Never cut or cleaned: a cut
  number is someone else's, so a malformed one refuses the call (MalformedInbound, a 400);
- numbers (`count`, `integer`, `point`): ASCII digits within a range, a map pin on the globe;
- the provider's payload as received (`raw`): every string cleaned of NUL and lone surrogates
  (which neither PostgreSQL nor UTF-8 can hold), depth and size bounded.

No provider sends what these refuse or cut; a call that needs them is a forgery signed with our
secret, or a bug of ours, and is answered without a 500 either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.channels.base import (
    DeliveryStatus,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Membership,
)
from bot.payloads import InboundPayload

MAX_TEXT = 4096  # characters of a message kept (no provider of ours sends more in one)
MAX_ADDRESS = 255  # Contact.address
MAX_ID = 128  # Message.external_id
MAX_ERROR_CODE = 32  # Message.error_code
MAX_LINE = 255  # a place's name, a status word
MAX_MEDIA = 10  # photos in one message (Twilio's limit; Telegram sends one)
MAX_URL = 2048
MAX_RAW_DEPTH = 32  # nesting of a provider's payload kept (Telegram's Updates nest about 8 deep)
MAX_RAW_ITEMS = 2000  # strings, numbers and keys of a provider's payload kept
MAX_DIGITS = 18  # an integer named in text (a count, an id) has at most this many digits

_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")
# C0 controls but tab and newline, DEL and the C1 controls: nothing a resident types.
# Also the bidirectional embeddings, overrides and isolates, the zero-width space and the byte
# order mark: invisible, they make words show otherwise than they read in staff's and the city's
# tools. The joiners (emoji sequences, Persian) and the left/right marks stay.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")
_ASCII_NAME = re.compile(r"[!-~]+")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f-\x9f]+", re.IGNORECASE)


def unicode_safe(value: str) -> str:
    """`value` without NUL and with lone surrogates replaced: what PostgreSQL and UTF-8 hold."""
    if _NUL in value:
        value = value.replace(_NUL, "")
    return _SURROGATE.sub("\ufffd", value)


def text(value: object, limit: int = MAX_TEXT) -> str:
    """A message's words: a string without control characters but newline and tab, cut to
    `limit` characters; "" for anything that is not a string."""
    if not isinstance(value, str):
        return ""
    value = _NEWLINES.sub("\n", unicode_safe(value[: limit * 2]))
    return _CONTROL_IN_TEXT.sub("", value)[:limit]


def line(value: object, limit: int = MAX_LINE) -> str:
    """One line of words (a place's name): as `text`, with newlines and tabs as spaces."""
    if not isinstance(value, str):
        return ""
    return " ".join(_CONTROL.sub(" ", unicode_safe(value[: limit * 2])).split())[:limit]


def identifier(value: object, limit: int, name: str, *, ascii_only: bool = False) -> str:
    """A sender's address or a provider's id, as sent: printable (with `ascii_only`, printable
    ASCII without spaces: a phone number, a Twilio SID), at most `limit` characters,
    surrounding spaces dropped; MalformedInbound naming the field otherwise."""
    if not isinstance(value, str):
        raise MalformedInbound(f"{name} is not text")
    value = value.strip()
    if not value:
        raise MalformedInbound(f"missing {name}")
    if len(value) > limit:
        raise MalformedInbound(f"{name} is longer than {limit} characters")
    if _CONTROL.search(value) or _SURROGATE.search(value):
        raise MalformedInbound(f"{name} holds control characters")
    if ascii_only and not _ASCII_NAME.fullmatch(value):
        raise MalformedInbound(f"{name} holds more than ASCII letters, digits and signs")
    return value


def optional_identifier(value: object, limit: int) -> str | None:
    """An id that may be left out (the message a tapped button was on): None where it is
    missing or is not a well-formed id."""
    try:
        return identifier(value, limit, "id")
    except MalformedInbound:
        return None


def count(value: object, most: int) -> int:
    """A count sent as text ("3"): ASCII digits only, at most `most`; `most` when unreadable
    (the caller then takes what is present, up to that many)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return min(int(value), most)
    return most


def integer(value: object, name: str, bits: int = 63) -> int:
    """A JSON integer (not a bool, a float or a string of digits) within a signed `bits`-bit
    range; MalformedInbound otherwise."""
    if type(value) is not int or not -(2**bits) <= value < 2**bits:
        raise MalformedInbound(f"{name} is not an integer of at most {bits + 1} bits")
    return value


def point(lat: object, lon: object) -> tuple[float, float] | None:
    """A map pin on the globe: finite numbers, latitude within ±90 and longitude within ±180;
    None for anything else."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)):
        return None
    try:
        lat, lon = float(lat), float(lon)  # type: ignore[arg-type]
    except OverflowError:  # an integer too large for a float
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def url(value: object) -> str | None:
    """A media link: http(s), printable, at most MAX_URL characters; None otherwise."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > MAX_URL or not _URL.fullmatch(value) or _SURROGATE.search(value):
        return None
    return value


def raw(value: Any) -> dict[str, Any]:
    """A provider's payload as kept in `Message.payload`: strings (keys too) made Unicode-safe,
    floats finite, nesting and size bounded (what lies deeper or beyond is dropped)."""
    budget = [MAX_RAW_ITEMS]
    kept = _raw(value, 0, budget) if isinstance(value, Mapping) else {}
    return kept if isinstance(kept, dict) else {}


def _raw(value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(value, str):
        return unicode_safe(value[:MAX_TEXT])
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)[: MAX_DIGITS * 4]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_RAW_DEPTH:
        return None
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if budget[0] <= 0:
                break
            kept[unicode_safe(str(key)[:MAX_LINE])] = _raw(item, depth + 1, budget)
        return kept
    if isinstance(value, (list, tuple)):
        return [_raw(item, depth + 1, budget) for item in value[: max(budget[0], 0)]]
    return None


def bounded_inbound(inbound: Inbound) -> Inbound:
    """A resident's message as stored: its address and id checked (MalformedInbound when they
    are not well formed), its words and payload cleaned and bounded."""
    payload = inbound.payload
    media = tuple(m for m in (_media(m) for m in payload.media[:MAX_MEDIA]) if m)
    location = point(*payload.location) if payload.location else None
    return replace(
        inbound,
        address=identifier(inbound.address, MAX_ADDRESS, "address"),
        external_id=(
            identifier(inbound.external_id, MAX_ID, "message id")
            if inbound.external_id is not None
            else None
        ),
        text=text(inbound.text),
        payload=InboundPayload(
            media=media,
            location=location,
            place_name=line(payload.place_name) if location else "",
            reply_to=optional_identifier(payload.reply_to, MAX_ID),
            raw=raw(payload.raw),
            public_post=optional_identifier(payload.public_post, MAX_ID),
        ),
    )


def _media(reference: object) -> str | None:
    """A photo's reference: a link, or a channel's own reference ("telegram-file:<id>")."""
    if not isinstance(reference, str):
        return None
    if reference.lower().startswith(("http://", "https://")):
        return url(reference)
    return optional_identifier(reference, MAX_LINE)


def bounded(event: Event) -> Event:
    """Any event a channel parsed, bounded as it is stored (MalformedInbound when a name in it
    is not well formed)."""
    if isinstance(event, Inbound):
        return bounded_inbound(event)
    if isinstance(event, DeliveryStatus):
        error = event.error_code
        return replace(
            event,
            external_id=identifier(event.external_id, MAX_ID, "message id"),
            error_code=optional_identifier(error, MAX_ERROR_CODE) if error else None,
            opted_out_address=(
                optional_identifier(event.opted_out_address, MAX_ADDRESS)
                if event.opted_out_address
                else None
            ),
        )
    if isinstance(event, Membership):
        return replace(event, address=identifier(event.address, MAX_ADDRESS, "address"))
    if isinstance(event, Ignored):
        return replace(event, reason=line(event.reason))
    return event
