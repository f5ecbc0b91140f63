"""Who is signed in to the console: a random session id in Flask's signed cookie, the session
itself in Redis (bot.console_sessions), re-read against the account on every request, CSRF on
every POST, and `require(role)`.

The cookie holds only the session id (and the CSRF token): signing out deletes the session, so
a copied cookie is worth nothing after it; a disabled account, a new password, "sign out
everywhere" (the epoch moves on and the account's sessions are deleted) or a changed role apply
at the next request. A session lapses CONSOLE_IDLE_HOURS after the last request that counts (the
live page's automatic refresh, `?auto=1`, does not) and ends CONSOLE_MAX_SESSION_HOURS after
sign-in. The cookie is HttpOnly, SameSite=Lax, Secure in production, sent to /console only.
Redis down: the console answers 503 (`unavailable`) and signs nobody in.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from bot import audit, console_sessions, staff
from bot.models import StaffUser
from bot.production import is_production
from bot.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "intake311_console"
csrf = CSRFProtect()


AUTO = "auto"  # the query parameter of an automatic refresh: not activity


def secret_key(settings: Settings) -> str:
    """CONSOLE_SECRET_KEY; unset (development only: production refuses to start), a random one
    for this process (sessions end when it restarts; several workers need CONSOLE_SECRET_KEY)."""
    if settings.console_secret_key:
        return settings.console_secret_key
    log.warning(
        "CONSOLE_SECRET_KEY is not set: the console signs sessions with a random key for this "
        "process (every worker its own; sessions end at a restart)"
    )
    return secrets.token_urlsafe(32)


def init_app(app: Flask, settings: Settings) -> None:
    """The session cookie's key and flags, and CSRF checked where the console asks for it (the
    providers' webhooks are verified by their signatures, never by a cookie)."""
    app.secret_key = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=is_production(settings),
        # The cookie outlives no session; Redis keeps the idle and absolute times.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.console_max_session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # an automatic refresh must not re-sign it
        WTF_CSRF_CHECK_DEFAULT=False,  # the console's before_request checks its own POSTs
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=is_production(settings),
    )
    csrf.init_app(app)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def start_session(user: StaffUser) -> None:
    """Sign `user` in: a new session id (never the one the browser came with) in a fresh
    cookie. RedisError when Redis is down."""
    old = session.get("sid")
    if isinstance(old, str):
        console_sessions.end(old)
    assert user.id is not None  # a stored account
    sid = console_sessions.start(user.id, user.session_epoch, _settings())
    session.clear()
    session.permanent = True
    session["sid"] = sid


def end_session() -> None:
    """Sign out of this browser: its session is deleted, not only forgotten by the cookie."""
    sid = session.get("sid")
    if isinstance(sid, str):
        user = g.get("staff")
        console_sessions.end(sid, user.id if user is not None else None)
    session.clear()


def load_user() -> StaffUser | None:
    """The signed-in account of this request (None: signed out, lapsed, disabled, or epoch
    moved on); also who acts for the audit log. RedisError when Redis is down."""
    sid = session.get("sid")
    user = None
    if isinstance(sid, str):
        touch = request.args.get(AUTO) != "1"
        found = console_sessions.find(sid, _settings(), touch=touch)
        if found is not None:
            user = staff.signed_in(found.user_id, found.epoch)
            if user is None:
                console_sessions.end(sid, found.user_id)
        if user is None:
            session.clear()  # lapsed, disabled or signed out everywhere: this session is over
    elif session.get("uid") is not None:
        session.clear()  # a cookie from before sessions lived in Redis
    g.staff = user
    if user is not None:
        audit.acting_as(audit.Staff(user.username, request.remote_addr))
    return user


def current() -> StaffUser:
    """The signed-in account (in a view behind `require`)."""
    return g.staff


def may(role: str) -> bool:
    """Whether the signed-in account has at least `role`."""
    user = g.get("staff")
    return user is not None and staff.role_at_least(user.role, role)


def require(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view for accounts with at least `role`: the signed-out go to sign in, others get 403."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("staff") is None:
                return redirect(url_for("console.signin", next=request.path))
            if not may(role):
                return forbidden(role)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorator


def forbidden(role: str) -> Response:
    """The page saying this needs another role."""
    from flask import render_template

    return Response(
        render_template("console/forbidden.html", role=role), status=403, mimetype="text/html"
    )


def unavailable() -> Response:
    """The page saying the console cannot work now (Redis, where its sessions live, is down)."""
    from flask import render_template

    page = render_template(
        "console/refused.html",
        heading="Console unavailable",
        reason="The console cannot reach its session store (Redis) just now, so nobody can be "
        "signed in. Try again in a minute; if it lasts, tell whoever runs intake311.",
    )
    return Response(page, status=503, mimetype="text/html", headers={"Retry-After": "60"})


def over_https() -> Response | None:
    """In production, a refusal of any console request that did not come over HTTPS."""
    if request.is_secure or not is_production(current_app.config["SETTINGS"]):
        return None
    return Response("the staff console is served over HTTPS only", 403, mimetype="text/plain")
