"""Staff pages: work given up on (dead letters), to read and send back in line.

Closed unless ADMIN_TOKEN is set. Reading takes the token as a bearer token or as the password
of HTTP Basic (so a browser can open the page); retrying takes the bearer token only, which a
browser never adds on its own, so no other site can make a signed-in browser retry work. With
ENV=production the token is taken over HTTPS only (behind a proxy: TRUST_PROXY), and every
retry is a staff action in the audit log (bot.audit), shown on the page.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Blueprint, Response, abort, current_app, render_template_string, request

from bot import audit
from bot.failures import list_failures, parse_name, retry, retry_all
from bot.production import is_production
from bot.ratelimits import sms_alarm

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>intake311: failures</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}
tr:nth-child(even){background:#f3f3f3}</style></head><body>
{% if alarm %}<p><strong>{{ alarm }}</strong></p>{% endif %}
<h1>Work given up on ({{ failures|length }})</h1>
{% if failures %}<table><tr><th>name</th><th>when (UTC)</th><th>what</th><th>why</th></tr>
{% for f in failures %}<tr><td>{{ f.name }}</td><td>{{ f.at.strftime("%Y-%m-%d %H:%M") }}</td>
<td>{{ f.what }}</td><td>{{ f.error }}{% if f.hint %}<br><em>{{ f.hint }}</em>{% endif %}</td></tr>
{% endfor %}</table>
<p>Send one back in line with <code>intake311 failures retry NAME</code>, every one with
<code>intake311 failures retry --all</code>, or POST /admin/failures/retry.</p>
{% else %}<p>Nothing waits for staff.</p>{% endif %}
<h2>Latest staff actions</h2>
{% if actions %}<table><tr><th>when (UTC)</th><th>who</th><th>what</th><th>from</th></tr>
{% for a in actions %}<tr><td>{{ a.at.strftime("%Y-%m-%d %H:%M:%S") }}</td><td>{{ a.actor }}</td>
<td>{{ a.action }} {{ a.target }}{% if a.detail %}: {{ a.detail }}{% endif %}</td>
<td>{{ a.remote_addr or "" }}</td></tr>
{% endfor %}</table>{% else %}<p>None yet.</p>{% endif %}</body></html>"""


def _given_token(allow_basic: bool) -> str:
    kind, _, value = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer":
        return value.strip()
    if kind.lower() == "basic" and allow_basic:
        try:
            return base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _over_https() -> Response | None:
    """In production, a refusal of any sign-in that did not come over HTTPS (None: go on)."""
    if request.is_secure or not is_production(current_app.config["SETTINGS"]):
        return None
    return Response(
        "staff sign in over HTTPS only", status=403, mimetype="text/plain"
    )  # no WWW-Authenticate: a browser is not asked to send the token in clear


def _check(allow_basic: bool) -> Response | None:
    token = current_app.config["SETTINGS"].admin_token
    if not token:
        abort(404)
    insecure = _over_https()
    if insecure:
        return insecure
    given = _given_token(allow_basic)
    if given and hmac.compare_digest(given.encode(), token.encode()):
        # Until staff accounts, whoever holds the token acts as "admin-token".
        audit.acting_as(audit.Staff("admin-token", request.remote_addr))
        return None
    response = Response("sign in with the ADMIN_TOKEN", status=401, mimetype="text/plain")
    if allow_basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="intake311 staff"'
    return response


@bp.teardown_request
def _nobody_acts(_exc: BaseException | None) -> None:
    audit.acting_as(None)


@bp.get("/failures")
def failures():
    """The dead letters, as a page for people or JSON for tools."""
    refused = _check(allow_basic=True)
    if refused:
        return refused
    found = list_failures()
    alarm = sms_alarm()  # today's texts past SMS_ALARM_PER_DAY
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return {
            "failures": [
                {
                    "name": f.name,
                    "what": f.what,
                    "error": f.error,
                    "hint": f.hint,
                    "at": f.at.isoformat(),
                }
                for f in found
            ],
            "sms_alarm": alarm,
        }
    return render_template_string(PAGE, failures=found, actions=audit.latest(), alarm=alarm)


@bp.post("/failures/retry")
def retry_failures():
    """Send failures back in line: JSON {"names": [...]} or {"all": true}."""
    refused = _check(allow_basic=False)
    if refused:
        return refused
    try:
        names = _retry_request()
    except ValueError as exc:
        return {"error": str(exc)}, 400
    if names is None:
        return {"retried": retry_all()}
    retried, refused = [], {}
    for name in names:
        try:
            if retry(name):
                retried.append(name)
        except ValueError as exc:  # erased: nothing left to file
            refused[name] = str(exc)
    not_failed = sorted(set(names) - set(retried) - set(refused))
    return {"retried": retried, "not_failed": not_failed, "refused": refused}


MAX_RETRY_NAMES = 200  # names in one retry request (the page lists at most 200 failures)
MAX_RETRY_BYTES = 16 * 1024
RETRY_USAGE = 'send {"names": ["report:12", ...]} (at most 200) or {"all": true}'


def _retry_request() -> list[str] | None:
    """The failures a retry request names, every one of them checked (None: all of them);
    ValueError, said for staff, when the body is not one (and 413 when it is larger than
    any list of MAX_RETRY_NAMES names)."""
    request.max_content_length = MAX_RETRY_BYTES
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError(RETRY_USAGE)
    if body.get("all") is True:
        return None
    names = body.get("names")
    if not isinstance(names, list) or len(names) > MAX_RETRY_NAMES:
        raise ValueError(RETRY_USAGE)
    for name in names:
        parse_name(name)  # ValueError naming the first malformed one
    return names
