"""The city's service catalogue (services and their questions), cached in the database.

A turn reads the cache, stale or not, and a stale cache is refreshed by a background job; only
when there is no cache at all does a turn wait for the city, with no transaction open.

Each process also keeps the catalogue it last read, with the version stamp it read it under:
every stored catalogue gets a new stamp in Redis (`VERSION_KEY`), so a turn costs one Redis
GET, and a refresh made by any process is read again by every other at its next turn. Without
Redis a turn reads the database, as before; a copy older than `KEEP_SECONDS` is read again
whatever the stamp (a stamp lost with Redis between a store and its publication).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import queue
from bot.db import session_scope
from bot.models import CatalogCache
from bot.open311.client import Open311Client, Open311Error
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations.types import Attribute, Choice, Service

log = logging.getLogger(__name__)

REFRESH_KEY = "intake311:catalog-refresh-queued"
VERSION_KEY = "intake311:catalog-version"
KEEP_SECONDS = 60.0


@dataclass(frozen=True)
class _Kept:
    """A catalogue this process read, under the version stamp it read it with."""

    version: bytes | str
    services: tuple[Service, ...]
    fetched_at: datetime
    read_at: float  # time.monotonic()


# (pid, database URL, endpoint) -> what this process last read.
_kept: dict[tuple[int, str, str], _Kept] = {}


def load_services(
    client: Callable[[], Open311Client], endpoint: str, ttl: int
) -> tuple[Service, ...]:
    """The catalogue for a turn: this process's copy while its version stamp holds, else the
    database's cache (refreshed in the background when stale), else fetched with `client()`
    (called only then: a turn that finds a cache builds no client).

    No transaction is open while the city is asked: the cache is read in one short
    transaction and a fetched catalogue stored in another.
    """
    key = (os.getpid(), get_settings().database_url, endpoint)
    version = _version()
    kept = _kept.get(key)
    if (
        kept is not None
        and version is not None
        and kept.version == version
        and time.monotonic() - kept.read_at < KEEP_SECONDS
    ):
        services, fetched_at = kept.services, kept.fetched_at
    else:
        with session_scope() as session:
            cache = _cached(session, endpoint)
            if cache is None:
                entries = None
            else:
                entries, fetched_at = cache.services, cache.fetched_at
        if entries is None:
            return _fetch_first(client, endpoint)
        services = to_services(entries)
        if version is not None:
            _kept[key] = _Kept(version, services, fetched_at, time.monotonic())
    if utcnow() - fetched_at >= timedelta(seconds=ttl):
        _request_refresh(ttl)
    return services


def _fetch_first(client: Callable[[], Open311Client], endpoint: str) -> tuple[Service, ...]:
    """No catalogue is cached: ask the city for one, for this turn and the next ones."""
    try:
        fetched = fetch_catalog(client())
    except Open311Error as exc:
        if exc.operator_error:
            log.error(
                "catalogue unavailable: the city refused our setup (check OPEN311_ENDPOINT, "
                "OPEN311_API_KEY, OPEN311_JURISDICTION_ID; `intake311 open311 check`): %s",
                exc,
            )
        else:
            log.warning("catalogue unavailable: %s", exc)
        return ()
    return to_services(save_catalog(endpoint, fetched))


def fetch_catalog(client: Open311Client) -> list[dict]:
    """services.json plus each metadata service's questions; raises Open311Error."""
    entries = client.services()
    for entry in entries:
        if not entry.get("metadata"):
            continue
        try:
            definition = client.service_definition(str(entry["service_code"]))
        except Open311Error as exc:
            if exc.retryable:
                raise
            log.warning("no definition for service %s: %s", entry.get("service_code"), exc)
            continue
        entry["attributes"] = definition.get("attributes") or []
    return entries


def save_catalog(endpoint: str, entries: list[dict]) -> list[dict]:
    """Store a fetched catalogue in a transaction of its own and, once committed, give it a new
    version stamp so every process reads it at its next turn; return what the cache holds."""
    with session_scope() as session:
        kept = store_catalog(session, endpoint, entries)
    _publish()
    return kept


def _version() -> bytes | str | None:
    """The stamp of the stored catalogue (one is made if Redis lost it); None without Redis."""
    try:
        redis = queue.get_redis()
        version = redis.get(VERSION_KEY)
        if version is None:
            redis.set(VERSION_KEY, secrets.token_hex(8), nx=True)
            version = redis.get(VERSION_KEY)
        return version
    except RedisError:
        return None


def _publish() -> None:
    """A new catalogue was committed: a new stamp, so that every process reads it again."""
    _kept.clear()
    try:
        queue.get_redis().set(VERSION_KEY, secrets.token_hex(8))
    except RedisError:
        log.warning("could not publish the new catalogue; processes read it within a minute")


def store_catalog(session: Session, endpoint: str, entries: list[dict]) -> list[dict]:
    """Save a fetched catalogue as the cache for `endpoint` in the caller's transaction; return
    what the cache now holds (`save_catalog` also tells the other processes).

    A catalogue without a single usable service (an odd answer from a struggling server) never
    replaces one that has services.
    """
    _kept.clear()  # this process reads it again, committed or not
    cache = _cached(session, endpoint)
    if cache is not None and cache.services and not to_services(entries):
        log.warning("the city answered an empty catalogue; keeping the cached one")
        return cache.services
    if cache is None:
        try:
            with session.begin_nested():  # two workers may store the first catalogue at once
                session.add(CatalogCache(endpoint=endpoint, services=entries))
        except IntegrityError:
            pass  # the other one stored it; ours is as fresh
    else:
        cache.services = entries
        cache.fetched_at = utcnow()
    session.flush()
    return entries


def _cached(session: Session, endpoint: str) -> CatalogCache | None:
    return session.exec(select(CatalogCache).where(CatalogCache.endpoint == endpoint)).first()


def _request_refresh(ttl: int) -> None:
    try:
        if queue.get_redis().set(REFRESH_KEY, "1", nx=True, ex=max(30, min(ttl, 600))):
            queue.enqueue("bot.jobs.refresh_catalog")
    except RedisError:
        log.warning("could not queue a catalogue refresh")


def to_services(entries: list[dict]) -> tuple[Service, ...]:
    """Open311 services.json entries (with their definitions' attributes) as Services."""
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
                attributes=to_attributes(entry.get("attributes") or []),
            )
        )
    return tuple(services)


def to_attributes(entries: list[dict]) -> tuple[Attribute, ...]:
    """A service definition's attributes as the engine's Attributes, in `order`."""
    attributes = []
    for entry in entries:
        if not entry.get("code"):
            continue
        values = tuple(
            Choice(key=str(v.get("key")), name=str(v.get("name") or v.get("key")))
            for v in entry.get("values") or []
            if v.get("key") is not None
        )
        attributes.append(
            Attribute(
                code=str(entry["code"]),
                datatype=str(entry.get("datatype") or "string").strip().lower(),
                description=str(entry.get("description") or entry["code"]).strip(),
                required=_truthy(entry.get("required")),
                order=_number(entry.get("order")),
                values=values,
                variable=_truthy(entry.get("variable", True)),
                datatype_description=str(entry.get("datatype_description") or "").strip(),
            )
        )
    return tuple(sorted(attributes, key=lambda a: a.order))


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
