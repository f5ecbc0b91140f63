"""The worker's jobs: plain functions that take ids, so a lost job can simply be queued again.

Queued by dotted path (`bot.jobs.run_turn`); each module holds one job and its helpers.
"""

from bot.jobs.common import backoff
from bot.jobs.delivery import deliver
from bot.jobs.idle import close_idle, time_out
from bot.jobs.limited import tell_limited
from bot.jobs.open_requests import refresh_open_requests
from bot.jobs.photos import fetch_photo
from bot.jobs.polling import poll_channels
from bot.jobs.purge import purge
from bot.jobs.reconcile import reconcile
from bot.jobs.refresh import refresh_catalog
from bot.jobs.submission import check_filed_once, resolve_token, submit
from bot.jobs.tracking import receive_status, track
from bot.jobs.turn_handoff import end_agent, end_wait
from bot.jobs.turns import run_turn

__all__ = [
    "backoff",
    "check_filed_once",
    "close_idle",
    "deliver",
    "end_agent",
    "end_wait",
    "fetch_photo",
    "poll_channels",
    "purge",
    "reconcile",
    "receive_status",
    "refresh_catalog",
    "refresh_open_requests",
    "resolve_token",
    "run_turn",
    "submit",
    "tell_limited",
    "time_out",
    "track",
]
