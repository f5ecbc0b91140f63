"""purge: the retention purge (bot.retention), run by the cron every PURGE_INTERVAL."""

from __future__ import annotations

from bot import retention


def purge() -> int:
    """Delete and blank what RETENTION_DAYS no longer allows; return how many rows went."""
    done = retention.purge()
    return done.messages + done.reports + done.contacts + done.finished
