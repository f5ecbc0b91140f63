"""python-telegram-bot's async `Bot`, called from sync code (rq jobs, the CLI), one call at a time.

The pattern: every call runs in its own `asyncio.run`, with a fresh `Bot` and a fresh
`HTTPXRequest` (one connection) that is initialised and shut down inside that same loop.

Why: python-telegram-bot 22's `Bot` is async only, and its httpx client is bound to the event
loop it first ran on; a `Bot` kept across two `asyncio.run` calls fails with "Event loop is
closed". rq's default worker also forks per job, so a client made before the fork must not be
used after it. A fresh client per call has neither problem; its cost (one new connection per
message) is small next to a resident's typing speed. `Bot.initialize()` is not called: it
would spend a `getMe` per call, and on a rejected token its error message contains the token.

The token is part of every Bot API URL (`/bot<token>/<method>`). httpx logs each request's URL
at INFO and python-telegram-bot logs its base URL at DEBUG, so importing this module raises
those loggers' levels (see `quiet_token_loggers`); our own errors pass through `redact`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.settings import Settings
from bot.tls import tls_context

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# Loggers that would print a URL carrying the token, and the least level they may emit.
TOKEN_LOGGERS = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "telegram": logging.INFO}


def quiet_token_loggers() -> None:
    """Keep httpx's request lines and python-telegram-bot's debug lines (URLs with the token)
    out of every log, whatever level the root logger is set to."""
    for name, level in TOKEN_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


def api_url(settings: Settings) -> str:
    """TELEGRAM_API_BASE as python-telegram-bot's base_url (the token is appended to it)."""
    return settings.telegram_api_base.rstrip("/") + "/bot"


def redact(text: str, settings: Settings) -> str:
    """The text with the bot token masked."""
    token = settings.telegram_bot_token
    return text.replace(token, "<token>") if token else text


def call(settings: Settings, action: Callable[[Bot], Awaitable[T]]) -> T:
    """Run `action(bot)` to completion from sync code and return its result."""
    quiet_token_loggers()
    return asyncio.run(_call(settings, action))


async def _call(settings: Settings, action: Callable[[Bot], Awaitable[T]]) -> T:
    request = HTTPXRequest(
        connection_pool_size=1,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        write_timeout=READ_TIMEOUT,
        httpx_kwargs={"verify": tls_context()},
    )
    bot = Bot(
        settings.telegram_bot_token,
        base_url=api_url(settings),
        base_file_url=settings.telegram_api_base.rstrip("/") + "/file/bot",
        request=request,
        get_updates_request=request,
    )
    await request.initialize()
    try:
        return await action(bot)
    finally:
        await request.shutdown()


quiet_token_loggers()
