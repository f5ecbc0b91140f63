"""Which module speaks for which channel."""

from __future__ import annotations

from types import ModuleType

from bot.channels import console, sms, telegram

CHANNELS: dict[str, ModuleType] = {
    sms.NAME: sms,
    console.NAME: console,
    telegram.NAME: telegram,
}


def channel_for(name: str) -> ModuleType:
    """The module that sends on channel `name`."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise LookupError(f"no channel named {name!r}") from None
