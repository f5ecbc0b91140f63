"""`intake311 telegram`: register our webhook with the Bot API and show its status."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from telegram.error import TelegramError

from bot.channels import telegram, telegram_api
from bot.settings import get_settings

# getWebhookInfo's fields worth showing, in this order (none of them carries the token).
INFO_FIELDS = (
    "url",
    "pending_update_count",
    "allowed_updates",
    "max_connections",
    "ip_address",
    "last_error_date",
    "last_error_message",
    "last_synchronization_error_date",
    "has_custom_certificate",
)


@click.group("telegram")
def telegram_group() -> None:
    """The Telegram bot's webhook (TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN)."""


@telegram_group.command("set-webhook")
def set_webhook() -> None:
    """Point the bot at PUBLIC_BASE_URL/webhooks/telegram, with the secret token."""
    settings = get_settings()
    url = _bot_api(telegram.set_webhook, settings)
    click.echo(f"webhook set: {url}")
    click.echo(f"updates: {', '.join(telegram.ALLOWED_UPDATES)}")


@telegram_group.command("info")
def info() -> None:
    """Show Telegram's view of the webhook: URL, pending updates, last error."""
    settings = get_settings()
    found = _bot_api(telegram.webhook_info, settings)
    if not found.get("url"):
        click.echo("no webhook is set (run `intake311 telegram set-webhook`)")
    for field in INFO_FIELDS:
        if field in found:
            value = found[field]
            if isinstance(value, list | tuple):
                value = ", ".join(map(str, value))
            elif field.endswith("_date") and isinstance(value, int):
                value = datetime.fromtimestamp(value, UTC).isoformat()
            click.echo(f"{field}: {telegram_api.redact(str(value), settings)}")


def _bot_api(call, settings):
    """Make one Bot API call for a command; a refusal becomes a clear error, token redacted."""
    try:
        return call(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except TelegramError as exc:
        message = telegram_api.redact(f"Telegram refused: {exc.message}", settings)
        raise click.ClickException(message) from None
