"""What every channel shares: the send error type and the outbound contract."""

from __future__ import annotations

from dataclasses import dataclass


class SendError(Exception):
    """A failed send; `retryable` says whether trying again later may succeed.

    `opted_out` marks a recipient who asked for no more messages: never retried.
    `retry_after` is a wait the provider asked for; such a rate limit never uses up the tries.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        opted_out: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable and not opted_out
        self.code = code
        self.opted_out = opted_out
        self.retry_after = retry_after  # the provider asked us to wait this long (rate limit)


@dataclass(frozen=True)
class Outgoing:
    """A message ready for a channel: who, what (as the engine's reply intent) and our id."""

    message_id: int
    address: str
    text: str
    reply: dict
