"""Open311Error and the spec's error list, read from any answer (JSON or XML, any status)."""

from __future__ import annotations

from typing import Any


class Open311Error(Exception):
    """A failed Open311 call. `retryable` says whether trying again later may succeed.

    `uncertain` means the server answered a POST but we cannot read the answer: it may have
    stored the report, so sending it again could file it twice.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        errors: list[dict] | None = None,
        uncertain: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable and not uncertain
        self.status_code = status_code
        self.errors = errors or []
        self.uncertain = uncertain

    @property
    def operator_error(self) -> bool:
        """A refusal that is about our setup (key, endpoint), not about the report."""
        return self.status_code in (401, 403, 404, 405) and not self.errors_about_report

    @property
    def errors_about_report(self) -> bool:
        """The server's error list names a 400-type problem with the report itself."""
        return any(str(e.get("code")) == "400" for e in self.errors)

    def __repr__(self) -> str:
        return (
            f"Open311Error({self.message!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, errors={self.errors!r})"
        )


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
