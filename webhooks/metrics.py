"""`/metrics`: the counts in Prometheus's text format (bot.metrics_scrape), behind
METRICS_TOKEN when it is set."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from bot import metrics_scrape

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Every process's metrics, summed; 401 without the bearer token when METRICS_TOKEN is set."""
    token = current_app.config["SETTINGS"].metrics_token
    if token and not _bearer_matches(token):
        response = Response("bearer token required", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = Response(metrics_scrape.exposition(), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison says nothing of how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
