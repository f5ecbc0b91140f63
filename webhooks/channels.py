"""Every channel's webhook, one route per channel registered from the registry.

A call is checked (`channel.verify`: 403 when forged), read (`channel.parse`: 400 when
malformed, never a 500), bounded (`bot.channels.fields.bounded`), stored (`bot.intake.accept`,
which queues a message's turn) and then answered (`channel.answer`): a provider is told 200 only
once what it sent is committed. A GET, or a call the channel answers by itself (a handshake, a
page's poll), goes to `channel.serve`.

A body larger than the channel's `max_request_bytes` is refused (413) before it is read. A value
the database still refuses (a DataError: something the parser and the bounds let through) is
answered by `channel.unstorable`: a 400, or a 200 where the provider would redeliver it for
ever (Telegram); never a 500.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError, StatementError
from werkzeug.exceptions import HTTPException

from bot import logs, metrics, trace
from bot.channels.base import Channel, MalformedInbound, WebReply, WebRequest
from bot.channels.fields import bounded
from bot.channels.registry import with_webhooks
from bot.intake import accept

METHODS = ["GET", "POST"]
# Outcomes logged at INFO; the others (forged, malformed, an error...) at WARNING.
QUIET_OUTCOMES = frozenset({"accepted", "duplicate", "served"})


def register(app: Flask) -> None:
    """Add a webhook route for every channel that has one."""
    for channel in with_webhooks():
        bp = Blueprint(f"channel_{channel.name}", __name__, url_prefix=channel.webhook_path)
        view = _view(channel)
        bp.add_url_rule("", f"{channel.name}_root", view, methods=METHODS, strict_slashes=False)
        bp.add_url_rule("/<path:subpath>", channel.name, view, methods=METHODS)
        bp.after_request(_answer_trace)
        app.register_blueprint(bp)


def _view(channel: Channel):
    def handle(subpath: str = "") -> Response:
        # Counted and logged here, once for every channel: what became of the call, in one
        # line under the call's trace id (bot.trace), which the jobs it queues carry on.
        outcome, status, note = "error", 500, _Note()
        started = time.perf_counter()
        g.trace = trace.from_headers({k.lower(): v for k, v in request.headers.items()})
        with trace.bound(g.trace):
            try:
                response, outcome = _handle(channel, subpath, note)
                status = response.status_code
                return response
            except (OperationalError, InterfaceError):
                outcome, status = "unavailable", 503  # the app answers 503
                raise
            except HTTPException as exc:
                status = exc.code or 500
                outcome = _outcome_of(status)
                raise
            except Exception:
                note.exc_info = True
                raise
            finally:
                metrics.webhooks.labels(channel.name, outcome).inc()
                _log_call(channel, outcome, status, started, note)

    return handle


class _Note:
    """What the webhook's log line says beyond its outcome: a reason, an exception."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.exc_info: bool = False


def _log_call(channel: Channel, outcome: str, status: int, started: float, note: _Note) -> None:
    """The webhook's one log line (never what the resident wrote: the channel, the outcome)."""
    line: dict[str, object] = {
        "event": "webhook",
        "channel": channel.name,
        "outcome": outcome,
        "status": status,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if note.reason:
        line["reason"] = note.reason
    quiet = outcome in QUIET_OUTCOMES and not note.exc_info
    current_app.logger.log(
        logging.INFO if quiet else logging.WARNING,
        "%s webhook %s (%s)%s",
        _provider(channel),
        outcome,
        status,
        f": {note.reason}" if note.reason else "",
        extra=logs.fields(**line),
        exc_info=note.exc_info,
    )


def _answer_trace(response: Response) -> Response:
    """Every webhook's answer names its trace id (X-Request-Id), for the provider's support."""
    traced = g.get("trace")
    if traced:
        response.headers["X-Request-Id"] = traced
    return response


def _handle(channel: Channel, subpath: str, note: _Note) -> tuple[Response, str]:
    """The call answered, and its outcome (bot.metrics.WEBHOOK_OUTCOMES)."""
    settings = current_app.config["SETTINGS"]
    # Below the app's MAX_CONTENT_LENGTH, never above it.
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or channel.max_request_bytes
    request.max_content_length = min(limit, channel.max_request_bytes)
    call = _web_request(subpath)
    if request.content_length is None and len(call.body) >= request.max_content_length:
        # A chunked body is read only up to the limit: one that reaches it was cut there.
        return Response("request body too large", status=413, mimetype="text/plain"), "too_large"
    served = channel.serve(call, settings)
    if served is not None:
        return _response(served), "served"
    if call.method != "POST":
        return Response("method not allowed", status=405, mimetype="text/plain"), "refused"
    reason = channel.verify(call, settings)
    if reason is not None:
        note.reason = reason
        return Response("forbidden", status=403, mimetype="text/plain"), "forged"
    try:
        events = [bounded(event) for event in channel.parse(call)]
    except MalformedInbound as problem:
        note.reason = str(problem)
        reply = Response(f"malformed webhook: {problem}", status=400, mimetype="text/plain")
        return reply, "malformed"
    except Exception as exc:  # a parser's bug: the call cannot be read; never a 500
        note.reason, note.exc_info = f"unreadable ({type(exc).__name__})", True
        return Response("malformed webhook", status=400, mimetype="text/plain"), "malformed"
    try:
        duplicate = [accept(event) for event in events]
    except (StatementError, UnicodeError, OverflowError) as exc:
        if not _unstorable(exc):
            raise  # the database is down (503, app-wide), or another failure of ours
        cause = exc.orig if isinstance(exc, StatementError) else exc
        note.reason = f"a value the database refuses ({type(cause).__name__})"
        return _response(channel.unstorable(call, note.reason)), "unstorable"
    accepted = "duplicate" if duplicate and all(duplicate) else "accepted"
    return _response(channel.answer(call, events)), accepted


def _unstorable(exc: Exception) -> bool:
    """Whether the database (or its driver) refused a value: too long, NUL, out of range, not
    encodable; not a database that is down, nor a duplicate."""
    if isinstance(exc, StatementError) and not isinstance(exc, DataError):
        return isinstance(exc.orig, (UnicodeError, OverflowError))
    return True


def _outcome_of(status: int) -> str:
    if status == 413:
        return "too_large"
    if status == 400:
        return "malformed"
    if status == 503:
        return "unavailable"
    return "refused" if status < 500 else "error"


def _provider(channel: Channel) -> str:
    return channel.provider or channel.name


def _web_request(subpath: str) -> WebRequest:
    # The raw body first: read after `request.form`, a form-encoded body would be empty by
    # then (the form parser consumed it), and a signature would be checked over nothing.
    body = request.get_data(cache=True)
    return WebRequest(
        method=request.method,
        url=request.url,
        path=request.path,
        query_string=request.query_string.decode(errors="replace"),
        subpath=f"/{subpath}" if subpath else "",
        query=request.args,
        headers={name.lower(): value for name, value in request.headers.items()},
        form=request.form,  # parsed from the cached body
        body=body,
        remote_addr=request.remote_addr or "",
    )


def _response(reply: WebReply) -> Response:
    return Response(
        reply.body, status=reply.status, content_type=reply.content_type, headers=reply.headers
    )
