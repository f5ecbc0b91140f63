"""The staff console (/console): server-rendered pages for the city's 311 team.

Live conversations with their transcripts and the handoff to a person, reports with their
history at the city, failures to retry, residents who stopped, the day's figures, and for
admins the staff accounts and the audit log. Signed in with staff accounts (bot.staff);
roles viewer < agent < admin (webhooks.console.auth.require).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from redis.exceptions import RedisError

from bot import audit, metrics
from bot.settings import Settings
from webhooks.console import auth, labels
from webhooks.console.style import STYLE_BLOCK

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console")

NAV = [
    ("console.live", "Conversations", "viewer"),
    ("console.reports", "Reports", "viewer"),
    ("console.failures", "Failures", "viewer"),
    ("console.stopped", "Stopped", "viewer"),
    ("console.figures", "Figures", "viewer"),
    ("console.staff_page", "Staff", "admin"),
    ("console.audit_log", "Audit log", "admin"),
]


@bp.before_request
def _who() -> Response | None:
    refused = auth.over_https()
    if refused is not None:
        return refused
    auth.load_user()
    if request.method == "POST":
        auth.csrf.protect()  # 400 without the session's token
    return None


@bp.teardown_request
def _nobody_acts(_exc: BaseException | None) -> None:
    audit.acting_as(None)


@bp.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    reason = f"{exc.description} Reload the page and try again (a form expires with its session)."
    return render_template("console/refused.html", heading="Form refused", reason=reason), 400


@bp.errorhandler(RedisError)
def _no_sessions(exc: RedisError):
    if request.endpoint == "console.signin" and request.method == "POST":
        metrics.console_signins.labels(outcome="unavailable").inc()
    log.warning("console unavailable (Redis: %s)", type(exc).__name__)
    return auth.unavailable()


@bp.errorhandler(404)
def _not_found(_exc):
    return render_template(
        "console/refused.html", heading="Not found", reason="There is nothing at this address."
    ), 404


bp.add_app_template_filter(labels.label, "label")


@bp.app_template_filter("local")
def local_time(when: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as the city's clock shows it (CITY_TIMEZONE); "" for none."""
    if when is None:
        return ""
    city = ZoneInfo(current_app.config["SETTINGS"].city_timezone)
    return when.astimezone(city).strftime(pattern)


@bp.app_context_processor
def _page_parts() -> dict:
    return {
        "zone": current_app.config["SETTINGS"].city_timezone,
        "style_block": STYLE_BLOCK,
        "me": g.get("staff"),
        "may": auth.may,
        "nav": [(endpoint, label) for endpoint, label, role in NAV if auth.may(role)],
    }


def register(app: Flask, settings: Settings) -> None:
    """Add the console to the app: its session, CSRF and pages."""
    from webhooks.console import account, conversations, records  # noqa: F401  (routes)

    auth.init_app(app, settings)
    app.register_blueprint(bp)
