"""refresh_catalog: fetch the city's catalogue again, off the resident's path."""

from __future__ import annotations

import logging

from bot.catalog import REFRESH_KEY, fetch_catalog, store_catalog
from bot.db import session_scope
from bot.jobs.common import open311_client
from bot.open311.client import Open311Error
from bot.queue import get_redis
from bot.settings import get_settings

log = logging.getLogger(__name__)


def refresh_catalog() -> int:
    """Fetch services and their questions and store them; return how many services."""
    settings = get_settings()
    client = open311_client(settings)
    try:
        entries = fetch_catalog(client)
    except Open311Error as exc:
        log.warning("catalogue refresh failed, keeping the cached one: %s", exc)
        return 0
    finally:
        client.close()
        get_redis().delete(REFRESH_KEY)
    with session_scope() as session:
        store_catalog(session, settings.open311_endpoint, entries)
    return len(entries)
