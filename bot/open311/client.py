"""A GeoReport v2 client: one HTTP seam, JSON or XML by profile, errors typed as retryable."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bot import metrics
from bot.open311 import records
from bot.open311 import xml as georeport_xml
from bot.open311.dates import format_datetime, parse_datetime
from bot.open311.encode import request_form
from bot.open311.errors import (
    Open311Error,
    describe,
    error_list,
    reasons,
    retryable_code,
    retryable_status,
)
from bot.open311.profile import Profile, load_profile
from bot.open311.records import normalize_ids
from bot.tls import tls_context

__all__ = ["Open311Client", "Open311Error", "normalize_ids", "parse_datetime"]

log = logging.getLogger(__name__)

MAX_PAGES = 200
_FORM = "application/x-www-form-urlencoded; charset=utf-8"
# Both XML media types: servers offer one or the other (Django REST framework: application/xml
# only, and 406 for text/xml alone).
_ACCEPT = {"json": "application/json", "xml": "application/xml, text/xml;q=0.9"}
_OTHER = {"json": "xml", "xml": "json"}
# (endpoint, profile format) -> the format a 406 made this process use instead.
_SWITCHED: dict[tuple[str, str], str] = {}


def forget_format(endpoint: str) -> None:
    """Forget the formats 406s made this process use for `endpoint` (to probe it afresh)."""
    base = endpoint.rstrip("/") + "/"
    for key in [k for k in _SWITCHED if k[0] == base]:
        del _SWITCHED[key]


class Open311Client:
    """A GeoReport v2 server at `endpoint` (a base URL ending in e.g. /open311/v2/)."""

    def __init__(
        self,
        endpoint: str,
        api_key: str = "",
        jurisdiction_id: str = "",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        profile: Profile | str | None = None,
    ):
        if isinstance(profile, str):
            profile = load_profile(profile)
        self.profile = profile or Profile(name="default", format="json")
        self.endpoint = endpoint.rstrip("/") + "/"
        self.jurisdiction_id = jurisdiction_id or self.profile.jurisdiction_id
        self._api_key = api_key
        switched = _SWITCHED.get((self.endpoint, self.profile.format))
        self._format = switched or self.profile.format
        self.format_switched = switched is not None
        self._http = httpx.Client(
            base_url=self.endpoint,
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
            headers={"User-Agent": "intake311"},
        )

    @property
    def format(self) -> str:
        """The answer format asked for: "json" or "xml" (the other one after a 406)."""
        return self._format

    def __repr__(self) -> str:
        return f"Open311Client({self.endpoint!r}, profile={self.profile.name!r})"

    # -- the one HTTP seam ------------------------------------------------------------------

    def _call(
        self,
        method: str,
        resource: str,
        params: Mapping[str, Any] | None = None,
        data: list[tuple[str, str]] | None = None,
        segments: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request for `resource` (a profile path name) and return the parsed body.

        A 406 (the server does not offer the format asked for) switches to the other format
        for this endpoint in this process; a GET is then asked again, a POST is not (it is
        uncertain: searched for before it is filed again).
        """
        started = time.perf_counter()
        try:
            return self._exchange(method, resource, params, data, segments)
        except Open311Error as exc:
            metrics.open311_errors.labels(_error_kind(exc)).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.open311_seconds.labels(method, resource).observe(elapsed)

    def _exchange(
        self,
        method: str,
        resource: str,
        params: Mapping[str, Any] | None,
        data: list[tuple[str, str]] | None,
        segments: Mapping[str, str] | None,
    ) -> Any:
        response = self._send(method, resource, params, data, segments)
        if response.status_code == 406 and not self.format_switched:
            self._switch_format(method, resource)
            if method == "POST":
                # Some servers store a POST before they refuse its format: never post again
                # blind. The report is searched for first, and filed in the other format then.
                raise Open311Error(
                    f"POST {resource}: HTTP 406: the server does not offer this format",
                    retryable=True,
                    status_code=406,
                    uncertain=True,
                )
            response = self._send(method, resource, params, data, segments)
        where = f"{method} {response.url.path.removeprefix(self._http.base_url.path)}"
        return self._parse(where, response, posted=method == "POST")

    def _switch_format(self, method: str, resource: str) -> None:
        """Use the other format from now on, in this process, for this endpoint."""
        other = _OTHER[self._format]
        log.warning(
            'open311 %s %s: the server does not offer %s (HTTP 406); using %s: set format = "%s" '
            "in the profile",
            method,
            resource,
            self._format.upper(),
            other.upper(),
            other,
        )
        self._format, self.format_switched = other, True
        _SWITCHED[(self.endpoint, self.profile.format)] = other

    def _send(
        self,
        method: str,
        resource: str,
        params: Mapping[str, Any] | None,
        data: list[tuple[str, str]] | None,
        segments: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One HTTP exchange; transport failures become Open311Error (uncertain once sent)."""
        path = self.profile.path(
            resource, fmt=self._format, **{k: _segment(v) for k, v in (segments or {}).items()}
        )
        query = dict(self.profile.params) if method == "GET" else {}
        query.update(params or {})
        if self.jurisdiction_id and data is None:
            query.setdefault("jurisdiction_id", self.jurisdiction_id)
        where = f"{method} {path}"
        content = urlencode(data).encode("utf-8") if data is not None else None
        headers = {"Accept": _ACCEPT[self._format]}
        if data is not None:
            headers["Content-Type"] = _FORM
        try:
            return self._http.request(
                method, path, params=query or None, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            # Once a POST is sent, a timeout or a dropped connection leaves us not knowing
            # whether the city stored the report; a refused connection does not.
            sent = method == "POST" and not isinstance(
                exc, (httpx.ConnectError, httpx.PoolTimeout, httpx.ConnectTimeout)
            )
            what = (
                "timed out"
                if isinstance(exc, httpx.TimeoutException)
                else (f"cannot reach the server ({type(exc).__name__})")
            )
            raise Open311Error(f"{where}: {what}", retryable=True, uncertain=sent) from exc
        except httpx.HTTPError as exc:  # e.g. a body that fails to decode: it did answer
            raise Open311Error(
                f"{where}: unreadable answer ({type(exc).__name__})",
                retryable=True,
                uncertain=method == "POST",
            ) from exc

    def _decode(self, response: httpx.Response) -> Any:
        """The body as lists and dicts, read as XML or JSON by its first character."""
        text = response.content
        if text[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = text.decode("utf-16").encode("utf-8")
        text = text.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not text:
            raise ValueError("empty body")
        page = text[:5].lower() in (b"<!doc", b"<html")
        # JSON or XML labelled text/html (as some PHP servers answer) is read; a page is not.
        if page or (
            "html" in response.headers.get("content-type", "")
            and text[:1] == b"<"
            and not text.startswith(b"<?xml")
        ):
            raise ValueError("a web page, not an Open311 answer")
        if text[:1] == b"<":
            return georeport_xml.loads(text)
        return json.loads(text)

    def _parse(self, where: str, response: httpx.Response, posted: bool = False) -> Any:
        """The body of `response`, or an Open311Error for any failure it reports."""
        status = response.status_code
        if 300 <= status < 400:
            raise Open311Error(
                f"{where}: redirected (HTTP {status}) to {response.headers.get('location')}: "
                "check OPEN311_ENDPOINT",
                retryable=False,
                status_code=status,
            )
        try:
            body, malformed, why = self._decode(response), False, ""
        except (ValueError, UnicodeDecodeError) as exc:
            body, malformed, why = None, True, str(exc)[:200]
        if status >= 400:
            found = self._masked(reasons(body, response.text if malformed else "", status))
            detail = describe(found) if found else response.reason_phrase
            log.info("open311 %s answered HTTP %s", where, status)
            raise Open311Error(
                f"{where}: HTTP {status}: {detail}",
                retryable=retryable_status(status),
                status_code=status,
                errors=found,
                # A gateway that gave up on the city (502, 504) says nothing of whether the
                # city stored the report.
                uncertain=posted and status in (502, 504),
                structured=not malformed,
            )
        if malformed:
            raise Open311Error(
                f"{where}: the server answered HTTP {status} with a body that is not valid "
                f"JSON or XML ({why})",
                retryable=True,
                status_code=status,
                uncertain=posted,
            )
        errors = self._masked(error_list(body) or [])
        if errors:
            raise Open311Error(
                f"{where}: error list in a HTTP {status} answer: {describe(errors)}",
                retryable=any(retryable_code(e["code"]) for e in errors),
                status_code=status,
                errors=errors,
            )
        return body

    def _masked(self, errors: list[dict]) -> list[dict]:
        """The city's reasons with our API key blanked, should a server echo it back."""
        key = self._api_key
        if len(key) < 4:
            return errors
        return [{**e, "description": e["description"].replace(key, "[api key]")} for e in errors]

    # -- the spec's methods -----------------------------------------------------------------

    def discovery(self) -> dict:
        """GET discovery: changeset, contact and endpoints (each with its formats as a list)."""
        body = self._call("GET", "discovery")
        if isinstance(body, dict) and "discovery" in body:
            body = body["discovery"]
        if not isinstance(body, dict):
            raise Open311Error("discovery is not an object", retryable=False)
        out = dict(body)
        endpoints = records.as_list(body.get("endpoints") or [], "endpoints", "endpoint")
        out["endpoints"] = []
        for endpoint in endpoints:
            item = dict(endpoint)
            formats = item.get("formats") or []
            if isinstance(formats, dict):
                formats = formats.get("format") or []
            item["formats"] = [formats] if isinstance(formats, str) else list(formats)
            out["endpoints"].append(item)
        return out

    def services(self) -> list[dict]:
        """GET services: the service list, codes as strings and metadata as bool."""
        body = self._call("GET", "services")
        return [records.service(s) for s in records.as_list(body, "services", "service")]

    def service_definition(self, code: str) -> dict:
        """GET services/{code}: the attributes, sorted by order, flags as bools, keys as strings."""
        return records.definition(
            self._call("GET", "service_definition", segments={"service_code": str(code)})
        )

    def create_request(
        self, fields: Mapping[str, Any], attributes: Mapping[str, Any] | None = None
    ) -> dict:
        """POST requests: file a report; the first answer, with a service_request_id or token.

        `attributes` maps an attribute code to a value or a list of values (multivaluelist).
        """
        form = request_form(fields, attributes, self.profile)
        form.append(("api_key", self._api_key))
        if self.jurisdiction_id:
            form.append(("jurisdiction_id", self.jurisdiction_id))
        body = self._call("POST", "requests", data=form)
        items = records.as_list(body, "service_requests", "request")
        first = normalize_ids(items[0]) if items else {}
        if not first.get("service_request_id") and not first.get("token"):
            raise Open311Error(
                "POST requests: the answer has neither a service_request_id nor a token",
                retryable=False,
                uncertain=True,
            )
        return first

    def post_form(self, form: list[tuple[str, str]]) -> Any:
        """POST requests with exactly `form` (plus the key and jurisdiction): for probing a
        server with a deliberately incomplete report (`intake311 open311 check --post`)."""
        form = [*form, ("api_key", self._api_key)]
        if self.jurisdiction_id:
            form.append(("jurisdiction_id", self.jurisdiction_id))
        return self._call("POST", "requests", data=form)

    def token(self, token: str) -> dict | None:
        """GET tokens/{token}: the token's record (with service_request_id once known) or None."""
        return self._first_or_none("token", token=str(token))

    def requests(self, ids: Iterable[str]) -> list[dict]:
        """GET requests?service_request_id=a,b,c: the current state of several requests (the
        caller batches by profile.batch_size); records without an id yet are skipped."""
        ids = [str(i) for i in ids]
        if not ids:
            return []
        return self._paged({"service_request_id": ",".join(ids)})

    def requests_query(
        self,
        status: str | Iterable[str] | None = None,
        service_code: str | Iterable[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        updated_after: datetime | None = None,
    ) -> list[dict]:
        """GET requests filtered by status, service_code and dates (aware datetimes)."""
        params: dict[str, str] = {}
        if status:
            params["status"] = _csv(status)
        if service_code:
            params["service_code"] = _csv(service_code)
        style = self.profile.date_style
        if start_date is not None:
            params["start_date"] = format_datetime(start_date, style)
        if end_date is not None:
            params["end_date"] = format_datetime(end_date, style)
        if updated_after is not None:
            if not self.profile.updated_after:
                raise Open311Error(
                    f"the {self.profile.name} server does not support updated_after",
                    retryable=False,
                )
            params["updated_after"] = format_datetime(updated_after, style)
        return self._paged(params)

    def _paged(self, params: dict[str, str]) -> list[dict]:
        """GET requests, following page=1,2,... while full pages come back (if the profile
        pages), until an empty or short page or an error past the last page; duplicates and
        records without a service_request_id are dropped."""
        size = self.profile.page_size
        found: dict[str, dict] = {}
        for page in range(1, MAX_PAGES + 1):
            query = dict(params)
            if size:
                query.update(page=str(page), page_size=str(size))
            try:
                body = self._call("GET", "requests", params=query)
            except Open311Error as exc:
                # Past the last page some servers answer 404 or 400 ("Invalid page"): what was
                # read stands.
                if page > 1 and exc.status_code in (400, 404) and exc.structured:
                    log.info("open311 paging stopped at page %s: %s", page, exc)
                    break
                raise
            batch = [normalize_ids(r) for r in records.as_list(body, "service_requests", "request")]
            new = 0
            for record in batch:
                rid = record.get("service_request_id")
                if rid and rid not in found:
                    found[rid] = record
                    new += 1
            if not size or len(batch) < size or new == 0:
                break
        return list(found.values())

    def request(self, service_request_id: str) -> dict | None:
        """GET requests/{id}: one request, or None when the server does not know it."""
        return self._first_or_none("request", service_request_id=str(service_request_id))

    def service_request_updates(
        self, start_date: datetime, end_date: datetime | None = None
    ) -> list[dict]:
        """GET servicerequestupdates (mySociety's extension): updates since `start_date`.

        As FixMyStreet's client does, the api_key is sent: such servers require it here.
        """
        if not self.profile.updates:
            raise Open311Error(
                f"the {self.profile.name} server has no servicerequestupdates", retryable=False
            )
        style = self.profile.date_style
        params = {"start_date": format_datetime(start_date, style)}
        if end_date is not None:
            params["end_date"] = format_datetime(end_date, style)
        if self._api_key:
            params["api_key"] = self._api_key
        body = self._call("GET", "updates", params=params)
        items = records.as_list(body, "service_request_updates", "request_update")
        return [normalize_ids(u) for u in items]

    def _first_or_none(self, resource: str, **segments: str) -> dict | None:
        """GET one record; None when the server answers the spec's 404 for it."""
        try:
            body = self._call("GET", resource, segments=segments)
        except Open311Error as exc:
            if _not_found(exc):
                return None
            raise
        items = records.as_list(body, "service_requests", "request")
        return normalize_ids(items[0]) if items else None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Open311Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _error_kind(exc: Open311Error) -> str:
    """The failure's kind for bot.metrics: timeout, connect, 4xx, 5xx, redirect, refused (an
    error list in a 2xx answer) or unreadable."""
    cause = exc.__cause__
    if isinstance(cause, httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, httpx.TransportError):
        return "connect"
    status = exc.status_code
    if status is not None and 300 <= status < 400:
        return "redirect"
    if status is not None and status < 300 and exc.errors:
        return "refused"
    return metrics.open311_error_kind(status)


def _not_found(exc: Open311Error) -> bool:
    """A 404 from the Open311 application (JSON or XML: the thing is unknown), not a web
    server's page for a wrong endpoint; also a 404 error list answered with HTTP 200."""
    if exc.status_code == 404:
        return exc.structured
    return exc.status_code == 200 and any(e["code"] == "404" for e in exc.errors)


def _segment(value: str) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")


def _csv(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(str(v) for v in value)
