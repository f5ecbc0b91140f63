"""A GeoReport v2 client: one HTTP seam, errors typed as retryable or permanent, ids as strings."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

# Fields that are identifiers: always strings, whatever the server sent ("001" stays "001").
_ID_FIELDS = ("service_request_id", "service_code", "token", "address_id", "account_id", "zipcode")


class Open311Error(Exception):
    """A failed Open311 call. `retryable` says whether trying again later may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        errors: list[dict] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.errors = errors or []

    def __repr__(self) -> str:
        return (
            f"Open311Error({self.message!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, errors={self.errors!r})"
        )


def _as_str(value: Any) -> Any:
    """An identifier as a string; None stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_bool(value: Any) -> bool:
    """The spec's metadata flag as a bool ("true"/"false" strings included)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def normalize_ids(record: dict) -> dict:
    """A copy of `record` with its identifier fields as strings; unknown fields kept."""
    out = dict(record)
    for field in _ID_FIELDS:
        if field in out:
            out[field] = _as_str(out[field])
    return out


def _error_list(body: Any) -> list[dict] | None:
    """The spec's error list [{"code", "description"}] if `body` is one, codes as strings."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        body = body["errors"]
    if not isinstance(body, list) or not body:
        return None
    if not all(isinstance(e, dict) and "code" in e and "description" in e for e in body):
        return None
    if any("service_request_id" in e or "token" in e or "service_code" in e for e in body):
        return None
    return [{"code": _as_str(e["code"]), "description": str(e["description"])} for e in body]


def _retryable_code(code: str) -> bool:
    """Whether an error code read from a body means a server-side (5xx-ish) failure."""
    try:
        return int(code) >= 500 or int(code) in (408, 429)
    except (TypeError, ValueError):
        return False


def _describe(errors: list[dict]) -> str:
    return "; ".join(f"{e['code']}: {e['description']}" for e in errors)


class Open311Client:
    """A GeoReport v2 server at `endpoint` (a base URL ending in e.g. /open311/v2/)."""

    format = "json"

    def __init__(
        self,
        endpoint: str,
        api_key: str = "",
        jurisdiction_id: str = "",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.jurisdiction_id = jurisdiction_id
        self._api_key = api_key
        self._http = httpx.Client(
            base_url=self.endpoint,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "intake311"},
        )

    def __repr__(self) -> str:
        return f"Open311Client({self.endpoint!r})"

    # -- the one HTTP seam ------------------------------------------------------------------

    def _call(
        self, method: str, path: str, params: dict | None = None, data: dict | None = None
    ) -> Any:
        """Send one request to `path` (without the format suffix) and return the parsed body."""
        params = dict(params or {})
        if self.jurisdiction_id:
            params.setdefault("jurisdiction_id", self.jurisdiction_id)
        url = f"{path}.{self.format}"
        try:
            response = self._http.request(method, url, params=params or None, data=data)
        except httpx.TimeoutException as exc:
            raise Open311Error(f"{method} {url}: timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise Open311Error(
                f"{method} {url}: cannot reach the server ({type(exc).__name__})", retryable=True
            ) from exc
        return self._parse(method, url, response)

    def _parse(self, method: str, url: str, response: httpx.Response) -> Any:
        """The JSON body of `response`, or an Open311Error for any failure it reports."""
        status = response.status_code
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
            malformed = True
        else:
            malformed = False
        errors = _error_list(body) if not malformed else None
        where = f"{method} {url}"
        if status >= 400:
            retryable = status >= 500 or status in (408, 429)
            detail = _describe(errors) if errors else response.reason_phrase
            log.info("open311 %s answered HTTP %s", where, status)
            raise Open311Error(
                f"{where}: HTTP {status}: {detail}",
                retryable=retryable,
                status_code=status,
                errors=errors,
            )
        if malformed:
            raise Open311Error(
                f"{where}: the server answered HTTP {status} with a body that is not valid JSON",
                retryable=True,
                status_code=status,
            )
        if errors:
            retryable = any(_retryable_code(e["code"]) for e in errors)
            raise Open311Error(
                f"{where}: error list in a HTTP {status} answer: {_describe(errors)}",
                retryable=retryable,
                status_code=status,
                errors=errors,
            )
        return body

    # -- the spec's methods -----------------------------------------------------------------

    def services(self) -> list[dict]:
        """GET services: the service list, codes as strings and metadata as bool."""
        body = self._call("GET", "services")
        out = []
        for service in _as_list(body, "services", "service"):
            item = normalize_ids(service)
            item["metadata"] = _as_bool(service.get("metadata", False))
            out.append(item)
        return out

    def service_definition(self, code: str) -> dict:
        """GET services/{code}: the service's attribute definitions."""
        body = self._call("GET", f"services/{_segment(code)}")
        if isinstance(body, list):
            body = body[0] if body else {}
        if not isinstance(body, dict):
            raise Open311Error("service definition is not an object", retryable=False)
        out = normalize_ids(body)
        attributes = []
        for attr in out.get("attributes") or []:
            attr = dict(attr)
            attr["code"] = _as_str(attr.get("code"))
            attr["variable"] = _as_bool(attr.get("variable", True))
            attr["required"] = _as_bool(attr.get("required", False))
            attr["values"] = [
                {**v, "key": _as_str(v.get("key"))} for v in (attr.get("values") or [])
            ]
            attributes.append(attr)
        out["attributes"] = sorted(attributes, key=lambda a: _order(a.get("order")))
        return out

    def create_request(self, fields: dict) -> dict:
        """POST requests: file a report; the first answer, with a service_request_id or token."""
        data = {k: _form_value(v) for k, v in fields.items() if v is not None}
        data["api_key"] = self._api_key
        if self.jurisdiction_id:
            data["jurisdiction_id"] = self.jurisdiction_id
        body = self._call("POST", "requests", data=data)
        items = _as_list(body, "service_requests", "request")
        first = normalize_ids(items[0]) if items else {}
        if not first.get("service_request_id") and not first.get("token"):
            raise Open311Error(
                "POST requests: the answer has neither a service_request_id nor a token",
                retryable=False,
            )
        return first

    def token(self, token: str) -> dict | None:
        """GET tokens/{token}: the token's record (with service_request_id once known) or None."""
        return self._first_or_none(f"tokens/{_segment(token)}")

    def requests(self, ids: list[str]) -> list[dict]:
        """GET requests?service_request_id=a,b,c: the current state of several requests."""
        ids = [str(i) for i in ids]
        if not ids:
            return []
        body = self._call("GET", "requests", params={"service_request_id": ",".join(ids)})
        return [normalize_ids(r) for r in _as_list(body, "service_requests", "request")]

    def request(self, service_request_id: str) -> dict | None:
        """GET requests/{id}: one request, or None when the server does not know it."""
        return self._first_or_none(f"requests/{_segment(service_request_id)}")

    def _first_or_none(self, path: str) -> dict | None:
        """GET one record; None when the server answers the spec's 404 for it."""
        try:
            body = self._call("GET", path)
        except Open311Error as exc:
            if _not_found(exc):
                return None
            raise
        items = _as_list(body, "service_requests", "request")
        return normalize_ids(items[0]) if items else None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Open311Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_list(body: Any, outer: str, inner: str) -> list[dict]:
    """The list of records in `body`: a bare list, or wrapped as {outer: [...]}/{outer: {inner}}."""
    if isinstance(body, dict) and outer in body:
        body = body[outer]
        if isinstance(body, dict) and inner in body:
            body = body[inner]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise Open311Error(f"expected a list of {outer}, got {type(body).__name__}", retryable=True)
    return [item for item in body if isinstance(item, dict)]


def _not_found(exc: Open311Error) -> bool:
    """A spec-shaped 404 (the server answered, the thing is unknown), not a wrong endpoint."""
    return exc.status_code == 404 and bool(exc.errors)


def _segment(value: str) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")


def _form_value(value: Any) -> str | list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _order(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")
