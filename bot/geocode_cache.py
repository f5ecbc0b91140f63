"""Geocoding answers kept for a while in Redis, so the same typed address or the same pin asks
the provider once (Nominatim's usage policy asks for it; a paid provider counts every call).

Keys are keyed hashes of the question (what a resident typed is never a Redis key), values the
answer; a failed look-up is never kept, and Redis being down only costs a call to the provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from redis.exceptions import RedisError

from bot.settings import Settings
from conversations import Geocoded, Place

log = logging.getLogger(__name__)
PREFIX = "intake311:geocode:"


def _key(settings: Settings, kind: str, question: str) -> str:
    """The Redis key of one question to one provider (its name, host and the city's bounds)."""
    asked = "\x1f".join(
        (kind, settings.geocoder, settings.geocoder_domain, repr(settings.bounds()), question)
    )
    secret = (settings.lookup_key or "intake311").encode()
    return PREFIX + hmac.new(secret, asked.encode(), hashlib.sha256).hexdigest()[:40]


def _redis(settings: Settings):
    from bot.queue import get_redis

    return get_redis(settings.redis_url)


def cached_lookup(query: str, settings: Settings) -> Geocoded | None:
    """The kept answer for a typed query, or None."""
    if not _kept(settings):
        return None
    try:
        raw = _redis(settings).get(_key(settings, "search", query.strip().casefold()))
    except RedisError as exc:
        log.warning("geocode cache unavailable: %s", type(exc).__name__)
        return None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Geocoded(
            query,
            tuple(Place(**p) for p in data["places"]),
            outside=tuple(Place(**p) for p in data["outside"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def keep_lookup(query: str, found: Geocoded, settings: Settings) -> None:
    """Keep a look-up's answer (never a failed one)."""
    if not _kept(settings) or found.failed:
        return
    data = {
        "places": [_place(p) for p in found.places],
        "outside": [_place(p) for p in found.outside],
    }
    key = _key(settings, "search", query.strip().casefold())
    _set(settings, key, json.dumps(data))


def cached_reverse(lat: float, lon: float, settings: Settings) -> str | None:
    """The kept street address of a point (to about a metre), or None."""
    if not _kept(settings):
        return None
    try:
        raw = _redis(settings).get(_key(settings, "reverse", f"{lat:.5f},{lon:.5f}"))
    except RedisError as exc:
        log.warning("geocode cache unavailable: %s", type(exc).__name__)
        return None
    return raw.decode() if raw is not None else None


def keep_reverse(lat: float, lon: float, address: str, settings: Settings) -> None:
    """Keep a point's street address (never an empty one: that may be a failure)."""
    if _kept(settings) and address:
        _set(settings, _key(settings, "reverse", f"{lat:.5f},{lon:.5f}"), address)


def _kept(settings: Settings) -> bool:
    return settings.geocode_cache_seconds > 0 and settings.geocoder not in ("none", "gazetteer")


def _set(settings: Settings, key: str, value: str) -> None:
    try:
        _redis(settings).set(key, value, ex=settings.geocode_cache_seconds)
    except RedisError as exc:
        log.warning("geocode cache unavailable: %s", type(exc).__name__)


def _place(place: Place) -> dict:
    return {"address": place.address, "lat": place.lat, "lon": place.lon, "exact": place.exact}
