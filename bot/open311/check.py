"""`intake311 open311 check`: probe a city's GeoReport v2 server, suggest a profile.

Nothing here files a report: the only POST (with `post=True`) has no service_code and no
location, so a server that validates at all refuses it.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.open311.client import Open311Client, forget_format
from bot.open311.dates import parse_datetime
from bot.open311.errors import Open311Error
from bot.open311.profile import Profile
from bot.tls import tls_context

UNKNOWN_ID = "intake311-check-does-not-exist"
RECENT_DAYS = 30
PAGE_SIZE = 50
FAR_PAGE = 10_000
PROBE_DESCRIPTION = "intake311 check: a test of the error answer (no service, no place)"
LEVELS = ("ok", "warn", "fail", "skip", "note")
MIN_TIMEOUT, MAX_TIMEOUT = 0.1, 600.0
MODERATION_NOTE = (
    "if the city's server hides new requests until staff approve them, set marker_search = false"
)
_PAGING_HEADERS = ("x-page-count", "x-result-count", "x-next-page-url", "link")
_SERVICE_CODE_WORDS = re.compile(r"service[ _-]?code", re.IGNORECASE)
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*)[\s/>]")
_FORMAT_NAMES = {"json": "JSON", "xml": "XML"}
_OTHER = {"json": "xml", "xml": "json"}
_JURISDICTION = re.compile(r"jurisdiction[ _]?id", re.IGNORECASE)
_IR_ID = re.compile(r"[a-z0-9]{8}")
_EMPTY_XML_LIST = re.compile(rb"<service_requests\s*/>")
# No connection at all: the other calls would fail the same way (a read timeout is not here:
# one slow path does not make the others slow).
_NO_CONNECTION = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class Finding:
    """One checked thing: "ok", "warn", "fail", "skip" (not tried) or "note" (advice), with what
    was seen."""

    level: str
    what: str
    detail: str = ""

    def line(self) -> str:
        """The finding as one printed line: "ok    services (JSON)  (11 services)"."""
        return f"{self.level:<5} {self.what}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and answer as seen on the wire (the body cut to 64 kB)."""

    method: str
    url: str
    accept: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes


class Recorder(httpx.BaseTransport):
    """A transport that keeps every exchange, so answers' raw shapes can be reported."""

    def __init__(self, inner: httpx.BaseTransport | None = None):
        self._inner = inner or httpx.HTTPTransport(verify=tls_context())
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the inner transport and record the exchange."""
        response = self._inner.handle_request(request)
        response.read()
        self.exchanges.append(
            Exchange(
                method=request.method,
                url=str(request.url),
                accept=request.headers.get("accept", ""),
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                headers={k.lower(): v for k, v in response.headers.items()},
                body=response.content[:65536],
            )
        )
        return response

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


@dataclass
class CheckOptions:
    """What to check and how: the endpoint, key, jurisdiction, starting profile and switches."""

    endpoint: str
    profile: Profile
    api_key: str = ""
    jurisdiction_id: str = ""
    post: bool = False
    service: str = ""
    timeout: float = 10.0
    now: datetime | None = None


@dataclass
class CheckResult:
    """The findings, and the profile they suggest (with why each key was changed). `unread`
    says why nothing could be read from the server (then there is no profile to suggest)."""

    findings: list[Finding]
    profile: Profile
    reasons: dict[str, str]
    start: str
    unread: str = ""

    @property
    def failed(self) -> bool:
        """Whether any finding is a fail."""
        return any(f.level == "fail" for f in self.findings)

    def toml(self) -> str:
        """The suggested profile as TOML: keys that differ from the spec's defaults, with why."""
        return profile_toml(self.profile, self.reasons, self.start)


@dataclass
class Probe:
    """The state one check builds up: the HTTP recorder, the profile so far, what was seen."""

    options: CheckOptions
    recorder: Recorder
    profile: Profile
    reasons: dict[str, str] = field(default_factory=dict)
    clients: list[Open311Client] = field(default_factory=list)
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    services: list[dict] = field(default_factory=list)
    recent: list[dict] | None = None
    lookup: Exchange | None = None
    default_page: int | None = None

    def client(self, **changes: Any) -> Open311Client:
        """A client on the recorder with the profile so far, `changes` applied to it (each
        starts in its profile's format: a 406 seen by an earlier one is not carried over)."""
        forget_format(self.options.endpoint)
        client = Open311Client(
            self.options.endpoint,
            api_key=self.options.api_key,
            jurisdiction_id=self.options.jurisdiction_id,
            timeout=self.options.timeout,
            transport=self.recorder,
            profile=replace(self.profile, **changes),
        )
        self.clients.append(client)
        return client

    def suggest(self, key: str, value: Any, why: str) -> None:
        """Change `key` of the suggested profile to `value`, for the reason `why`."""
        self.profile = replace(self.profile, **{key: value})
        self.reasons[key] = why

    def last(self) -> Exchange | None:
        """The latest exchange on the wire, if the recorder saw it."""
        return self.recorder.exchanges[-1] if self.recorder.exchanges else None

    def mark(self) -> int:
        """A position in the exchanges, to read what one call sent from there on."""
        return len(self.recorder.exchanges)

    def since_mark(self, mark: int) -> list[Exchange]:
        """The exchanges after `mark`."""
        return self.recorder.exchanges[mark:]


Step = Callable[[Probe], list[Finding]]


def run_check(options: CheckOptions, transport: httpx.BaseTransport | None = None) -> CheckResult:
    """Probe the server step by step (later steps need the format found by the services one).

    When nothing can be read (a bad endpoint, no connection, no service list), the result's
    `unread` says why, and there is no profile to suggest."""
    start = options.profile.name
    problem = endpoint_problem(options.endpoint)
    if problem:
        return CheckResult(
            [Finding("fail", "endpoint", problem)], options.profile, {}, start, problem
        )
    recorder = Recorder(transport)
    now = options.now or datetime.now(UTC)
    probe = Probe(options, recorder, options.profile, since=now - timedelta(days=RECENT_DAYS))
    findings: list[Finding] = []
    unread = ""
    if options.jurisdiction_id and options.jurisdiction_id != options.profile.jurisdiction_id:
        probe.suggest("jurisdiction_id", options.jurisdiction_id, "given with --jurisdiction")
    try:
        for first in (check_discovery, check_services):
            found = first(probe)
            findings += found
            unread = next((f.detail for f in found if f.level == "fail"), "")
            if unread:
                findings.append(Finding("skip", "the other checks", "no service list to go on"))
                break
        else:
            for step in (
                check_definition,
                check_lookup,
                check_unknown_id,
                check_paging,
                check_updates,
                check_post,
            ):
                findings += step(probe)
            findings = _one_page(probe, findings)
    finally:
        for client in probe.clients:
            client.close()
        recorder.close()
    findings += notes(probe, findings, readable=not unread)
    return CheckResult(findings, probe.profile, probe.reasons, start, unread)


def endpoint_problem(endpoint: str) -> str:
    """Why `endpoint` cannot be an Open311 endpoint, or "". A query string or a fragment is
    refused (not stripped): the client joins its paths after the endpoint, and a query is
    where a key gets pasted, so it is never shown."""
    text = endpoint.strip()
    shown = re.split(r"[?#]", text, maxsplit=1)[0]
    if shown != text:
        return (
            f"{shown} is followed by a query string or fragment (not shown: it may hold a key): "
            "give the endpoint without it, the key with --api-key (OPEN311_API_KEY), other "
            "parameters in a profile's [params]"
        )
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return f"{text or 'the endpoint'} is not a web address: add http:// or https://"
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        return f"{text} is not a valid address: {exc}"
    if not url.host:
        return f"{text} has no host name"
    if url.port is not None and not 0 < url.port < 65536:
        return f"{text} is not a valid address: port {url.port}"
    return ""


def timeout_problem(seconds: float) -> str:
    """Why `seconds` is no usable timeout, or ""."""
    if math.isnan(seconds) or not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        return (
            f"{seconds:g} is not a usable timeout: give seconds from {MIN_TIMEOUT:g} to "
            f"{MAX_TIMEOUT:g}"
        )
    return ""


# -- the steps --------------------------------------------------------------------------------


def check_discovery(probe: Probe) -> list[Finding]:
    """GET discovery (optional in the spec: a 404 is a warning) and the formats it lists; in the
    profile's format, else in the other one."""
    first: Open311Error | None = None
    for fmt in (probe.profile.format, _OTHER[probe.profile.format]):
        try:
            found = probe.client(format=fmt).discovery()
        except Open311Error as exc:
            if isinstance(exc.__cause__, _NO_CONNECTION):
                return [Finding("fail", "server", unread_verdict(probe, exc, None))]
            first = first or exc
            if isinstance(exc.__cause__, httpx.TimeoutException):
                break  # the other format would wait as long
            continue
        endpoints = found.get("endpoints") or []
        formats = sorted({str(f) for e in endpoints for f in e.get("formats") or []})
        listed = ", ".join(formats) or "none listed"
        detail = f"{len(endpoints)} endpoint(s); formats: {listed}"
        return [Finding("ok", "discovery", f"{detail} (read as {_FORMAT_NAMES[fmt]})")]
    assert first is not None
    if first.status_code == 404:
        return [Finding("warn", "discovery", "none: HTTP 404 (optional in the spec)")]
    return [Finding("warn", "discovery", failure(first))]


def check_services(probe: Probe) -> list[Finding]:
    """GET services in JSON and in XML with the client's Accept headers; suggest `format`."""
    findings: list[Finding] = []
    working: list[str] = []
    failed: dict[str, tuple[Open311Error, Exchange | None]] = {}
    for fmt in ("json", "xml"):
        finding, services, error = _services_in(probe, fmt)
        findings.append(finding)
        if services is not None:
            working.append(fmt)
            probe.services = probe.services or services
        elif error is not None:
            failed[fmt] = error
    if not working:
        # The starting profile's format tells most, unless it was refused with a 406.
        order = (probe.profile.format, _OTHER[probe.profile.format])
        errors = [failed[f] for f in order if f in failed]
        errors.sort(key=lambda e: e[0].status_code == 406)
        verdict = (
            unread_verdict(probe, *errors[0])
            if errors
            else "the service list came in neither JSON nor XML"
        )
        findings.append(Finding("fail", "service list", verdict))
        return findings
    start = probe.profile.format
    chosen = start if start in working else working[0]
    if chosen == start and len(working) == 2:
        why = (
            f"both JSON and XML work; {_FORMAT_NAMES[start]} as in the {probe.profile.name} profile"
        )
    elif chosen == start:
        why = f"only {_FORMAT_NAMES[chosen]} works"
    else:
        why = f"{_FORMAT_NAMES[start]} does not work here; {_FORMAT_NAMES[chosen]} does"
    probe.suggest("format", chosen, why)
    findings.append(Finding("ok", "format", f'format = "{chosen}": {why}'))
    return findings


def _services_in(
    probe: Probe, fmt: str
) -> tuple[Finding, list[dict] | None, tuple[Open311Error, Exchange | None] | None]:
    """GET services in `fmt`: the finding, the services (None when that format fails) and the
    error with its exchange (None unless it failed)."""
    what = f"services ({_FORMAT_NAMES[fmt]})"
    client = probe.client(format=fmt)
    mark = probe.mark()
    try:
        services = client.services()
    except Open311Error as exc:
        sent = probe.since_mark(mark)
        return Finding("warn", what, failure(exc)), None, (exc, sent[-1] if sent else None)
    sent = probe.since_mark(mark)
    if client.format_switched:
        refused = sent[0] if sent else None
        accept = refused.accept if refused else "the client's"
        detail = f"HTTP 406 for Accept: {accept}"
        if refused:
            detail += f" ({_gist(refused)})"
        return Finding("warn", what, f"{detail}: the server does not offer it"), None, None
    media = sent[-1].content_type if sent else "?"
    with_metadata = sum(1 for s in services if s.get("metadata"))
    detail = f"{len(services)} services, {with_metadata} with metadata; answered as {media}"
    if sent and fmt not in sent[-1].content_type and _looks(sent[-1]) != fmt:
        return Finding("warn", what, f"asked for {fmt}, answered as {media}"), services, None
    return Finding("ok", what, detail), services, None


def check_definition(probe: Probe) -> list[Finding]:
    """GET services/{code} of --service or of the first metadata=true service."""
    code = probe.options.service or next(
        (str(s["service_code"]) for s in probe.services if s.get("metadata")), ""
    )
    if not code:
        return [Finding("ok", "service definition", "no service has metadata=true: none to read")]
    try:
        found = probe.client().service_definition(code)
    except Open311Error as exc:
        return [Finding("warn", f"service definition {code}", failure(exc))]
    attributes = found.get("attributes") or []
    required = sum(1 for a in attributes if a.get("required"))
    kinds = sorted({str(a.get("datatype")) for a in attributes if a.get("datatype")})
    detail = f"{len(attributes)} attribute(s), {required} required"
    if kinds:
        detail += f"; datatypes {', '.join(kinds)}"
    return [Finding("ok", f"service definition {code}", detail)]


def check_lookup(probe: Probe) -> list[Finding]:
    """GET requests since RECENT_DAYS ago: ids, list shape, dates and fields of the records."""
    what = f"requests of the last {RECENT_DAYS} days"
    try:
        found = probe.client(page_size=None).requests_query(start_date=probe.since)
    except Open311Error as exc:
        probe.suggest(
            "marker_search", False, "GET requests by start_date failed: a lost POST can't be found"
        )
        return [Finding("warn", what, failure(exc) + "; marker_search = false")]
    probe.recent, probe.lookup = found, probe.last()
    shape = list_shape(probe.lookup)
    if not found:
        return _none_since(probe, what, shape)
    findings = [Finding("ok", what, f"{len(found)} listed ({shape})")]
    findings.append(Finding("ok", "request ids", id_shapes(r["service_request_id"] for r in found)))
    findings += _record_fields(probe, found)
    return findings


def _none_since(probe: Probe, what: str, shape: str) -> list[Finding]:
    """Nothing listed since start_date: is the list empty, or does start_date filter wrongly?"""
    try:
        undated = probe.client(page_size=None).requests_query()
    except Open311Error:
        undated = []
    newer = [r for r in undated if _after(r.get("requested_datetime"), probe.since)]
    if newer:
        probe.suggest(
            "marker_search",
            False,
            "start_date hides recent requests: a lost POST can't be found by date",
        )
        probe.recent = undated
        findings = [
            Finding(
                "warn",
                what,
                f"none listed with start_date, but {len(newer)} newer listed without it: the "
                "date filter is wrong; marker_search = false",
            ),
            Finding("ok", "request ids", id_shapes(r["service_request_id"] for r in undated)),
        ]
        return findings + _record_fields(probe, undated)
    return [
        Finding(
            "warn",
            what,
            f"none listed ({shape}): ids, fields and paging can't be seen; a server that "
            "hides new requests until staff approve them looks the same (ask the city)",
        )
    ]


def _record_fields(probe: Probe, found: list[dict]) -> list[Finding]:
    """What the listed records carry: expected_datetime, device_id, address fields, dates."""
    total = len(found)
    expected = _count_set(found, "expected_datetime")
    devices = _count_set(found, "device_id")
    places = [k for k in ("address", "address_string", "lat", "long") if _count_set(found, k)]
    out = [
        Finding("ok", "expected_datetime", f"set in {expected} of {total} records"),
        Finding("ok", "address fields", ", ".join(places) or "none set in any record"),
    ]
    if devices:
        probe.suggest(
            "marker_in",
            "device_id",
            f"records list device_id ({devices} of {total}): the marker can go there alone",
        )
        out.append(
            Finding("ok", "device_id", f'listed in {devices} of {total}: marker_in = "device_id"')
        )
    else:
        out.append(Finding("ok", "device_id", "not listed: the marker stays in the description"))
    older = [r for r in found if _before(r.get("requested_datetime"), probe.since)]
    if older:
        probe.suggest(
            "marker_search", False, "start_date is not honoured: a lost POST can't be found by date"
        )
        out.append(
            Finding(
                "warn",
                "start_date",
                f"{len(older)} record(s) older than start_date came back: marker_search = false",
            )
        )
    return out


def check_unknown_id(probe: Probe) -> list[Finding]:
    """GET requests/{an id nobody has}: must be "no such request", not a page or a 500."""
    what = "unknown request id"
    try:
        found = probe.client().request(UNKNOWN_ID)
    except Open311Error as exc:
        return [
            Finding(
                "warn",
                what,
                failure(exc) + ": not the spec's 404, so a STATUS for a "
                "wrong number is answered as a city failure",
            )
        ]
    if found is not None:
        return [Finding("warn", what, f"a record came back for {UNKNOWN_ID}: {found}")]
    last = probe.last()
    status = f"HTTP {last.status}" if last else "an answer"
    return [Finding("ok", what, f"no such request ({status})")]


def check_paging(probe: Probe) -> list[Finding]:
    """Whether GET requests pages (page_size changes the count, or a wrapper with next/count),
    what it answers past the last page; suggest page_size."""
    what = "paging"
    recent = probe.recent
    if recent is None:
        return [Finding("skip", what, "GET requests failed")]
    one = _page(probe, 1, 1)
    if isinstance(one, Open311Error):
        return _no_paging(probe, f"page=1&page_size=1 failed: {failure(one)}")
    hint = _paging_hint(probe.last()) or _paging_hint(probe.lookup)
    if not (len(one) == 1 and len(recent) > 1) and not hint:
        if len(recent) < 2:
            return [Finding("warn", what, "can't tell with fewer than 2 recent requests")]
        return _no_paging(probe, f"page_size=1 still gave {len(one)} records")
    first = _page(probe, 1, PAGE_SIZE)
    if isinstance(first, Open311Error):
        return _no_paging(probe, f"page_size={PAGE_SIZE} failed: {failure(first)}")
    size, findings = _page_size(probe, first)
    if len(recent) < len(first) or size < PAGE_SIZE:
        probe.default_page = len(first)
    past = _page(probe, 2 if len(first) < size else FAR_PAGE, size)
    findings.append(_past_end(past, first))
    return findings


def _page_size(probe: Probe, first: list[dict]) -> tuple[int, list[Finding]]:
    """The page size to use: PAGE_SIZE, or less when the server caps the pages below it."""
    reason = hint_text = f"the server pages ({len(first)} on page 1 of page_size={PAGE_SIZE})"
    size = PAGE_SIZE
    if len(first) < PAGE_SIZE:
        second = _page(probe, 2, PAGE_SIZE)
        seen = {r["service_request_id"] for r in first}
        if isinstance(second, list) and any(r["service_request_id"] not in seen for r in second):
            size = len(first)
            reason = f"the server pages and gives at most {size} records a page"
    if probe.profile.page_size != size:
        probe.suggest("page_size", size, reason)
    return size, [Finding("ok", "paging", f"{hint_text}: page_size = {size}")]


def _past_end(past: list[dict] | Open311Error, first: list[dict]) -> Finding:
    """What the server answered for a page after the last one."""
    what = "past the last page"
    if isinstance(past, Open311Error):
        if past.status_code in (400, 404):
            return Finding("ok", what, f"{failure(past)}: the client stops there")
        return Finding("warn", what, f"{failure(past)}: a status cycle would fail there")
    if not past:
        return Finding("ok", what, "an empty list")
    seen = {r["service_request_id"] for r in first}
    if all(r["service_request_id"] in seen for r in past):
        return Finding("warn", what, "page 1 again: the page parameter seems ignored")
    return Finding("warn", what, f"{len(past)} records no earlier page had")


def _no_paging(probe: Probe, why: str) -> list[Finding]:
    """The finding for a server that does not page; page_size unset if the profile set one."""
    if probe.profile.page_size is not None:
        probe.suggest("page_size", None, f"the server does not page ({why})")
    return [Finding("ok", "paging", f"does not page: {why}; leave page_size unset")]


def _page(probe: Probe, page: int, size: int) -> list[dict] | Open311Error:
    """One page of recent requests, asked with page and page_size, or the error."""
    params = {**probe.profile.params, "page": str(page), "page_size": str(size)}
    try:
        return probe.client(page_size=None, params=params).requests_query(start_date=probe.since)
    except Open311Error as exc:
        return exc


def check_updates(probe: Probe) -> list[Finding]:
    """GET servicerequestupdates (mySociety's extension): suggest updates = true if served."""
    what = "servicerequestupdates"
    try:
        found = probe.client(updates=True).service_request_updates(probe.since)
    except Open311Error as exc:
        if exc.status_code in (400, 404):
            return [Finding("ok", what, f"not offered ({failure(exc)})")]
        return [Finding("warn", what, failure(exc))]
    probe.suggest("updates", True, "the server answers GET servicerequestupdates")
    return [Finding("ok", what, f"offered ({len(found)} updates listed): updates = true")]


def check_post(probe: Probe) -> list[Finding]:
    """With --post: one POST with no service_code and no location, for the error's shape and
    whether the key is refused; an address-only POST is never tried (it could be stored)."""
    if not probe.options.post:
        return [Finding("skip", "POST", "not tried: add --post to send one incomplete POST")]
    return [
        _incomplete_post(probe),
        Finding(
            "skip",
            "address-only POST",
            "not tried: a POST complete enough to show whether address_string alone is enough "
            "could be stored as a real report; if the city needs coordinates, set "
            'location = "latlong"',
        ),
    ]


def _incomplete_post(probe: Probe) -> Finding:
    """POST requests with a description only: the refusal's status, shape and reason."""
    what = "incomplete POST"
    client = probe.client()
    mark = probe.mark()
    try:
        body = client.post_form([("description", PROBE_DESCRIPTION)])
    except Open311Error as exc:
        sent = probe.since_mark(mark)
        shape = error_shape(sent[-1]) if sent else "unknown shape"
        return _refusal(exc, shape)
    return Finding(
        "warn",
        what,
        f"accepted without service_code or location ({json.dumps(body)[:200]}): if something "
        "was stored, ask the city to remove it",
    )


def _refusal(exc: Open311Error, shape: str) -> Finding:
    """The finding for the incomplete POST's refusal: a refused key fails the check."""
    what = "incomplete POST"
    status = exc.status_code
    reason = exc.reason or str(exc)
    if exc.operator_error and not _SERVICE_CODE_WORDS.search(reason):
        return Finding("fail", "api key", f"the city refused our setup: HTTP {status}, {reason}")
    if status is None:
        return Finding("warn", what, failure(exc))
    if status >= 500:
        return Finding("warn", what, f"HTTP {status} ({shape}) instead of a refusal: {reason}")
    with_200 = "; errors come with HTTP 200" if status == 200 else ""
    return Finding(
        "ok",
        what,
        f"refused: HTTP {status}, {shape}: {reason}; the key was not refused{with_200}",
    )


# -- verdicts and notes -----------------------------------------------------------------------


def unread_verdict(probe: Probe, exc: Open311Error, answer: Exchange | None) -> str:
    """Why nothing could be read, in plain words, with the URL asked (an api_key in it
    masked): no answer at all, no service list there, a redirect, or the city's refusal."""
    url = answer.url if answer else ""
    if exc.status_code is None:
        cause = exc.__cause__
        if isinstance(cause, httpx.RequestError):
            with contextlib.suppress(RuntimeError):  # an error raised without its request
                url = str(cause.request.url)
            return f"GET {_shown_url(url)}: {no_answer(exc, probe.options.timeout)}"
        return f"GET {_shown_url(url)}: {exc.message}"
    status, shown = exc.status_code, _shown_url(url)
    if 300 <= status < 400:
        where = answer.headers.get("location", "elsewhere") if answer else "elsewhere"
        return f"GET {shown} is redirected (HTTP {status}) to {where}: check the endpoint"
    if _JURISDICTION.search(exc.reason):
        return f"GET {shown} was refused: {failure(exc)}"
    if status == 404:
        return f"no Open311 service list at {shown} (HTTP 404): check the path"
    if status < 400 and not exc.errors:
        shape = error_shape(answer) if answer else "an answer"
        return f"no Open311 service list at {shown} (HTTP {status}, {shape}): check the path"
    return f"GET {shown} was refused: {failure(exc)}"


def no_answer(exc: BaseException, timeout: float) -> str:
    """Why a call got no answer, from the root causes httpx wraps (its exception's
    __cause__/__context__ chain): refused, DNS, TLS, a timeout."""
    chain = list(_causes(exc))
    for link in chain:
        if isinstance(link, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({link.verify_message or link.reason})"
        if isinstance(link, ssl.SSLError):
            return "TLS error (is it http:// rather than https://?)"
        if isinstance(link, socket.gaierror):
            return "host not found (DNS)"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, (httpx.TimeoutException, TimeoutError)):
            return f"timed out after {timeout:g} s (raise --timeout?)"
        if isinstance(link, httpx.UnsupportedProtocol):
            return "add http:// or https://"
        if isinstance(link, httpx.RemoteProtocolError):
            return f"the server hung up without answering ({link}): is it https://?"
    root = chain[-1]
    return f"no answer ({type(root).__name__}: {root})"


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """`exc` and the exceptions it was raised from or during, outermost first."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _shown_url(url: str) -> str:
    """A URL as printed: an api_key's value masked."""
    return re.sub(r"(?i)(api_key=)[^&#]*", r"\1[api key]", url) or "the endpoint"


def notes(probe: Probe, findings: list[Finding], *, readable: bool) -> list[Finding]:
    """Advice after the checks: --jurisdiction when the city's errors name jurisdiction_id;
    with a service list read, the moderation caveat and a bundled profile the server's signs
    match."""
    out: list[Finding] = []
    if any(f.level in ("warn", "fail") and _JURISDICTION.search(f.detail) for f in findings):
        given = probe.options.jurisdiction_id
        advice = (
            f"check the jurisdiction_id given ({given}) with --jurisdiction"
            if given
            else "give the city's with --jurisdiction (or OPEN311_JURISDICTION_ID)"
        )
        out.append(Finding("note", "jurisdiction_id", f"the server's errors name it: {advice}"))
    if not readable:
        return out
    out.append(Finding("note", "moderation", MODERATION_NOTE))
    like = looks_like(probe)
    if like:
        out.append(Finding("note", "server", like))
    return out


_BUNDLED = {
    "issue_reporting": (
        "looks like 6aika/issue-reporting: try --profile issue_reporting (it needs location = "
        '"latlong" and the address as `address`)'
    ),
    "open311_api": "looks like codefornl/open311-api: try --profile open311_api",
}


def looks_like(probe: Probe) -> str:
    """A bundled profile for a server whose answers show at least 2 of its known signs (see
    docs/open311-servers.md), unless the check started from it; else ""."""
    seen = probe.recorder.exchanges
    errors = [e for e in seen if e.status >= 400]
    recent = probe.recent or []
    signs = {
        "issue_reporting": [
            any(_json_keys(e) == {"code", "detail"} for e in errors),
            any(_looks(e) == "xml" and _xml_root(e.body) == "requests" for e in seen),
            any(e.status == 404 and b"Invalid page." in e.body for e in seen),
            bool(recent)
            and all(_IR_ID.fullmatch(str(r.get("service_request_id"))) for r in recent),
        ],
        "open311_api": [
            any(_json_keys(e) == {"type", "code", "message"} for e in errors),
            any(_looks(e) == "xml" and b"<service_request>" in e.body for e in seen),
            any(
                UNKNOWN_ID in e.url
                and e.status == 200
                and (e.body.strip() == b"[]" or _EMPTY_XML_LIST.search(e.body))
                for e in seen
            ),
            any(e.status == 400 and b"SequelizeDatabaseError" in e.body for e in errors),
        ],
    }
    count, name = max((sum(found), name) for name, found in signs.items())
    if count < 2 or name == probe.options.profile.name:
        return ""
    return _BUNDLED[name]


def _json_keys(exchange: Exchange) -> set[str]:
    """The keys of a JSON object answer, or an empty set."""
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return set()
    return set(body) if isinstance(body, dict) else set()


def _one_page(probe: Probe, findings: list[Finding]) -> list[Finding]:
    """Say so when the recent requests counted were one page of a server that pages unasked."""
    if probe.default_page is None or probe.recent is None:
        return findings
    listed = f"{len(probe.recent)} listed"
    if probe.default_page > len(probe.recent):
        page = (
            f"{listed}: one page (the server pages by default; page_size={PAGE_SIZE} gave "
            f"{probe.default_page} on page 1)"
        )
    else:
        page = f"{listed}: one page (the server pages, at most {probe.default_page} a page)"
    what = f"requests of the last {RECENT_DAYS} days"
    return [
        replace(f, detail=page + f.detail.removeprefix(listed))
        if f.what == what and f.detail.startswith(listed)
        else f
        for f in findings
    ]


# -- reading raw answers ----------------------------------------------------------------------


def failure(exc: Open311Error) -> str:
    """An error as a short detail: "HTTP 404: 404: Not Found" or the client's message."""
    if exc.status_code is None:
        return exc.message
    page = "" if exc.structured else " (a web page, not an Open311 answer)"
    return f"HTTP {exc.status_code}{page}: {exc.reason or 'no reason given'}"


def _looks(exchange: Exchange) -> str:
    """ "xml" or "json" by the body's first character."""
    return "xml" if exchange.body.lstrip()[:1] == b"<" else "json"


def _gist(exchange: Exchange) -> str:
    """The first words of an answer's body, on one line."""
    text = " ".join(exchange.body[:300].decode("utf-8", "replace").split())
    return text[:120] or "empty body"


def list_shape(exchange: Exchange | None) -> str:
    """How a request list came: a bare JSON list, wrapped in an object, or its XML root."""
    if exchange is None:
        return "shape not seen"
    if _looks(exchange) == "xml":
        root = _xml_root(exchange.body)
        if root == "service_requests":
            return "XML <service_requests>, as the spec"
        return f"XML <{root}>, not the spec's <service_requests>; the client reads it"
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return "JSON that could not be read"
    if isinstance(body, list):
        return "a bare JSON list, as the spec"
    if isinstance(body, dict):
        keys = ", ".join(f'"{k}"' for k in list(body)[:5])
        return f"a JSON object with {keys}; the client reads it"
    return f"JSON {type(body).__name__}"


def _xml_root(body: bytes) -> str:
    """The name of an XML document's root element."""
    text = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", body, flags=re.DOTALL)
    found = _XML_ROOT.search(text)
    return found.group(1).decode("ascii", "replace") if found else "?"


def error_shape(exchange: Exchange) -> str:
    """The shape of an error answer: the spec's list, DRF's objects, plain text, a web page."""
    text = exchange.body.lstrip()
    if "html" in exchange.content_type or text[:5].lower() in (b"<!doc", b"<html"):
        return "an HTML page"
    if text[:1] == b"<":
        root = _xml_root(text)
        return "the spec's XML <errors>" if root == "errors" else f"XML <{root}>"
    try:
        body = json.loads(text)
    except ValueError:
        return "plain text"
    if isinstance(body, list):
        spec = all(isinstance(e, dict) and {"code", "description"} <= set(e) for e in body)
        return 'the spec\'s [{"code", "description"}]' if spec else "a JSON list"
    if isinstance(body, dict):
        keys = sorted(body)
        if set(keys) <= {"code", "detail"} and "detail" in keys:
            return "{" + ", ".join(f'"{k}"' for k in keys) + "}" + " (Django REST framework)"
        return "{" + ", ".join(f'"{k}"' for k in keys[:5]) + "}"
    return "JSON"


def _paging_hint(exchange: Exchange | None) -> str:
    """Signs of paging in an answer: a wrapper with next/count, or paging headers."""
    if exchange is None:
        return ""
    headers = [h for h in _PAGING_HEADERS if h in exchange.headers]
    if headers:
        return f"headers {', '.join(headers)}"
    if _looks(exchange) == "json":
        try:
            body = json.loads(exchange.body)
        except ValueError:
            return ""
        if isinstance(body, dict) and ({"next", "count"} & set(body)):
            return "a wrapper with next/count"
    return ""


def id_shapes(ids: Iterable[Any]) -> str:
    """What the ids look like: digits, dashed, letters only, or letters and digits."""
    kinds: dict[str, str] = {}
    for rid in ids:
        text = str(rid)
        kinds.setdefault(id_kind(text), text)
    return "; ".join(f"{kind} (e.g. {example})" for kind, example in kinds.items())


def id_kind(text: str) -> str:
    """One id's kind: "digits", "dashed", "letters (no digits)" or "letters and digits"."""
    if text.isdigit():
        return "digits"
    if re.search(r"[-_./ ]", text):
        return "dashed"
    if not re.search(r"\d", text):
        return "letters (no digits)"
    return "letters and digits"


def _count_set(records: list[dict], key: str) -> int:
    return sum(1 for r in records if r.get(key) not in (None, "", []))


def _before(value: Any, since: datetime) -> bool:
    """Whether a record's datetime is clearly before `since` (a day's slack)."""
    if not value:
        return False
    try:
        when = parse_datetime(str(value))
    except (TypeError, ValueError):
        return False
    return when is not None and when < since - timedelta(days=1)


def _after(value: Any, since: datetime) -> bool:
    """Whether a record's datetime is clearly after `since` (a day's slack)."""
    when = parse_datetime(value) if value else None
    return when is not None and when > since + timedelta(days=1)


# -- the suggested profile --------------------------------------------------------------------


def profile_toml(profile: Profile, reasons: dict[str, str], start: str) -> str:
    """`profile` as TOML: `format` and every key that differs from the spec's defaults, each
    with a comment saying why (a reason found, or the starting profile's)."""
    defaults = Profile()
    lines = ["# Suggested by `intake311 open311 check`; keys left out keep the spec's defaults."]
    tables: list[str] = []
    for item in fields(Profile):
        key = item.name
        value = getattr(profile, key)
        if key == "name" or value is None or (key != "format" and value == getattr(defaults, key)):
            continue
        why = " ".join((reasons.get(key) or f"from the {start} profile").split())
        if isinstance(value, dict):
            tables += ["", f"# {why}", f"[{key}]"]
            tables += [f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines += [f"# {why}", f"{key} = {toml_value(value)}"]
    return "\n".join(lines + tables) + "\n"


def toml_value(value: Any) -> str:
    """A TOML literal for a string, bool or int."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)
