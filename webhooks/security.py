"""Security headers on every response, and the proxy the app may believe.

The HTML pages (the web chat, the admin page, the staff console's) carry their script and
styles inline; the Content-Security-Policy allows exactly those blocks by their SHA-256 hashes
and nothing else (no other script, no inline event handlers, no plugins, no base or form
elsewhere), so an injected tag does nothing. Only the web chat page may be framed, and only
by the sites in WEBCHAT_FRAME_ANCESTORS.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.channels import webchat
from bot.production import is_production
from bot.settings import Settings

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
HSTS = "max-age=31536000"
NONE = "'none'"
WEBCHAT_BLUEPRINT = f"channel_{webchat.NAME}"
# Kept photos (webhooks/media.py) set their own caching (a browser's, for a day) and policy.
MEDIA_BLUEPRINT = "media"
# The staff console's forms are checked against their Referer over HTTPS (flask-wtf's strict
# CSRF check in production): its pages send one to our own origin, never elsewhere.
CONSOLE_BLUEPRINT = "console"


def inline_hashes(html: str) -> dict[str, list[str]]:
    """The CSP sources ('sha256-...') of each inline <script> and <style> block in `html`."""
    found: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        found[kind].append(f"'sha256-{digest}'")
    return found


def content_security_policy(pages: list[str], frame_ancestors: str = "") -> str:
    """The policy for every response: only the inline blocks of `pages`, our own origin for
    the page's calls, and framing by `frame_ancestors` (space-separated origins) or nobody."""
    scripts: list[str] = []
    styles: list[str] = []
    for html in pages:
        found = inline_hashes(html)
        scripts += [h for h in found["script"] if h not in scripts]
        styles += [h for h in found["style"] if h not in styles]
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(scripts) or NONE}",
            f"style-src {' '.join(styles) or NONE}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors.strip() or NONE}",
        ]
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Believe TRUST_PROXY proxies (client address, scheme and host), and add the security
    headers to every response."""
    if settings.trust_proxy:
        hops = settings.trust_proxy
        # X-Forwarded-Host too: a proxy that rewrites Host would otherwise fail the console's
        # strict Referer check (flask-wtf compares the Referer with the host we were asked for).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    from webhooks import admin
    from webhooks.console.style import STYLE_BLOCK

    pages = [webchat.page(), admin.PAGE, STYLE_BLOCK]
    policy = content_security_policy(pages)
    framed_policy = content_security_policy(pages, settings.webchat_frame_ancestors)
    embeddable = bool(settings.webchat_frame_ancestors.strip())
    production = is_production(settings)

    @app.after_request
    def security_headers(response: Response) -> Response:
        framed = embeddable and request.blueprint == WEBCHAT_BLUEPRINT
        own = request.blueprint == MEDIA_BLUEPRINT
        if not (own and "Content-Security-Policy" in response.headers):
            response.headers["Content-Security-Policy"] = framed_policy if framed else policy
        if not framed:
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = (
            "same-origin" if request.blueprint == CONSOLE_BLUEPRINT else "no-referrer"
        )
        # Staff pages, residents' replies, webhooks' answers: nothing here is for a cache.
        if not (own and "Cache-Control" in response.headers):
            response.headers["Cache-Control"] = "no-store"
        if production:
            response.headers["Strict-Transport-Security"] = HSTS
        return response
