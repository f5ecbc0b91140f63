"""How a Twilio MediaUrl (SMS's MMS, and WhatsApp's through Twilio) is fetched, safely.

What Twilio documents:

- A received message's media are the webhook's `MediaUrl0`..`MediaUrl9`, each the Media
  resource of the message without an extension, which answers the file itself:
  `https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`
  (MMS sids start `MM`, media sids `ME`). Source: "Media subresource",
  https://www.twilio.com/docs/messaging/api/media-resource ("Without an extension, the media
  is returned using the mime-type provided when the media was generated"), and "Twilio's
  request to your incoming message Webhook URL",
  https://www.twilio.com/docs/messaging/guides/webhook-request.
- With "Enforce HTTP Auth on Media URLs" on (Console, Messaging settings; now the rule for all
  media, the Media page says), the request needs HTTP basic auth: the Account SID and Auth Token
  (or an API key and secret). Twilio then redirects to a short-lived URL (valid 4 hours) on
  `mms.twiliocdn.com`; media stored without it are served from `s3-external-1.amazonaws.com`.
  Source: Twilio help, "Protect Media Access with HTTP Basic Authentication for Programmable
  Messaging", https://support.twilio.com/hc/en-us/articles/223183748.
- The REST API's regional hosts are `api.<edge>.<region>.twilio.com` (e.g.
  `api.dublin.ie1.twilio.com`); the older `api.<region>.twilio.com` stopped working on
  2026-04-28. Source: https://www.twilio.com/docs/global-infrastructure/edge-locations/legacy-regions.

The rule here: a reference is fetched only when it is https on api.twilio.com (or a regional
API host), or on TWILIO_API_BASE's scheme, host and port when that is set (the tests'
stand-in, plain http on loopback), and its path is one Media resource of one message of our
own account (TWILIO_ACCOUNT_SID). Anything else is refused with no request at all. The account
SID and Auth Token go to that API host alone; redirects may lead to Twilio's media hosts
(MEDIA_HOSTS) and to TWILIO_MEDIA_HOSTS, without them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.media.download import DEFAULT_PORTS, Target, parse_url
from bot.media.types import MediaRefused, MediaRequest
from bot.settings import Settings

API_VERSION = "2010-04-01"
API_HOST = "api.twilio.com"
# api.<edge>.<region>.twilio.com: the edge a name ("dublin", "sao-paulo"), the region "ie1".
_REGIONAL_API_HOST = re.compile(r"api\.[a-z]+(?:-[a-z]+)*\.[a-z]{2}[0-9]\.twilio\.com")
# Where Twilio's API redirects a MediaUrl (see the module's docstring).
MEDIA_HOSTS = frozenset({"mms.twiliocdn.com", "*.twiliocdn.com", "s3-external-1.amazonaws.com"})
_SID = r"[A-Za-z0-9]{2,64}"


def twilio_media_request(reference: str, settings: Settings) -> MediaRequest:
    """How to fetch a Twilio MediaUrl of our account; MediaRefused when it is not one (see the
    module's docstring), or when Twilio's credentials are not set."""
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not (sid and token):
        raise MediaRefused("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
    target = parse_url(reference)
    prefix, schemes = _api_origin(target, settings)
    path = re.escape(f"{prefix}/{API_VERSION}/Accounts/{sid}/Messages/")
    if target.query is not None or not re.fullmatch(rf"{path}{_SID}/Media/{_SID}", target.path):
        raise MediaRefused("not a Media resource of a message of our Twilio account")
    api_host = _pattern(target)
    extra = frozenset(
        h.strip().lower() for h in settings.twilio_media_hosts.split(",") if h.strip()
    )
    return MediaRequest(
        url=reference,
        hosts=frozenset({api_host}) | MEDIA_HOSTS | extra,
        auth=(sid, token),
        credential_hosts=frozenset({api_host}),
        schemes=schemes,
    )


def _api_origin(target: Target, settings: Settings) -> tuple[str, frozenset[str]]:
    """The API's path prefix and the schemes its media may be fetched with, when `target` is on
    Twilio's API host or TWILIO_API_BASE's; MediaRefused otherwise."""
    if settings.twilio_api_base:
        base = urlsplit(settings.twilio_api_base.strip())
        scheme = base.scheme.lower()
        try:
            base_port = base.port or DEFAULT_PORTS.get(scheme)
        except ValueError:  # not a port: no reference is on it
            base_port = None
        if (target.scheme, target.host, target.port) == (scheme, (base.hostname or ""), base_port):
            return base.path.rstrip("/"), frozenset({scheme, "https"})
    if target.scheme != "https" or target.port != DEFAULT_PORTS["https"]:
        raise MediaRefused("Twilio's media are fetched over https only")
    if target.host == API_HOST or _REGIONAL_API_HOST.fullmatch(target.host):
        return "", frozenset({"https"})
    raise MediaRefused(f"{target.origin} is not Twilio's API")


def _pattern(target: Target) -> str:
    """The host pattern naming exactly the target's host and port."""
    if target.port == DEFAULT_PORTS[target.scheme]:
        return target.host
    return f"{target.host}:{target.port}"
