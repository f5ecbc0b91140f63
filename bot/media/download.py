"""Fetch one media file the way its channel says (`MediaRequest`), and nothing else.

Every URL, the first and each redirect's, is checked before any request is made: its scheme in
`request.schemes`, its host one of `request.hosts` (exact names, or "*.example.com" for any
subdomain; "name:port" for a port other than the scheme's own), no user name or password in
it, and no odd spelling of a host (non-ASCII or "xn--" labels, a trailing dot, percent-escapes,
IPv4 other than four plain decimal numbers, IPv6 literals). The URL is read by a strict parser
of our own and must read the same way to httpx, so the two never disagree on the host.
Redirects are followed by hand, at most MAX_REDIRECTS. `request.auth` (HTTP basic) and
`request.headers` (a signed request's) go only to a host in `request.credential_hosts`.

The body is streamed and kept in memory: refused unread when the provider's size or the
Content-Length is over MEDIA_MAX_BYTES, and as soon as the bytes read pass it. MEDIA_FETCH_TIMEOUT
bounds the whole fetch: each hop is given what is left of it (connect, read, write), and the
clock is checked after every chunk, so a server that drips bytes is stopped at the deadline (one
that drips and then stalls, within one read's wait after it).

No cookies are kept, no proxy or netrc is read from the environment. A URL that carries a
secret (`request.secret_url`: Telegram's holds the bot token) never reaches a log line or an
exception's message; no URL does here, only its scheme and host.
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urljoin

import httpx

from bot.media.types import MediaRefused, MediaRequest, MediaUnavailable
from bot.settings import Settings
from bot.tls import tls_context

MAX_REDIRECTS = 3
MAX_URL = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = {301, 302, 303, 307, 308}
GONE = {403, 404, 410}  # the file is not there for us, and will not be
LATER = {408, 425, 429}  # and every 5xx: worth another try later

log = logging.getLogger(__name__)

_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>[A-Za-z0-9.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?"
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# The characters RFC 3986 allows in a URL (no space, quote, backslash, brace or angle bracket).
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")

# True while a fetch of a secret URL runs in this context: httpx's request lines are dropped.
_secret_fetch: ContextVar[bool] = ContextVar("secret_media_fetch", default=False)


class _NoSecretUrls(logging.Filter):
    """Drop httpx's own log lines ("HTTP Request: GET <url>") during a secret URL's fetch."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _secret_fetch.get()


logging.getLogger("httpx").addFilter(_NoSecretUrls())


@dataclass(frozen=True)
class Target:
    """A URL that passed the strict reading: lower-case scheme and host, the port it names (or
    its scheme's), its path ("/" when none) and query."""

    scheme: str
    host: str
    port: int
    path: str
    query: str | None

    @property
    def origin(self) -> str:
        """scheme://host[:port], the port only when it is not the scheme's own: safe to log."""
        default = DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def parse_url(url: str) -> Target:
    """Read `url` strictly (see the module's docstring); MediaRefused, without the URL in the
    message, when it is not a plain http(s) URL with a well-formed host and no user info."""
    if not isinstance(url, str) or len(url) > MAX_URL or not _URL_CHARS.fullmatch(url):
        raise MediaRefused("not a plain ASCII URL")
    match = _URL.fullmatch(url)
    if match is None:
        raise MediaRefused("not a URL of the form scheme://host[:port]/path (no user info)")
    scheme = match["scheme"].lower()
    if scheme not in DEFAULT_PORTS:
        raise MediaRefused(f"scheme {scheme[:10]!r} is not http or https")
    host = match["host"].lower()
    if not _well_formed_host(host):
        raise MediaRefused("not a well-formed host name")
    port_text = match["port"]
    if port_text is not None and (port_text.startswith("0") or not 0 < int(port_text) < 65536):
        raise MediaRefused("not a port number")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    target = Target(scheme, host, port, match["path"] or "/", match["query"])
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise MediaRefused("not a URL httpx can read") from None
    if (
        parsed.scheme != scheme
        or parsed.raw_host.decode("ascii") != host
        or (parsed.port or DEFAULT_PORTS[scheme]) != port
        or parsed.userinfo
    ):
        raise MediaRefused("a URL httpx reads another way")
    return target


def _well_formed_host(host: str) -> bool:
    if len(host) > 253 or not host:
        return False
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        return _IPV4.fullmatch(host) is not None
    if labels[-1].isdigit():
        return False  # "1.2.3.04", "evil.1": no name ends in a number
    return all(_LABEL.fullmatch(label) and not label.startswith("xn--") for label in labels)


def _is_ip(host: str) -> bool:
    return _IPV4.fullmatch(host) is not None


def host_matches(target: Target, patterns: frozenset[str]) -> bool:
    """Whether the target's host and port are one of `patterns`: "name", "name:port" or
    "*.domain" (any name below domain, not domain itself); a pattern without a port allows the
    scheme's own port only. Compared without regard to case."""
    default = DEFAULT_PORTS[target.scheme]
    for pattern in patterns:
        name, _, port_text = pattern.strip().lower().partition(":")
        if port_text and not re.fullmatch(r"[0-9]{1,5}", port_text):
            continue  # not a port: matches nothing
        if (int(port_text) if port_text else default) != target.port:
            continue
        if name.startswith("*."):
            suffix = name[1:]
            if (
                not _is_ip(target.host)
                and target.host.endswith(suffix)
                and len(target.host) > len(suffix)
            ):
                return True
        elif name == target.host:
            return True
    return False


def allowed(url: str, request: MediaRequest) -> Target:
    """The URL as read, when `request` allows it (scheme and host); MediaRefused otherwise."""
    target = parse_url(url)
    if target.scheme not in request.schemes:
        raise MediaRefused(f"{target.scheme} is not allowed for this provider's media")
    if not host_matches(target, request.hosts):
        raise MediaRefused(f"{target.origin} is not one of the provider's media hosts")
    return target


def download(request: MediaRequest, settings: Settings) -> bytes:
    """The bytes of the media `request` names, fetched under the rules of the module's
    docstring; MediaRefused (never worth another try) or MediaUnavailable (try later)."""
    limit = settings.media_max_bytes
    if request.size is not None and request.size > limit:
        raise MediaRefused(f"the provider says the file has {request.size} bytes (over {limit})")
    target = allowed(request.url, request)
    deadline = time.monotonic() + settings.media_fetch_timeout
    token = _secret_fetch.set(request.secret_url)
    try:
        with _client() as client:
            return _follow(client, request, request.url, target, deadline, limit)
    finally:
        _secret_fetch.reset(token)


def _client() -> httpx.Client:
    """A client that keeps no cookie, reads no proxy or netrc, and follows no redirect."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        verify=tls_context(),
        trust_env=False,
        follow_redirects=False,
        cookies=jar,  # the jar itself: httpx.Cookies(...) would copy it into one that keeps all
        # Bytes as stored: a compressed body could grow past the size cap inside one chunk.
        headers={"Accept": "image/*", "Accept-Encoding": "identity"},
    )


def _follow(
    client: httpx.Client,
    request: MediaRequest,
    url: str,
    target: Target,
    deadline: float,
    limit: int,
) -> bytes:
    for _hop in range(MAX_REDIRECTS + 1):
        location = _fetch(client, request, url, target, deadline, limit)
        if isinstance(location, bytes):
            return location
        try:
            url = urljoin(url, location)
            target = allowed(url, request)
        except ValueError:  # "http://[": urljoin cannot read it
            raise MediaRefused("redirect refused: not a URL") from None
        except MediaRefused as exc:
            raise MediaRefused(f"redirect refused: {exc}") from None
    raise MediaRefused(f"more than {MAX_REDIRECTS} redirects")


def _fetch(
    client: httpx.Client,
    request: MediaRequest,
    url: str,
    target: Target,
    deadline: float,
    limit: int,
) -> bytes | str:
    """One hop: the body's bytes, or where a redirect points (not yet checked)."""
    where = target.origin
    trusted = host_matches(target, request.credential_hosts)
    auth = request.auth if trusted else None
    headers = dict(request.headers) if trusted else {}
    left = deadline - time.monotonic()
    if left <= 0:
        raise MediaUnavailable(f"{where}: no time left for the fetch")
    try:
        with client.stream(
            "GET", url, auth=auth, headers=headers, timeout=httpx.Timeout(left)
        ) as response:
            status = response.status_code
            if status in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise MediaRefused(f"{where} answered {status} with no Location")
                return location
            _check_status(status, where)
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding != "identity":
                raise MediaRefused(f"{where} sent the file encoded ({encoding[:20]})")
            _check_length(response.headers.get("content-length"), limit, where)
            return _read(response, deadline, limit, where)
    except httpx.TimeoutException:
        raise MediaUnavailable(f"{where} timed out") from None
    except httpx.TransportError as exc:
        raise MediaUnavailable(f"{where} unreachable: {type(exc).__name__}") from None
    except httpx.InvalidURL:
        raise MediaRefused(f"{where}: a URL httpx cannot request") from None


def _check_status(status: int, where: str) -> None:
    if status == 200:
        return
    if status in GONE:
        raise MediaRefused(f"{where} answered {status}: gone")
    if status >= 500 or status in LATER:
        raise MediaUnavailable(f"{where} answered {status}")
    raise MediaRefused(f"{where} answered {status}")


def _check_length(value: str | None, limit: int, where: str) -> None:
    if value is None:
        return
    if not re.fullmatch(r"[0-9]{1,19}", value.strip()):
        raise MediaRefused(f"{where} sent a Content-Length that is not a number")
    if int(value) > limit:
        raise MediaRefused(f"{where} says the file has {int(value)} bytes (over {limit})")


def _read(response: httpx.Response, deadline: float, limit: int, where: str) -> bytes:
    data = bytearray()
    for chunk in response.iter_raw():  # as the network gives them: the clock is read often
        data += chunk
        if len(data) > limit:
            raise MediaRefused(f"{where} sent more than {limit} bytes")
        if time.monotonic() > deadline:
            raise MediaUnavailable(f"{where} too slow: the fetch ran out of time")
    return bytes(data)
