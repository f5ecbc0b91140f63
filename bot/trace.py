"""The trace id: one short id per webhook (or cron run), carried through the jobs it queues.

A webhook takes its provider's own request id when that is sane (`from_headers`), else a new
one; `bot.queue.enqueue` writes the id into the rq job's meta, and the worker sets it again
before the job runs (`bot.worker`), so every log line of a message's way (webhook, turn,
submission, send) carries the same `trace` (bot.logs). A job queued without one (by cron, by
hand) starts its own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

# Headers that carry a provider's or a router's id for the call, first found first taken.
HEADERS = ("x-request-id", "i-twilio-idempotency-token", "x-amzn-trace-id", "x-cloud-trace-context")
META_KEY = "trace"
# Printable, no spaces, short: an id, not a place to smuggle text into a log line.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=/+-]{3,99}")
# Seven or more digits in a row may be a phone number (bot.logs masks those): not an id.
_DIGITS = re.compile(r"\d{7,}")

_current: ContextVar[str | None] = ContextVar("intake311_trace", default=None)


def new_id() -> str:
    """A new short random id (12 hex characters, never seven digits in a row)."""
    while True:
        value = secrets.token_hex(6)
        if not _DIGITS.search(value):
            return value


def sane(value: str | None) -> str | None:
    """`value` if it can serve as a trace id (short, printable, nothing a log line masks:
    no phone-like digits, however written)."""
    if not value:
        return None
    value = value.strip()
    if not _SANE.fullmatch(value) or _DIGITS.search(value):
        return None
    from bot.logs import scrub  # bot.logs reads the trace id: imported when first needed

    if scrub(value) != value:  # what a log line would mask ("1-555-123-4567"): not an id
        return None
    return value


def from_headers(headers: Mapping[str, str]) -> str:
    """The call's id: the first sane one among HEADERS, else a new one."""
    for name in HEADERS:
        found = sane(headers.get(name))
        if found:
            return found
    return new_id()


def current() -> str | None:
    """The id set for what runs now, or None."""
    return _current.get()


@contextmanager
def bound(value: str | None) -> Iterator[str]:
    """Run the block with `value` (or a new id) as the trace id, then restore the one before."""
    value = value or new_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
