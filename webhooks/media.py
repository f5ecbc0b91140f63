"""Kept photos served to the city and to anyone holding the address: GET and HEAD
/media/<token>. The token is the store's key (no database is read); an address that cannot be
a token is 404 without asking the store. A photo never changes under its token, so it may be
cached for a week; it is served inline, sandboxed, its type never sniffed."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, current_app, jsonify, request

from bot.media.store import TOKEN_PATTERN, media_store

bp = Blueprint("media", __name__)

# Browsers may keep a copy a day; shared caches (a CDN in front of us) none, so an erased
# photo is gone everywhere but in a browser that already showed it, within a day.
CACHE_CONTROL = "private, max-age=86400, immutable"
POLICY = "default-src 'none'; sandbox"
# The types the pipeline keeps; anything else a store hands back is served as plain bytes.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
RETRY_AFTER_SECONDS = "30"


@bp.route("/media/<token>", methods=["GET", "HEAD"])
def serve(token: str) -> Response:
    """The photo kept under `token`: 404 if there is none, 503 if the store fails."""
    if not TOKEN_PATTERN.match(token):
        abort(404)
    try:
        stored = media_store(current_app.config["SETTINGS"]).get(token)
    except Exception as exc:
        # S3 down, a disk error: the city may try again. The token is a secret: not logged.
        current_app.logger.error("media store unavailable: %s", type(exc).__name__)
        response = jsonify(error="temporarily unavailable")
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if stored is None:
        abort(404)
    content_type = stored.content_type.lower().strip()
    response = Response(stored.data, status=200)
    response.headers["Content-Type"] = (
        content_type if content_type in IMAGE_TYPES else "application/octet-stream"
    )
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(hashlib.sha256(stored.data).hexdigest()[:32])
    response.make_conditional(request)  # a cache's If-None-Match: 304, in place
    return response
