"""What every channel's webhook does alike: refuse a forged call, answer a malformed one."""

from __future__ import annotations

from flask import Response, current_app, request


def refusal(provider: str, reason: str | None) -> Response | None:
    """A 403 (and a log line saying why) when `reason` is given, else None."""
    if reason is None:
        return None
    current_app.logger.warning(
        "refused %s webhook from %s: %s", provider, request.remote_addr, reason
    )
    return Response("forbidden", status=403, mimetype="text/plain")


def malformed(provider: str, problem: Exception) -> Response:
    """A 400 that says what is wrong with the call, never a 500."""
    current_app.logger.warning("malformed %s webhook: %s", provider, problem)
    return Response(f"malformed webhook: {problem}", status=400, mimetype="text/plain")
