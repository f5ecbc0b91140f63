"""The city's service catalogue, cached in the database with a time to live."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.models import CatalogCache
from bot.open311.client import Open311Client, Open311Error
from bot.timeutil import utcnow
from conversations import Service

log = logging.getLogger(__name__)


def load_services(
    session: Session, client: Open311Client, endpoint: str, ttl: int
) -> tuple[Service, ...]:
    """The catalogue: fresh from the cache, else from the city, else stale, else empty."""
    cache = session.exec(select(CatalogCache).where(CatalogCache.endpoint == endpoint)).first()
    if cache is not None and utcnow() - cache.fetched_at < timedelta(seconds=ttl):
        return to_services(cache.services)
    try:
        fetched = client.services()
    except Open311Error as exc:
        log.warning("catalogue fetch failed (%s); using %s", exc, "cache" if cache else "nothing")
        return to_services(cache.services) if cache else ()
    if cache is None:
        try:
            with session.begin_nested():  # two workers may fetch the first catalogue at once
                session.add(CatalogCache(endpoint=endpoint, services=fetched))
        except IntegrityError:
            pass  # the other one stored it; ours is as fresh
    else:
        cache.services = fetched
        cache.fetched_at = utcnow()
    session.flush()
    return to_services(fetched)


def to_services(entries: list[dict]) -> tuple[Service, ...]:
    """Open311 services.json entries as the engine's Service values."""
    services = []
    for entry in entries:
        code = entry.get("service_code")
        name = entry.get("service_name")
        if code is None or not name:
            continue
        keywords = entry.get("keywords") or ""
        if isinstance(keywords, str):
            keywords = [k.strip() for k in keywords.split(",")]
        services.append(
            Service(
                code=str(code),
                name=str(name).strip(),
                description=str(entry.get("description") or "").strip(),
                keywords=tuple(k for k in keywords if k),
                group=str(entry.get("group") or "").strip(),
            )
        )
    return tuple(services)
