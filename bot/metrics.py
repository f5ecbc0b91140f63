"""The Prometheus metrics (`intake311_*`) every process records where things happen: the
webhook seam, the turn, the Open311 seam, delivery, the status check.

With PROMETHEUS_MULTIPROC_DIR set (bot.metrics_dir, from METRICS_DIR) each process writes its
own files, summed at scrape time (bot.metrics_scrape); without it they live in this process's
registry. Labels are a small fixed set: never an address, a text or an id. This module imports
nothing else of ours, so the Open311 client and the channels' seam can use it.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# What became of a webhook call (webhooks/channels.py).
WEBHOOK_OUTCOMES = (
    "accepted",  # stored (or a status/handshake recorded), 200
    "duplicate",  # a redelivery of a message already stored, 200
    "served",  # a GET or a call the channel answers itself (handshake, page, poll)
    "forged",  # 403: the signature did not verify
    "malformed",  # 400: unreadable
    "unstorable",  # a value the database refused: 400, or 200 set aside
    "too_large",  # 413
    "unavailable",  # 503: the database is down (the provider retries)
    "refused",  # another 4xx (a method not allowed)
    "error",  # a 500
)
OPEN311_ERRORS = ("timeout", "connect", "4xx", "5xx", "redirect", "refused", "unreadable")

webhooks = Counter(
    "intake311_webhooks",
    "Webhook calls by channel and outcome",
    ["channel", "outcome"],
)
turn_seconds = Histogram(
    "intake311_turn_seconds",
    "Time one run_turn job took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)
open311_seconds = Histogram(
    "intake311_open311_call_seconds",
    "Open311 calls' latency by method and endpoint kind",
    ["method", "endpoint"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)
open311_errors = Counter(
    "intake311_open311_errors",
    "Open311 calls that failed, by kind",
    ["kind"],
)
messages_sent = Counter("intake311_messages_sent", "Messages sent, by channel", ["channel"])
messages_failed = Counter(
    "intake311_messages_failed", "Messages given up on (failed), by channel", ["channel"]
)
handoffs = Counter(
    "intake311_handoffs",
    "Conversations handed to a person, by reason (asked, not_understood)",
    ["reason"],
)
console_signins = Counter(
    "intake311_console_signins",
    "Staff console sign-ins by outcome (ok, refused, locked, limited, unavailable)",
    ["outcome"],
)
status_updates = Counter(
    "intake311_status_updates_told", "Residents told of a change in their report's status"
)


def open311_error_kind(status_code: int | None, transport: str | None = None) -> str:
    """An Open311 failure's kind: timeout, connect, 4xx, 5xx or unreadable."""
    if transport:
        return transport
    if status_code is not None and 400 <= status_code < 500:
        return "4xx"
    if status_code is not None and status_code >= 500:
        return "5xx"
    return "unreadable"
