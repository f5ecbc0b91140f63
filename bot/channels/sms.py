"""SMS through Twilio: the webhook's form in, Messages API sends out."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.channels.base import Outgoing, SendError
from bot.channels.twilio_http import make_client
from bot.inbound import Inbound, MalformedInbound
from bot.settings import Settings

NAME = "sms"
STATUS_PATH = "/webhooks/twilio/status"
LOOKUP_SLACK = timedelta(seconds=2)

log = logging.getLogger(__name__)

# Twilio's default Advanced Opt-Out keywords: Twilio answers them itself, and stops our sends.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})

# Twilio's message statuses in our words; None: not news to us (we store "sent" on accept).
STATUSES = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "partially_delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

# Twilio error codes that no retry will fix (https://www.twilio.com/docs/api/errors).
OPTED_OUT = {"21610"}
PERMANENT = {"21211", "21408", "21612", "21614", "21606", "21603", "21604", "21617", "30006"}


@dataclass(frozen=True)
class DeliveryStatus:
    """A status callback: which message, its status in our words (None: nothing new),
    Twilio's error code if any, and the recipient's address."""

    sid: str
    status: str | None
    error_code: str | None
    address: str | None

    @property
    def opted_out(self) -> bool:
        """True when Twilio says the recipient has opted out."""
        return self.error_code in OPTED_OUT


def parse_inbound(form: Mapping[str, str]) -> Inbound:
    """Normalise an incoming-message webhook's form; MalformedInbound if it lacks a field."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    sender = (form.get("From") or "").strip()
    missing = [name for name, value in (("MessageSid", sid), ("From", sender)) if not value]
    if missing:
        raise MalformedInbound(f"missing {', '.join(missing)}")
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedInbound("NumMedia is not a number") from exc
    media = tuple(form[f"MediaUrl{i}"] for i in range(count) if form.get(f"MediaUrl{i}"))
    return Inbound(
        channel=NAME,
        address=f"tel:{sender}",
        external_id=sid,
        text=form.get("Body") or "",
        media=media,
        raw=dict(form),
    )


def parse_status(form: Mapping[str, str]) -> DeliveryStatus:
    """Read a status callback's form; MalformedInbound if it lacks the sid or status."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        raise MalformedInbound("missing MessageSid or MessageStatus")
    to = (form.get("To") or "").strip()
    return DeliveryStatus(
        sid,
        STATUSES.get(status),
        (form.get("ErrorCode") or "").strip() or None,
        f"tel:{to}" if to else None,
    )


def send(out: Outgoing, settings: Settings) -> str:
    """Send one text through Twilio and return its message SID."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise SendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set", retryable=False)
    client = make_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        api_base=settings.twilio_api_base or None,
    )
    params = {"to": out.address.removeprefix("tel:"), "body": out.text}
    if settings.twilio_messaging_service_sid:
        params["messaging_service_sid"] = settings.twilio_messaging_service_sid
    else:
        params["from_"] = settings.twilio_from_number
    if settings.public_base_url:
        # Our id rides along, so a status (or a doubled send) is traced to one message of ours.
        params["status_callback"] = (
            f"{settings.public_base_url.rstrip('/')}{STATUS_PATH}?m={out.message_id}"
        )
    try:
        message = client.messages.create(**params)
    except TwilioRestException as exc:
        raise _send_error(exc) from exc
    except TwilioException as exc:  # no answer: connection refused, timeout
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    except OSError as exc:
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    return message.sid


def find_sent(
    out: Outgoing, since: datetime, settings: Settings, taken: set[str] = frozenset()
) -> str | None:
    """The SID of `out` if Twilio accepted it at or after `since` (a send whose answer was lost).

    Twilio's Messages list, newest first, filtered by recipient: our text to them, created
    since the message was, and not already the SID of another message of ours (`taken`).
    Raises SendError when Twilio cannot be asked.
    """
    client = make_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        api_base=settings.twilio_api_base or None,
    )
    since = since - LOOKUP_SLACK  # Twilio's dates have whole seconds
    try:
        for message in client.messages.list(to=out.address.removeprefix("tel:"), limit=50):
            created = message.date_created
            if created is not None and created < since:
                break
            if (
                message.body == out.text
                and message.direction == "outbound-api"
                and message.sid not in taken
            ):
                return message.sid
    except TwilioRestException as exc:
        raise _send_error(exc) from exc
    except (TwilioException, OSError) as exc:
        raise SendError(f"Twilio unreachable: {exc}", retryable=True) from exc
    return None


def _send_error(exc: TwilioRestException) -> SendError:
    code = str(exc.code) if exc.code is not None else None
    text = f"Twilio {exc.status} error {code}: {exc.msg}"
    if code in OPTED_OUT:
        return SendError(text, retryable=False, code=code, opted_out=True)
    if code in PERMANENT:
        return SendError(text, retryable=False, code=code)
    retryable = exc.status is None or exc.status >= 500 or exc.status == 429
    return SendError(text, retryable=retryable, code=code)
