"""refresh_catalog: fetch the city's catalogue again, off the resident's path."""

from __future__ import annotations

import logging

from bot.catalog import REFRESH_KEY, fetch_catalog, save_catalog
from bot.jobs.common import city_client
from bot.open311.client import Open311Error
from bot.queue import get_redis
from bot.settings import get_settings

log = logging.getLogger(__name__)


def refresh_catalog() -> int:
    """Fetch services and their questions and store them; return how many services."""
    settings = get_settings()
    try:
        entries = fetch_catalog(city_client(settings))
    except Open311Error as exc:
        log.warning("catalogue refresh failed, keeping the cached one: %s", exc)
        return 0
    finally:
        get_redis().delete(REFRESH_KEY)
    save_catalog(settings.open311_endpoint, entries)  # every process reads it at its next turn
    return len(entries)
