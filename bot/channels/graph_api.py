"""A thin client of Meta's Graph API for the Messenger channel: one httpx call at a time.

No maintained Python client of the Send API fits (none is installed, and the old ones predate
today's Graph versions), so the few calls the bot makes are made here with httpx, our TLS
context (`bot.tls.tls_context`) and a timeout. Every call goes to
`{META_GRAPH_BASE}/{META_GRAPH_VERSION}/<path>` with the page access token as the
`access_token` query parameter, the way the Send API reference shows it
(https://developers.facebook.com/docs/messenger-platform/reference/send-api/). httpx's request
lines (which would print that URL) are held back by `bot.logs`, the token is one of
`secret_values`, and our own errors pass through `redact`.

Meta answers a refusal with its error JSON (`{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`, "Common Error Codes",
https://developers.facebook.com/docs/messenger-platform/error-codes): `GraphError` carries its
code and subcode, and `transient` says whether trying again later may succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.settings import Settings
from bot.tls import tls_context

CONNECT_TIMEOUT = 5.0
TIMEOUT = 15.0


@dataclass
class GraphError(Exception):
    """A Graph API call that failed: Meta's error code and subcode (None when Meta named none:
    a transport failure, a body that is not its error JSON), the HTTP status (0: no answer),
    and its message without the token."""

    message: str
    status: int = 0
    code: int | None = None
    subcode: int | None = None

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}" if self.status else "no answer"]
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        return f"Graph API {', '.join(parts)}: {self.message}"


def redact(text: str, settings: Settings) -> str:
    """The text with the page token and the app secret masked."""
    for secret in (settings.meta_page_token, settings.meta_app_secret):
        if secret:
            text = text.replace(secret, "<token>")
    return text


def version(settings: Settings) -> str:
    """META_GRAPH_VERSION as the path's first part: "v25.0" (a bare "25.0" gets its "v")."""
    value = settings.meta_graph_version.strip().strip("/")
    return value if value.startswith("v") else f"v{value}"


def url(settings: Settings, path: str) -> str:
    """The Graph API URL of `path` ("me/messages"), without the token."""
    return f"{settings.meta_graph_base.rstrip('/')}/{version(settings)}/{path.lstrip('/')}"


def call(
    settings: Settings,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One Graph API call with the page token; Meta's JSON answer. GraphError when it failed."""
    token = settings.meta_page_token
    if not token:
        raise GraphError("META_PAGE_TOKEN is not set")
    query = {**(params or {}), "access_token": token}
    try:
        with httpx.Client(
            verify=tls_context(),
            timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            trust_env=False,
            follow_redirects=False,
        ) as client:
            response = client.request(method, url(settings, path), params=query, json=body)
    except httpx.HTTPError as exc:  # timeouts, refused connections, broken answers
        raise GraphError(redact(f"{type(exc).__name__}", settings)) from None
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if response.is_success and isinstance(data, dict):
        return data
    raise _error(response.status_code, data, settings)


def _error(status: int, data: object, settings: Settings) -> GraphError:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GraphError("an answer that is not Meta's error JSON", status)
    message = error.get("message")
    text = redact(message[:300] if isinstance(message, str) else "", settings)
    return GraphError(
        text, status, _integer(error.get("code")), _integer(error.get("error_subcode"))
    )


def _integer(value: object) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None
