"""Twilio's HTTP seam: a requests-based client that can point at another host and never hangs."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT = 10.0


class RedirectingHttpClient(TwilioHttpClient):
    """A `TwilioHttpClient` that sends every request to `api_base` (when set) with a timeout.

    Twilio's library builds URLs such as ``https://api.twilio.com/2010-04-01/...`` and, with a
    region or edge, ``https://api.dublin.ie1.twilio.com/...``. Rewriting the scheme and host here,
    after the library has chosen them, keeps the path and query intact and works whatever region
    or edge the client is configured with (setting ``client.api.base_url`` does not).
    """

    def __init__(self, api_base: str | None = None, timeout: float = DEFAULT_TIMEOUT, **kwargs):
        super().__init__(timeout=timeout, **kwargs)
        self.api_base = api_base.rstrip("/") if api_base else None
        if self.api_base:
            base = urlsplit(self.api_base)
            if not base.scheme or not base.netloc:
                raise ValueError(f"api_base needs a scheme and a host: {api_base!r}")

    def rewrite_url(self, url: str) -> str:
        """Return `url` with its scheme and host replaced by those of `api_base` (if set)."""
        if not self.api_base:
            return url
        base = urlsplit(self.api_base)
        parts = urlsplit(url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request to the rewritten URL, always with a timeout."""
        return super().request(
            method,
            self.rewrite_url(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


def make_client(
    account_sid: str,
    auth_token: str,
    api_base: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **client_kwargs,
) -> Client:
    """Build a Twilio REST client whose requests go to `api_base` (if set) with a timeout."""
    http_client = RedirectingHttpClient(api_base=api_base, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client, **client_kwargs)
