"""Telegram through the Bot API: Updates in (parsed by python-telegram-bot), buttons out.

Inbound, per Update (all deduplicated on `update_id`, stored as `str(update_id)`):
- `message`: text, or a photo's caption with the largest size's `file_id` as media
  `telegram-file:<file_id>` (never the file URL: it carries the bot token); a shared location
  or venue becomes `Inbound.location` (the venue's title as `place_name`, text "" for a bare
  pin). Commands pass through as typed (`/start <deep-link payload>`, `/help`, `/cancel`,
  `/status N`): the engine reads them like HELP, CANCEL and STATUS; `@botname` is dropped.
- `callback_query` (a button tapped): the button's callback data is the text, and the
  webhook answers the query in its HTTP response (see `Telegram.answer`).
- `edited_message`: ignored. An edit arrives after the engine has acted on the original, so
  applying it would answer a question already moved past; the resident can send it again.
- `my_chat_member`: the resident blocked the bot ("kicked": the contact is opted out) or
  unblocked it ("member": opted in again): a `Membership` event, no message.
Anything else, and anything from a group or channel chat, is acknowledged and ignored.

Outbound: the engine's channel-neutral reply rendered natively: a choice as inline buttons
(callback data the option's number), yes/no as Yes/No buttons, a location request as a
one-time "Share location" reply keyboard; plain text removes any reply keyboard left showing.
See telegram_api.py for how the async `Bot` is called from rq's sync jobs.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from urllib.parse import quote, urlsplit

from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.channels import fields, telegram_api
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Event,
    Ignored,
    Inbound,
    MalformedInbound,
    Membership,
    Outgoing,
    SendError,
    SendRate,
    WebReply,
    WebRequest,
)
from bot.languages import load_languages
from bot.media.types import MediaRefused, MediaRequest, MediaUnavailable
from bot.payloads import InboundPayload, ReplyIntent
from bot.settings import Settings
from conversations import texts
from conversations.language import ENGLISH, Language

NAME = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # characters in one message, Telegram's limit
MEDIA_PREFIX = "telegram-file:"
# The update types we handle, as registered by `intake311 telegram set-webhook`.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
YES_NO = ((texts.YES_BUTTON, "yes"), (texts.NO_BUTTON, "no"))
YES_PRIVATE_NO = ((texts.YES_BUTTON, "yes"), (texts.PRIVATE_BUTTON, "private"), YES_NO[1])
# The "/" menu: command -> its description (the engine reads "/myreports" as MY REPORTS).
COMMANDS = (
    ("help", texts.COMMAND_HELP),
    ("restart", texts.COMMAND_RESTART),
    ("back", texts.COMMAND_BACK),
    ("status", texts.COMMAND_STATUS),
    ("myreports", texts.COMMAND_MY_REPORTS),
    ("language", texts.COMMAND_LANGUAGE),
)
MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit
MAX_QUERY_ID = fields.MAX_ID - len("cbq:")  # a button tap's id, kept as "cbq:<id>"
MAX_FILE_ID = fields.MAX_LINE - len(MEDIA_PREFIX)
# An Update is a few kB (a 4096-character text, the message it replies to): a body larger than
# this is refused (413) before it is read.
MAX_REQUEST_BYTES = 256 * 1024

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def address_for(chat_id: int | str) -> str:
    """The contact address of a Telegram chat."""
    return f"{NAME}:{chat_id}"


def chat_id_of(address: str) -> int:
    """The chat id in a 'telegram:<chat_id>' address; SendError if it is not one."""
    prefix = f"{NAME}:"
    try:
        if not address.startswith(prefix):
            raise ValueError(address)
        return int(address.removeprefix(prefix))
    except ValueError:
        raise SendError(f"not a Telegram address: {address!r}", retryable=False) from None


# --- inbound ----------------------------------------------------------------------------------


def parse_update(data: object) -> list[Event]:
    """Read one webhook Update; MalformedInbound if it is not an Update we can read.

    Every field is checked against the Bot API's types before anything is kept: chat, user and
    message ids are 64-bit integers, the words are strings (cleaned and cut to MAX_TEXT), a
    pin is on the globe (or left out, the rest of the message kept). Telegram sends nothing
    else, so what fails these is refused with a 400 (see `Telegram.unstorable` for a value
    that passes them and the database still refuses).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("update_id"), int):
        raise MalformedInbound("not a Telegram Update (no integer update_id)")
    raw = kept_raw(data)
    try:
        update = Update.de_json(dict(data), bot=None)
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        OverflowError,  # a date beyond any datetime (10**20)
        OSError,  # a date the platform's clock cannot convert
        RecursionError,
    ) as exc:
        raise MalformedInbound(f"unreadable Update: {type(exc).__name__}") from exc
    try:
        if update.message is not None:
            message = update.message
            # Update ids restart after a quiet week or a new token; chat + message id do not.
            chat_id = fields.integer(message.chat.id, "chat id")
            message_id = fields.integer(message.message_id, "message id")
            return [_from_message(message, f"msg:{chat_id}:{message_id}", raw)]
        if update.callback_query is not None:
            query = update.callback_query
            query_id = fields.identifier(query.id, MAX_QUERY_ID, "callback query id")
            return [_from_callback(query, f"cbq:{query_id}", raw)]
        if update.my_chat_member is not None:
            return [_from_membership(update.my_chat_member)]
    except AttributeError as exc:  # a part every real Update has is missing
        raise MalformedInbound(f"incomplete Update: {exc}") from exc
    if update.edited_message is not None:
        return [Ignored("edited message (edits are not applied)")]
    return [Ignored("update type not handled")]


def kept_raw(data: Mapping) -> dict:
    """The part of an Update stored with its message (`InboundPayload.raw`): the update's id
    and kind and the message's id, for tracing. Never the chat or user (ids, names,
    usernames, phone numbers of shared contacts), nor the words."""
    kind = next((key for key in data if key != "update_id"), "")
    body = data.get(kind)
    kept: dict = {"update_id": data.get("update_id"), "kind": kind}
    if isinstance(body, Mapping):
        message = body.get("message") if kind == "callback_query" else body
        if isinstance(message, Mapping) and isinstance(message.get("message_id"), int):
            kept["message_id"] = message["message_id"]
    return kept


def callback_query_id(data: object) -> str | None:
    """The id of the button tap an Update carries, which its webhook answer must name."""
    if isinstance(data, Mapping) and isinstance(data.get("callback_query"), Mapping):
        query_id = data["callback_query"].get("id")
        return str(query_id) if query_id is not None else None
    return None


def _words(value: object, name: str) -> str:
    """A message's text, caption or callback data: a string (cleaned, cut to MAX_TEXT) or
    none; MalformedInbound for any other type."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedInbound(f"{name} is not text")
    return fields.text(value, MAX_TEXT)


def _from_message(message: Message, external_id: str, raw: dict) -> Event:
    if message.chat.type != "private":
        return Ignored(f"message in a {message.chat.type} chat")
    location, place_name = None, ""
    if message.venue is not None:
        venue = message.venue
        location = fields.point(venue.location.latitude, venue.location.longitude)
        place_name = fields.line(venue.title)
    elif message.location is not None:
        location = fields.point(message.location.latitude, message.location.longitude)
    media: tuple[str, ...] = ()
    if message.photo:
        largest = _largest(message.photo)
        media = (MEDIA_PREFIX + largest,) if largest else ()
    elif message.document and _is_image(message.document.mime_type):
        file_id = fields.optional_identifier(message.document.file_id, MAX_FILE_ID)
        media = (MEDIA_PREFIX + file_id,) if file_id else ()  # a photo sent "as a file"
    text = _words(message.text, "text") or _words(message.caption, "caption")
    return Inbound(
        channel=NAME,
        address=address_for(message.chat.id),
        external_id=external_id,
        text=_without_bot_name(text),
        payload=InboundPayload(
            media=media,
            location=location,
            place_name=place_name if location else "",
            raw=raw,
        ),
    )


def _size(value: object) -> int:
    return value if type(value) is int and 0 <= value < 2**31 else 0


def _largest(photo: Sequence[PhotoSize]) -> str | None:
    """The file id of the largest size of a photo (None when no size has a readable id)."""
    sizes = [
        (_size(size.width) * _size(size.height), _size(size.file_size), file_id)
        for size in photo
        if (file_id := fields.optional_identifier(size.file_id, MAX_FILE_ID))
    ]
    return max(sizes)[2] if sizes else None


def _is_image(mime_type: object) -> bool:
    return isinstance(mime_type, str) and mime_type.startswith("image/")


def _without_bot_name(text: str) -> str:
    """'/help@city311bot now' -> '/help now': the engine reads the bare command."""
    if not text.startswith("/"):
        return text
    command, space, rest = text.partition(" ")
    return command.split("@", 1)[0] + space + rest


def _from_callback(query: CallbackQuery, external_id: str, raw: dict) -> Event:
    chat = query.message.chat if query.message is not None else None
    if chat is not None and chat.type != "private":
        return Ignored(f"button in a {chat.type} chat")
    if query.data is None:
        return Ignored("button without callback data")
    data = _words(query.data, "callback data")
    # In a private chat the chat id is the user's id, so a button on a message too old to be
    # included still reaches the right conversation.
    chat_id = fields.integer(chat.id if chat is not None else query.from_user.id, "chat id")
    tapped = query.message.message_id if query.message is not None else None
    if tapped is not None:
        tapped = fields.integer(tapped, "message id")
    return Inbound(
        channel=NAME,
        address=address_for(chat_id),
        external_id=external_id,
        text=data,
        payload=InboundPayload(
            raw=raw, reply_to=f"{chat_id}:{tapped}" if tapped is not None else None
        ),
    )


def _from_membership(change: ChatMemberUpdated) -> Event:
    if change.chat.type != "private":
        return Ignored(f"membership change in a {change.chat.type} chat")
    status = change.new_chat_member.status
    if status not in ("kicked", "member"):
        return Ignored(f"membership status {status}")
    return Membership(
        address_for(fields.integer(change.chat.id, "chat id")), blocked=status == "kicked"
    )


# --- outbound ---------------------------------------------------------------------------------


# Telegram refuses inline keyboards of more than 100 buttons, and captions over 1024 characters.
MAX_BUTTONS = 100
MAX_CAPTION = 1024


def keyboard_for(reply: ReplyIntent | None, say: Language = ENGLISH) -> Markup:
    """The buttons that answer the engine's reply: its `expects` rendered for Telegram."""
    expects = reply.expects if reply else "text"
    options = list(reply.options) if reply else []
    if expects in ("choice", "choices") and options:
        # "choices" takes several numbers ("1 3"), typed: the labels show them.
        numbered = expects == "choices"
        rows = [
            [
                InlineKeyboardButton(
                    f"{n}. {label}" if numbered else label, callback_data=_callback_data(str(n))
                )
            ]
            for n, label in enumerate(options, start=1)
        ]
        return InlineKeyboardMarkup(rows)
    if expects in ("yes_no", "yes_no_private"):
        labels = YES_NO if expects == "yes_no" else YES_PRIVATE_NO
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(say(label), callback_data=data) for label, data in labels]]
        )
    if expects == "location":
        return ReplyKeyboardMarkup(
            [[KeyboardButton(say(texts.SHARE_LOCATION_BUTTON), request_location=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    return ReplyKeyboardRemove()


def _callback_data(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes")
    return data


def _send(out: Outgoing, settings: Settings) -> str:
    """Send one reply through the Bot API; return '<chat_id>:<message_id>'.

    Telegram's message ids count per chat, and provider ids are unique per channel, so the
    chat id is part of ours.
    """
    if not settings.telegram_bot_token:
        raise SendError("TELEGRAM_BOT_TOKEN is not set", retryable=False)
    chat_id = chat_id_of(out.address)
    reply = out.reply
    text = (reply.text if reply else "") or out.text
    languages = load_languages(settings.locale_dir or None)
    markup = keyboard_for(reply, languages.get(reply.language if reply else "en", ENGLISH))
    if reply and len(reply.options) > MAX_BUTTONS:
        text, markup = out.text, keyboard_for(None)  # too many for buttons: the numbered lines
    photo = out.payload.media_url

    async def transmit(bot: Bot) -> Message:
        if photo and len(text) <= MAX_CAPTION:
            try:
                return await bot.send_photo(chat_id, photo, caption=text, reply_markup=markup)
            except BadRequest:  # Telegram could not fetch the city's photo: the words still go
                log.info("photo for telegram contact not sent; sending the text alone")
        return await bot.send_message(chat_id, text, reply_markup=markup)

    try:
        message = telegram_api.call(settings, transmit)
    except TelegramError as exc:
        raise send_error(exc, settings) from exc
    return f"{chat_id}:{message.message_id}"


def send_error(exc: TelegramError, settings: Settings) -> SendError:
    """Our words for a Bot API failure: blocked, permanent or worth retrying."""
    text = telegram_api.redact(f"Telegram {type(exc).__name__}: {exc.message}", settings)
    if isinstance(exc, Forbidden):  # blocked by the user, or the account is deleted
        return SendError(text, retryable=False, code="403", opted_out=True)
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
        return SendError(text, retryable=True, code="429", retry_after=seconds)
    if isinstance(exc, (BadRequest, ChatMigrated)):  # chat not found, bad markup: no retry fixes it
        return SendError(text, retryable=False, code="400")
    if isinstance(exc, InvalidToken):
        return SendError(text, retryable=False, code="401")
    if isinstance(exc, NetworkError):  # timeouts, refused connections, 5xx
        return SendError(text, retryable=True)
    return SendError(text, retryable=False)


# --- the webhook registration -----------------------------------------------------------------


def webhook_url(settings: Settings) -> str:
    """Where Telegram should post Updates: PUBLIC_BASE_URL + /webhooks/telegram."""
    if not settings.public_base_url:
        raise ValueError("PUBLIC_BASE_URL is not set")
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH


def set_webhook(settings: Settings) -> str:
    """Register our webhook, with the secret token and the update types we handle, and the
    command menu in every language the bot speaks."""
    if not settings.telegram_bot_token or not settings.telegram_secret_token:
        raise ValueError("TELEGRAM_BOT_TOKEN and TELEGRAM_SECRET_TOKEN must be set")
    url = webhook_url(settings)
    telegram_api.call(
        settings,
        lambda bot: bot.set_webhook(
            url,
            secret_token=settings.telegram_secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
        ),
    )
    for code, say in load_languages(settings.locale_dir or None).items():
        commands = [BotCommand(name, say(text)[:256]) for name, text in COMMANDS]
        language = None if code == "en" else code  # English for everyone else
        telegram_api.call(settings, partial(_set_commands, commands=commands, language=language))
    return url


async def _set_commands(bot: Bot, commands: list[BotCommand], language: str | None) -> bool:
    return await bot.set_my_commands(commands, language_code=language)


def webhook_info(settings: Settings) -> dict:
    """Telegram's view of our webhook (getWebhookInfo), as a dict."""
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    info = telegram_api.call(settings, lambda bot: bot.get_webhook_info())
    return info.to_dict()


class Telegram(Channel):
    """A Telegram bot through the Bot API."""

    name = NAME
    scheme = NAME
    webhook_path = WEBHOOK_PATH
    provider = "Telegram"
    max_request_bytes = MAX_REQUEST_BYTES
    abilities = Abilities(
        opt_out_words=OPT_OUT_WORDS,
        opt_in_words=OPT_IN_WORDS,
        buttons=True,
        location_requests=True,
        media=True,
        text_budget=MAX_TEXT,
        budget_unit="characters",
    )

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        """The bot's rate in all, then the chat's (Telegram's Bot FAQ: about 30 and 1 a
        second); a chat's id is an address, so its keyed hash names its bucket."""
        from bot.personal_data import address_key

        return (
            SendRate("telegram:bot", settings.telegram_sends_per_second),
            SendRate(
                f"telegram:chat:{address_key(address)[:32]}",
                settings.telegram_chat_sends_per_second,
            ),
        )

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        """Refuse a call without our secret token (compared in constant time)."""
        secret = settings.telegram_secret_token
        given = request.header(SECRET_HEADER)
        if not secret:
            return "TELEGRAM_SECRET_TOKEN is not set"
        if not given:
            return f"no {SECRET_HEADER} header"
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return f"{SECRET_HEADER} does not match TELEGRAM_SECRET_TOKEN"
        return None

    def parse(self, request: WebRequest) -> list[Event]:
        """One Update per call."""
        if request.subpath:
            raise MalformedInbound(f"no Telegram webhook at {request.subpath!r}")
        return parse_update(request.json)

    def answer(self, request: WebRequest, events: list[Event]) -> WebReply:
        """A button tap is answered in this response (`answerCallbackQuery`), which the Bot API
        accepts from a webhook ("Making requests when getting updates"): no extra request, no
        token in the web process, and the spinner stops even when the turn is slow. Telegram
        does not say whether that answer worked; a failed one costs a spinner that times out."""
        query_id = callback_query_id(request.json)
        if query_id is None:
            return WebReply()
        return WebReply(
            body=json.dumps({"method": "answerCallbackQuery", "callback_query_id": query_id}),
            content_type="application/json",
        )

    def unstorable(self, request: WebRequest, problem: str) -> WebReply:
        """200, and the Update set aside: Telegram redelivers an Update it did not get a 2xx
        for, again and again, and holds the bot's later Updates meanwhile, so one Update we
        cannot store would keep every resident waiting. (An Update the parser refuses is a
        400: it is not one Telegram sends.)"""
        return WebReply()

    def send(self, out: Outgoing, settings: Settings) -> str:
        """Send one reply, with its buttons, through the Bot API."""
        return _send(out, settings)

    def media_request(self, reference: str, settings: Settings) -> MediaRequest:
        """A `telegram-file:<file_id>` reference: getFile, then its file URL on
        TELEGRAM_API_BASE's host alone (it holds the token: `secret_url`). MediaRefused for
        another reference or a file Telegram will not give (a wrong id, too big);
        MediaUnavailable when the Bot API cannot answer now."""
        if not reference.startswith(MEDIA_PREFIX):
            raise MediaRefused("not a Telegram file reference")
        file_id = fields.optional_identifier(reference.removeprefix(MEDIA_PREFIX), MAX_FILE_ID)
        if not file_id:
            raise MediaRefused("not a Telegram file id")
        if not settings.telegram_bot_token:
            raise MediaRefused("TELEGRAM_BOT_TOKEN is not set")
        try:
            file = telegram_api.call(settings, lambda bot: bot.get_file(file_id))
        except BadRequest as exc:
            # Telegram words a wrong id and a passing outage alike ("wrong file_id or the file
            # is temporarily unavailable"): tried again (MEDIA_FETCH_ATTEMPTS), then given up.
            # "file is too big" and the like are refused at once.
            if "temporarily unavailable" in str(exc).lower():
                raise MediaUnavailable(_media_error(exc, settings)) from None
            raise MediaRefused(_media_error(exc, settings)) from None
        except (RetryAfter, NetworkError) as exc:  # timeouts, refused connections, 5xx
            raise MediaUnavailable(_media_error(exc, settings)) from None
        except TelegramError as exc:  # a token Telegram refuses, and the like: no retry fixes it
            raise MediaRefused(_media_error(exc, settings)) from None
        size = file.file_size if type(file.file_size) is int else None
        return MediaRequest(
            url=_file_url(file.file_path, settings),
            hosts=frozenset({_base_host(settings)}),
            schemes=frozenset({urlsplit(settings.telegram_api_base).scheme.lower()}),
            secret_url=True,
            size=size,
        )


def _media_error(exc: TelegramError, settings: Settings) -> str:
    return telegram_api.redact(f"Telegram getFile {type(exc).__name__}: {exc.message}", settings)


def _base_host(settings: Settings) -> str:
    """TELEGRAM_API_BASE's host as a media host pattern (with its port when not the scheme's)."""
    base = urlsplit(settings.telegram_api_base)
    default = {"http": 80, "https": 443}.get(base.scheme.lower())
    host = (base.hostname or "").lower()
    return host if base.port in (None, default) else f"{host}:{base.port}"


def _file_url(file_path: str | None, settings: Settings) -> str:
    """The download URL of a getFile answer's file_path: `{TELEGRAM_API_BASE}/file/bot{token}/
    {file_path}`. python-telegram-bot gives it already joined to that base; a bare path (as the
    Bot API sends it) is joined here. Anything else (another host, a local path, a path that
    climbs out with "..") is refused, with no URL in the message."""
    prefix = f"{settings.telegram_api_base.rstrip('/')}/file/bot{settings.telegram_bot_token}/"
    path = file_path or ""
    if path.startswith(prefix):
        path = path[len(prefix) :]
    elif "://" in path or path.startswith("/"):
        raise MediaRefused("Telegram's file path is not on TELEGRAM_API_BASE")
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts) or not path.isascii():
        raise MediaRefused("Telegram gave no usable file path")
    return prefix + quote(path, safe="/-_.~")


CHANNEL = Telegram()
