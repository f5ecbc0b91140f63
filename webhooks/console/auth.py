"""Who is signed in to the console: Flask's signed session cookie (a staff id and its epoch),
re-read against the account on every request, CSRF on every POST, and `require(role)`.

The cookie holds only the account's id and session epoch: a disabled account, a new password,
"sign out everywhere" (the epoch moves on) or a changed role apply at the next request. The
cookie is HttpOnly, SameSite=Lax, Secure in production, valid for CONSOLE_IDLE_HOURS after the
last request, and sent to /console only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from bot import audit, staff
from bot.models import StaffUser
from bot.production import is_production
from bot.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "intake311_console"
csrf = CSRFProtect()


def secret_key(settings: Settings) -> str:
    """CONSOLE_SECRET_KEY; unset (development only: production refuses to start), one derived
    from LOOKUP_KEY when that is set (the same in every worker), else a random one for this
    process (sessions end when it restarts)."""
    if settings.console_secret_key:
        return settings.console_secret_key
    if settings.lookup_key:
        log.warning("CONSOLE_SECRET_KEY is not set: the console's key is derived from LOOKUP_KEY")
        return hmac.new(
            settings.lookup_key.encode(), b"intake311 console sessions", hashlib.sha256
        ).hexdigest()
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
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.console_idle_hours),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_CHECK_DEFAULT=False,  # the console's before_request checks its own POSTs
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=is_production(settings),
    )
    csrf.init_app(app)


def start_session(user: StaffUser) -> None:
    """Sign `user` in: a fresh session holding the id and epoch."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["epoch"] = user.session_epoch


def end_session() -> None:
    """Sign out of this browser."""
    session.clear()


def load_user() -> StaffUser | None:
    """The signed-in account of this request (None: signed out, disabled, or epoch moved on);
    also who acts for the audit log."""
    uid, epoch = session.get("uid"), session.get("epoch")
    user = None
    if isinstance(uid, int) and isinstance(epoch, int):
        user = staff.signed_in(uid, epoch)
        if user is None:
            session.clear()  # disabled or signed out everywhere: this session is over
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


def over_https() -> Response | None:
    """In production, a refusal of any console request that did not come over HTTPS."""
    if request.is_secure or not is_production(current_app.config["SETTINGS"]):
        return None
    return Response("the staff console is served over HTTPS only", 403, mimetype="text/plain")
