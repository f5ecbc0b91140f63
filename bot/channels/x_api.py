"""tweepy's `Client`, pointed at X_API_BASE, with a timeout, and quiet in the logs.

tweepy 4 builds every v2 URL on a host it hard-codes ("https://api.twitter.com" in
`BaseClient.request`), with no setting to change it, and sends it through the client's
`requests.Session` (`client.session`). So the session is ours: `RedirectingSession` rewrites the
scheme and host (and prefixes X_API_BASE's path) of every URL before requests prepares it, the
way our Twilio client rewrites its host (bot/channels/twilio_http.py). The OAuth 1.0a signature
is computed by requests-oauthlib while the request is prepared, after the rewrite, so it signs
the URL the server really receives (the tests' stand-in checks it). Every request gets a
timeout: requests has none by default.

tweepy logs each request's headers and body at DEBUG ("Making API request"), and oauthlib its
signature's inputs: those loggers are held at INFO and above here, whatever the root level, so
neither the tokens nor the words sent to a resident reach a log line.

Webhook management (`intake311 x`) needs an app-only bearer token (X's V2 Webhooks API:
"All webhook management endpoints require OAuth2 App Only Bearer Token authentication"):
`app_client` gets one from the consumer key and secret (POST /oauth2/token, client credentials),
through the same session, so no further secret is configured.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy  # type: ignore[import-untyped]

from bot.settings import Settings

DEFAULT_BASE = "https://api.twitter.com"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# Loggers that would print tokens, signatures or a message's words, and the least level they
# may emit.
QUIET_LOGGERS = {
    "tweepy": logging.INFO,
    "requests_oauthlib": logging.INFO,
    "oauthlib": logging.INFO,
    "urllib3": logging.INFO,
}


def quiet_loggers() -> None:
    """Keep tweepy's and oauthlib's debug lines (headers, bodies, signatures) out of the logs."""
    for name, level in QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


class RedirectingSession(requests.Session):
    """A `requests.Session` that sends every request to `api_base`, always with a timeout."""

    def __init__(self, api_base: str = DEFAULT_BASE, timeout: tuple[float, float] | None = None):
        super().__init__()
        base = urlsplit(api_base.strip().rstrip("/"))
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError("X_API_BASE needs a scheme (http or https) and a host")
        self.base = base
        self.timeout = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
        self.trust_env = False  # no proxy or netrc from the environment

    def rewrite_url(self, url: str) -> str:
        """`url` with its scheme and host replaced by X_API_BASE's (its path prefixed)."""
        parts = urlsplit(url)
        path = self.base.path + parts.path
        return urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, parts.fragment))

    def request(self, method, url, *args, **kwargs):
        """Send to the rewritten URL, with the session's timeout unless one is given."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, self.rewrite_url(url), *args, **kwargs)


def credentials(settings: Settings) -> tuple[str, str, str, str]:
    """The four OAuth 1.0a credentials; ValueError naming the ones not set."""
    values = {
        "X_CONSUMER_KEY": settings.x_consumer_key,
        "X_CONSUMER_SECRET": settings.x_consumer_secret,
        "X_ACCESS_TOKEN": settings.x_access_token,
        "X_ACCESS_TOKEN_SECRET": settings.x_access_token_secret,
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ValueError(f"{', '.join(missing)} not set")
    key, secret, token, token_secret = values.values()
    return key, secret, token, token_secret


def user_client(settings: Settings) -> tweepy.Client:
    """A tweepy Client acting as the city's account (OAuth 1.0a user context), on X_API_BASE."""
    quiet_loggers()
    key, secret, token, token_secret = credentials(settings)
    client = tweepy.Client(
        consumer_key=key,
        consumer_secret=secret,
        access_token=token,
        access_token_secret=token_secret,
        return_type=dict,
    )
    client.session = RedirectingSession(settings.x_api_base)
    return client


def bearer_token(settings: Settings, session: requests.Session) -> str:
    """An app-only bearer token for the consumer key (POST /oauth2/token, client credentials)."""
    key, secret, _token, _token_secret = credentials(settings)
    response = session.post(
        DEFAULT_BASE + "/oauth2/token",
        auth=(key, secret),
        data={"grant_type": "client_credentials"},
    )
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code != 200 or data.get("token_type", "").lower() != "bearer":
        raise ValueError(
            f"X refused the consumer key for an app-only token ({response.status_code})"
        )
    return str(data["access_token"])


def app_client(settings: Settings) -> tweepy.Client:
    """A tweepy Client with the app-only bearer token (webhook management), on X_API_BASE, and
    the user context too (subscriptions are the account's)."""
    quiet_loggers()
    key, secret, token, token_secret = credentials(settings)
    session = RedirectingSession(settings.x_api_base)
    client = tweepy.Client(
        bearer_token=bearer_token(settings, session),
        consumer_key=key,
        consumer_secret=secret,
        access_token=token,
        access_token_secret=token_secret,
        return_type=dict,
    )
    client.session = session
    return client


def call(
    client: tweepy.Client, method: str, route: str, *, user_auth: bool, json: dict | None = None
) -> dict:
    """One v2 call tweepy has no method for (webhooks, subscriptions); its JSON answer ({} for
    an empty one)."""
    response = client.request(method, route, json=json, user_auth=user_auth)
    if not response.content:
        return {}
    data = response.json()
    return data if isinstance(data, dict) else {}


quiet_loggers()
