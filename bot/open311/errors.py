"""Open311Error, and the city's reasons read from every error shape real servers send."""

from __future__ import annotations

import html
import re
from typing import Any

# Statuses that are about how we call the server (key, method, format), never about a report.
SETUP_STATUSES = frozenset({401, 403, 404, 405, 406, 407, 410, 415})
# Words of a reason that is about our setup whatever its 4xx ("400: Invalid API key",
# "jurisdiction_id was not provided"); a report's own problem never names our key.
_SETUP_WORDS = re.compile(
    r"api[ _-]?key|jurisdiction[ _]id|(invalid|missing|unknown|wrong|no)\W+(jurisdiction|"
    r"credentials?|token)|credential|authenticat|unauthori[sz]ed",
    re.IGNORECASE,
)
MAX_REASON = 500


class Open311Error(Exception):
    """A failed Open311 call. `retryable` says whether trying again later may succeed.

    `uncertain` means the server answered a POST but we cannot read the answer: it may have
    stored the report, so sending it again could file it twice. `structured` means the error
    came as JSON or XML from the Open311 application itself (not a web server's error page).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        errors: list[dict] | None = None,
        uncertain: bool = False,
        structured: bool = True,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable and not uncertain
        self.status_code = status_code
        self.errors = errors or []
        self.uncertain = uncertain
        self.structured = structured

    @property
    def operator_error(self) -> bool:
        """A refusal that is about our setup (key, jurisdiction, endpoint, a redirect), not
        the report; a throttle or a server error is neither (it is retried)."""
        status = self.status_code or 0
        # An error list answered with HTTP 200 carries its statuses in its codes.
        statuses = [_int(e.get("code")) or 0 for e in self.errors] if status == 200 else [status]
        if any(s in SETUP_STATUSES or 300 <= s < 400 for s in statuses):
            return True
        refused = any(400 <= s < 500 and not retryable_status(s) for s in statuses)
        return refused and any(_SETUP_WORDS.search(e["description"]) for e in self.errors)

    @property
    def reason(self) -> str:
        """The city's own words for the failure, or "" when it gave none."""
        return describe(self.errors)

    def __repr__(self) -> str:
        return (
            f"Open311Error({self.message!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, errors={self.errors!r})"
        )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _code_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def error_list(body: Any) -> list[dict] | None:
    """The spec's error list [{"code", "description"}] if `body` is one, codes as strings.

    Accepts a bare list, {"errors": [...]}, and {"errors": {"error": ...}} (XML read as JSON).
    """
    if isinstance(body, dict) and "errors" in body:
        body = body["errors"]
        if isinstance(body, dict):
            body = body.get("error", body)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        return None
    if not all(isinstance(e, dict) and "code" in e and "description" in e for e in body):
        return None
    if any("service_request_id" in e or "token" in e or "service_code" in e for e in body):
        return None
    return [
        {"code": _code_text(e["code"]), "description": str(e["description"] or "")} for e in body
    ]


def _words(value: Any) -> str:
    """An error value (text, list of texts, nested dict) as one line."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(w for w in (_words(v) for v in value) if w)
    if isinstance(value, dict):
        return "; ".join(_field_words(k, v) for k, v in value.items() if _words(v))
    return " ".join(str(value).split())


def _field_words(field: str, value: Any) -> str:
    words = _words(value)
    return (
        words
        if field in ("non_field_errors", "detail", "message", "error")
        else f"{field}: {words}"
    )


_MESSAGE_KEYS = ("detail", "message", "error_description", "error", "errors", "title")


def _from_object(body: dict, status: int) -> list[dict] | None:
    """{"detail"}, {"code","detail"}, {"message"}, {"error"} or a field-error dict."""
    code = _code_text(body.get("code")) if _int(body.get("code")) else str(status)
    for key in _MESSAGE_KEYS:
        if key in body and _words(body[key]):
            return [{"code": code, "description": _words(body[key])}]
    if body and all(isinstance(v, (str, list, dict)) for v in body.values()):
        words = _words(body)
        if words:
            return [{"code": str(status), "description": words}]
    return None


_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_PARAGRAPH = re.compile(r"<p[^>]*>(.*?)</p>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def _from_text(text: str, status: int) -> list[dict] | None:
    """A plain-text or HTML error page's gist: its heading (or title) and first paragraph,
    else its first words."""
    text = _SCRIPT.sub(" ", text)
    heading = _TITLE.search(text)
    if heading:
        words = _plain(heading.group(2))
        paragraph = _PARAGRAPH.search(text, heading.end())
        if paragraph and _plain(paragraph.group(1)):
            words = (
                f"{words}: {_plain(paragraph.group(1))}" if words else _plain(paragraph.group(1))
            )
    else:
        words = _plain(text)
    return [{"code": str(status), "description": words}] if words else None


def reasons(body: Any, text: str, status: int) -> list[dict]:
    """The city's reasons for a failed answer, in every shape real servers send them: the
    spec's error list, DRF's {"detail"}, {"code","detail"} and field errors, {"message"},
    a list of texts, plain text or an HTML page (`text`, when the body is neither JSON nor XML).
    """
    found = error_list(body)
    if found is None and isinstance(body, dict):
        found = _from_object(body, status)
    elif found is None and isinstance(body, list) and body:
        words = _words(body)
        found = [{"code": str(status), "description": words}] if words else None
    elif found is None and isinstance(body, str) and body.strip():
        found = [{"code": str(status), "description": _words(body)}]
    if found is None and text:
        found = _from_text(text, status)
    return [{"code": e["code"], "description": _cut(e["description"])} for e in (found or [])]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def retryable_status(status: int) -> bool:
    """Whether an HTTP status means trying again later may succeed (5xx, 408, 429)."""
    return status >= 500 or status in (408, 429)


def retryable_code(code: str) -> bool:
    """Whether an error code read from a body means a server-side (5xx-ish) failure."""
    try:
        return retryable_status(int(code))
    except (TypeError, ValueError):
        return False


def describe(errors: list[dict]) -> str:
    """The errors as one line: "403: Invalid api_key; 400: ..."."""
    return "; ".join(f"{e['code']}: {e['description']}" for e in errors)
