"""The doctor's checks of the channels that are configured: each one's credentials, through
the same calls as the channel and its `intake311 <channel> info` command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.doctor.results import Check, failed, passed, warned
from bot.settings import Settings

if TYPE_CHECKING:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

TWILIO_SECONDS = 10.0


def check_twilio(settings: Settings) -> list[Check]:
    """The account's credentials, and that the sender (number or Messaging Service) is its."""
    if not settings.twilio_account_sid:
        return []
    from twilio.base.exceptions import TwilioRestException

    from bot.channels.twilio_http import make_client

    client = make_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        api_base=settings.twilio_api_base or None,
        timeout=TWILIO_SECONDS,
    )
    try:
        account = client.api.v2010.accounts(settings.twilio_account_sid).fetch()
    except TwilioRestException as exc:
        if exc.status == 401:
            return [
                failed(
                    "twilio",
                    "Twilio refused the credentials (HTTP 401, error 20003)",
                    "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to the account's, from the "
                    "Twilio console (Account info)",
                )
            ]
        return [failed("twilio", _twilio_refusal(exc), "see Twilio's error code")]
    except Exception as exc:
        return [
            failed(
                "twilio",
                f"cannot be reached ({type(exc).__name__})",
                "check TWILIO_API_BASE (empty for Twilio itself) and the network",
            )
        ]
    if account.status != "active":  # suspended or closed: Twilio sends nothing
        return [
            failed(
                "twilio",
                f"the account is {account.status}",
                "reactivate the account in the Twilio console, or use an active one",
            )
        ]
    found = [passed("twilio", "credentials accepted (account active)")]
    try:
        found += _twilio_senders(settings, client)
    except TwilioRestException as exc:
        found.append(failed("twilio sender", _twilio_refusal(exc), "see Twilio's error code"))
    return found


def _twilio_refusal(exc: TwilioRestException) -> str:
    return f"Twilio refused: HTTP {exc.status}, error {exc.code}"


def _twilio_senders(settings: Settings, client: Client) -> list[Check]:
    from twilio.base.exceptions import TwilioRestException

    found: list[Check] = []
    if settings.twilio_from_number:
        numbers = client.incoming_phone_numbers.list(
            phone_number=settings.twilio_from_number, limit=1
        )
        if numbers:
            found.append(passed("twilio from number", f"{settings.twilio_from_number} is ours"))
        else:
            found.append(
                failed(
                    "twilio from number",
                    f"{settings.twilio_from_number} is not a number of this account",
                    "set TWILIO_FROM_NUMBER to one of the account's numbers (Phone Numbers, "
                    "Active numbers), in +E.164 form",
                )
            )
    if settings.twilio_messaging_service_sid:
        sid = settings.twilio_messaging_service_sid
        try:
            client.messaging.v1.services(sid).fetch()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise
            found.append(
                failed(
                    "twilio messaging service",
                    f"{sid} is not a Messaging Service of this account",
                    "set TWILIO_MESSAGING_SERVICE_SID to one of the account's (Messaging, "
                    "Services), or leave it empty to send from TWILIO_FROM_NUMBER",
                )
            )
        else:
            found.append(passed("twilio messaging service", f"{sid} is ours"))
    if settings.twilio_whatsapp_from:
        found += _whatsapp_sender(settings, client)
    if not found:
        found.append(
            failed(
                "twilio sender",
                "neither TWILIO_FROM_NUMBER nor TWILIO_MESSAGING_SERVICE_SID is set",
                "set one of them: texts need a sender",
            )
        )
    return found


# Twilio's Sandbox for WhatsApp: one number for every account, which a resident must join first.
WHATSAPP_SANDBOX = "whatsapp:+14155238886"
WHATSAPP_TEMPLATES = ("filed", "status", "delayed", "saved", "rejected")


def _whatsapp_sender(settings: Settings, client: Client) -> list[Check]:
    """The WhatsApp sender, and the templates for notices after WhatsApp's 24-hour window."""
    sender = settings.twilio_whatsapp_from
    if sender == WHATSAPP_SANDBOX:
        found = [
            warned(
                "twilio whatsapp",
                f"{sender} is Twilio's Sandbox for WhatsApp: a resident must join it first, "
                "and it takes one message every 3 seconds",
                "register the city's own WhatsApp sender (Messaging, Senders, WhatsApp senders) "
                "and set TWILIO_WHATSAPP_FROM to it",
            )
        ]
    else:
        number = sender.removeprefix("whatsapp:")
        # A WhatsApp sender may be a number the city brought, not one bought from Twilio: a
        # number not among the account's is worth a look, not a failure.
        if client.incoming_phone_numbers.list(phone_number=number, limit=1):
            found = [passed("twilio whatsapp", f"{sender} is a number of this account")]
        else:
            found = [
                warned(
                    "twilio whatsapp",
                    f"{number} is not among the account's phone numbers",
                    "check that it is a WhatsApp sender of this account (Messaging, Senders, "
                    "WhatsApp senders)",
                )
            ]
    missing = [
        kind for kind in WHATSAPP_TEMPLATES if not getattr(settings, f"whatsapp_template_{kind}")
    ]
    if missing:
        names = ", ".join(f"WHATSAPP_TEMPLATE_{kind.upper()}" for kind in missing)
        found.append(
            warned(
                "whatsapp templates",
                f"{names} not set: those notices cannot reach a resident silent for 24 hours",
                "set each to the Content SID (HX...) of a template WhatsApp approved",
            )
        )
    else:
        found.append(passed("whatsapp templates", "one for each notice"))
    return found


def check_telegram(settings: Settings) -> list[Check]:
    """getMe, then getWebhookInfo: our webhook is the one set."""
    if not settings.telegram_bot_token:
        return []
    from telegram.error import InvalidToken, TelegramError

    from bot.channels import telegram, telegram_api

    try:
        me = telegram_api.call(settings, lambda bot: bot.get_me())
        hook = telegram.webhook_info(settings)
    except InvalidToken:
        return [
            failed(
                "telegram",
                "Telegram refused the bot token",
                "set TELEGRAM_BOT_TOKEN to the token @BotFather gave the bot",
            )
        ]
    except TelegramError as exc:
        return [
            failed(
                "telegram",
                telegram_api.redact(f"Telegram could not be asked: {exc.message}", settings),
                "check TELEGRAM_API_BASE (empty for Telegram itself) and the network",
            )
        ]
    found = [passed("telegram", f"the bot is @{me.username}")]
    url = hook.get("url") or ""
    wanted = telegram.webhook_url(settings) if settings.public_base_url else ""
    if not wanted:
        found.append(
            warned("telegram webhook", "PUBLIC_BASE_URL is not set", "set PUBLIC_BASE_URL")
        )
    elif url != wanted:
        found.append(
            warned(
                "telegram webhook",
                f"set to {url or 'nothing'}, not {wanted}",
                "run `intake311 telegram set-webhook`",
            )
        )
    else:
        found.append(passed("telegram webhook", url))
    if hook.get("last_error_message"):
        found.append(
            warned(
                "telegram webhook",
                f"Telegram's last error posting to it: {hook['last_error_message']}",
                "see that the web process answers at PUBLIC_BASE_URL",
            )
        )
    return found


def check_messenger(settings: Settings) -> list[Check]:
    """The page the token is for (as `intake311 messenger info` asks)."""
    if not settings.meta_page_token:
        return []
    from bot.channels import messenger

    return [
        _token_check(
            "messenger",
            lambda: f"page {messenger.page(settings).get('name', '')}",
            "set META_PAGE_TOKEN to the page's token (Meta's app dashboard)",
        )
    ]


def check_x(settings: Settings) -> list[Check]:
    """The app's webhooks and the account's subscription (as `intake311 x info` asks)."""
    if not settings.x_consumer_key:
        return []
    from bot.channels import x

    found: dict = {}

    def look() -> str:
        found.update(x.webhook_info(settings))
        return f"the app's credentials accepted ({len(found['webhooks'])} webhook(s))"

    checked = _token_check("x", look, "check X_CONSUMER_KEY/SECRET and X_ACCESS_TOKEN/SECRET")
    if not checked.ok:
        return [checked]
    if not found["webhooks"]:
        return [checked, warned("x webhook", "none registered", "run `intake311 x set-webhook`")]
    if found["subscribed"] is False:
        return [
            checked,
            warned(
                "x webhook",
                "the account is not subscribed to our webhook",
                "run `intake311 x set-webhook`",
            ),
        ]
    return [checked]


def check_mastodon(settings: Settings) -> list[Check]:
    """The account the token is for (as `intake311 mastodon info` asks)."""
    if not settings.mastodon_access_token:
        return []
    from bot.channels import mastodon

    return [
        _token_check(
            "mastodon",
            lambda: f"account {mastodon.account_info(settings)['account']}",
            "check MASTODON_BASE_URL and MASTODON_ACCESS_TOKEN (the account's Development app)",
        )
    ]


def _token_check(name: str, look: Callable[[], str], fix: str) -> Check:
    try:
        return passed(name, look())
    except Exception as exc:  # each API's own errors: the class says enough, the text may not
        return failed(name, f"refused or unreachable ({type(exc).__name__})", fix)
