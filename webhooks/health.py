"""Liveness and readiness for load balancers."""

from flask import Blueprint

from bot import readiness

bp = Blueprint("health", __name__)
OPEN311_SECONDS = 1.0  # the city's state, read from our database after the probes


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return {"ok": True}


@bp.get("/readyz")
def readyz():
    """The database and Redis answer (both within ~2 s); the city's state is reported as known,
    never asked for, and never makes the process unready."""
    database, redis = readiness.both()
    ready = database.ok and redis.ok
    body = {
        "ok": ready,
        "database": database.text(),
        "redis": redis.text(),
        "open311": readiness.open311(OPEN311_SECONDS) if database.ok else "unknown",
    }
    return body, 200 if ready else 503
