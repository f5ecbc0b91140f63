"""The types every part of the media pipeline shares."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MediaRequest:
    """How to fetch one of a channel's media references, as the channel says.

    `url` is fetched only if its scheme is in `schemes` and its host matches `hosts`; every
    redirect is held to the same rule. `auth` (HTTP basic) and `headers` (a signed request's)
    go only to a host in `credential_hosts`, never to a redirect's other host. Host patterns
    are exact names or "*.example.com" (any subdomain). A URL that carries a secret itself
    (Telegram's file URL holds the bot token) is `secret_url`: never logged or stored.
    """

    # Neither is shown by repr: Telegram's URL holds the bot token, `auth` Twilio's.
    url: str = field(repr=False)
    hosts: frozenset[str]
    auth: tuple[str, str] | None = field(default=None, repr=False)
    credential_hosts: frozenset[str] = frozenset()
    schemes: frozenset[str] = frozenset({"https"})
    secret_url: bool = False
    # The provider's own size of the file, where it says before the download (Telegram's
    # getFile): a larger one than MEDIA_MAX_BYTES is refused unread.
    size: int | None = None
    # Request headers that carry credentials (X's OAuth 1.0a signature of this very GET), sent,
    # like `auth`, only to a host in `credential_hosts`.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


class MediaRefused(Exception):
    """A media reference that will never be fetched or kept: not the provider's, not an
    image, too large. Permanent: no retry."""


class MediaUnavailable(Exception):
    """The media could not be fetched now (a timeout, the provider's 5xx): retried later."""


@dataclass(frozen=True)
class CleanPhoto:
    """A photo ready to keep: re-encoded with no metadata, and where its EXIF said it was
    taken (latitude, longitude; None when it did not say)."""

    data: bytes
    content_type: str
    width: int
    height: int
    gps: tuple[float, float] | None = None
