"""The web process: providers' webhooks, verified, stored and queued, answered fast."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from bot.db import ping_on_checkout
from bot.logs import configure_logging
from bot.production import check_startup
from bot.settings import get_settings

MAX_BODY_BYTES = 1024 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app; `test_config` may carry a SETTINGS object and Flask options."""
    app = Flask(__name__)
    # No provider sends more than this in one call (Twilio's forms and Telegram's Updates are a
    # few kB; media arrive as links): a larger body is refused (413) before it is read.
    app.config.from_mapping(SETTINGS=None, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    if test_config:
        app.config.update(test_config)
    if app.config["SETTINGS"] is None:
        app.config["SETTINGS"] = get_settings()
    settings = app.config["SETTINGS"]
    configure_logging(settings)
    # No test query before each use of a pooled connection: a webhook on a connection the
    # database dropped is run again once on a fresh one (bot.db.retry_disconnected), or 503.
    ping_on_checkout(False)
    check_startup(settings, "web")  # ENV=production: refuses unsafe settings (RefusedToStart)

    from webhooks import admin, channels, console, health, media, metrics, security

    channels.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(metrics.bp)
    console.register(app, settings)  # the staff console (/console)
    security.init_app(app, settings)
    _init_errors(app)
    return app


def _init_errors(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(exc):
        # The provider retries a 503: the message is delayed, not lost.
        app.logger.error("database unavailable: %s", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 404 and request.path.startswith("/console/"):
            # An address no console route matches: the console's own page, not the API's JSON.
            return render_template(
                "console/refused.html", heading="Not found", reason="There is nothing here."
            ), 404
        return jsonify(error=exc.description), exc.code
