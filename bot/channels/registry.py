"""Every channel the bot speaks, by name."""

from __future__ import annotations

from bot.channels import console, mastodon, messenger, sms, telegram, webchat, whatsapp, x
from bot.channels.base import Channel

CHANNELS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        sms.CHANNEL,
        whatsapp.CHANNEL,
        telegram.CHANNEL,
        webchat.CHANNEL,
        console.CHANNEL,
        messenger.CHANNEL,
        x.CHANNEL,
        mastodon.CHANNEL,
    )
}


def channel_for(name: str) -> Channel:
    """The channel named `name`."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise LookupError(f"no channel named {name!r}") from None


def with_webhooks() -> list[Channel]:
    """The channels a provider (or a web page) calls, each at its own webhook path."""
    return [channel for channel in CHANNELS.values() if channel.webhook_path]


def phone_schemes() -> tuple[str, ...]:
    """The address schemes that are a resident's phone number ("tel", "whatsapp")."""
    return tuple(c.scheme for c in CHANNELS.values() if c.abilities.phone_numbers)
