"""Log lines without residents' data: one setup for every process (web, worker, cron, CLI).

The call sites name residents by id or pseudonym (`bot.personal_data.pseudonym`) and never log
what they wrote. This module is the safety net under them: every record, whichever library
made it and whichever handler prints it, is rewritten once when it is made
(`logging.setLogRecordFactory`; a record no handler takes is left as it is, unformatted, since
nothing prints it) so that

- control characters (a resident's newline, escape sequences, NUL, lone surrogates) are
  escaped, so one record is one line and no input can forge another;
- phone-number-like text and long digit runs (a number in Twilio's error text, a Telegram
  chat id) are masked;
- the configured secrets (tokens, keys) are masked wherever they would appear;

and the loggers that print data at their chatty levels are held back (SQLAlchemy's rows,
Twilio's request lines with the recipient, httpx's URLs with the Telegram token).

Every record also carries the trace id of what runs (`bot.trace`, or None) as `trace`. The
processes print records in one of two formats (LOG_FORMAT): `JsonFormatter`, one JSON object a
line for a log platform (`ts`, `level`, `logger`, `msg`, `trace`, the call's `extra` fields,
`exc`), or `TextFormatter`, the readable line with the fields as `key=value` and the trace
after them. The fields are scrubbed as the message is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime

from bot import trace
from bot.settings import Settings

# Phone numbers as residents and providers write them, and any run of 7+ digits that is not
# part of a longer word (chat ids, numbers without separators). Dates (2026-12-05), times,
# addresses (120 Main St) and our ids (message 42, report:12) are left alone.
_PHONE = re.compile(
    r"(?<![\w+%.])(?:\+|%2[Bb])?"  # a leading +, or one URL-encoded (To=%2B1555...)
    r"(?:\d{7,}"  # 15551234567, 5551234567, 412345678
    r"|(?:\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})"  # 1 555 123-4567, (555) 123-4567
    r"(?!\w)"
)
# Left as they are: UUIDs (rq's job ids), whose hex groups may happen to be all digits.
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_MASKED = re.compile(f"(?P<keep>{_UUID.pattern})|{_PHONE.pattern}")
# A Telegram bot token (<bot id>:<35 characters>), wherever it comes from.
_TELEGRAM_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
MASK = "<number>"
SECRET_MASK = "<secret>"
# Shorter configured values are not masked (they would mask ordinary words); bot.production
# refuses secrets this short.
MIN_SECRET_CHARS = 8

# Loggers that print residents' data or secrets below a level, and the least level they may
# emit: twilio logs each request's query (the recipient) at INFO; httpx logs URLs (the Telegram
# token) at INFO; python-telegram-bot logs requests, urllib3 and geopy every URL (a Twilio
# look-up names the recipient, a geocoder query the address typed) at DEBUG. (SQLAlchemy's
# statements carry no parameters, as bot.db hides them; the rows it prints at DEBUG are hidden
# below.)
QUIET_LOGGERS = {
    "twilio.http_client": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "urllib3": logging.INFO,
    "geopy": logging.INFO,
}

_SQL_ROW = "Row %r"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_secrets: list[str] = []
_base_factory = logging.getLogRecordFactory()


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with control characters, line separators and lone surrogates escaped (\\n, \\x1b)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or char == " " or (keep_newlines and char == "\n"):
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp", "Cf"):
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def scrub(text: str, keep_newlines: bool = False) -> str:
    """`text` fit for a log line: secrets and phone-number-like digits masked, controls escaped."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    text = _TELEGRAM_TOKEN.sub(SECRET_MASK, text)
    text = _MASKED.sub(lambda m: m["keep"] or MASK, text)
    return escape_controls(text, keep_newlines=keep_newlines)


class _Escaped:
    """An argument of a log call, printed with its control characters escaped."""

    __slots__ = ("value",)

    def __init__(self, value: object):
        self.value = value

    def __str__(self) -> str:
        return escape_controls(str(self.value))

    def __repr__(self) -> str:
        return escape_controls(repr(self.value))


class _EscapedMapping(Mapping):
    """Mapping arguments (%(name)s), each escaped when read (gunicorn's atoms compute theirs)."""

    def __init__(self, given: Mapping):
        self.given = given

    def __getitem__(self, key):
        return _escaped(self.given[key])

    def __iter__(self):
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)


def _escaped(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):
        return value  # numbers keep their %d and %.1f
    return _Escaped(value)


def _printed(record: logging.LogRecord) -> bool:
    """Whether a handler on the record's way up (or logging's last resort) takes its level:
    only then is it scrubbed, so a record nothing prints costs no formatting."""
    logger: logging.Logger | None = logging.getLogger(record.name) if record.name else None
    if logger is None or record.name == "root":
        logger = logging.getLogger()
    while logger is not None:
        if any(record.levelno >= handler.level for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    resort = logging.lastResort
    return resort is not None and record.levelno >= resort.level


def _scrubbed_record(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.trace = trace.current()
    if not _printed(record):
        return record
    record.scrubbed = True
    if record.msg == _SQL_ROW and record.name.startswith("sqlalchemy.engine"):
        record.msg, record.args = "Row [hidden]", ()  # hide_parameters does not hide rows
    # What comes from outside arrives as arguments (log.info("... %s", text)): their control
    # characters are escaped, while a message's own line breaks (a block of problems) stay.
    # A message given without arguments is escaped whole.
    given = record.args
    if isinstance(given, Mapping):
        record.args = _EscapedMapping(given)
    elif given:
        record.args = tuple(_escaped(value) for value in given)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it when the record is printed
        record.args = given
        return record
    record.msg, record.args = scrub(message, keep_newlines=bool(given)), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), True)
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text, True)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, True)
    return record


def log_block(logger: logging.Logger, level: int, title: str, lines: list[str]) -> None:
    """One record of several lines: `title`, then each of `lines` as an indented item."""
    items = "".join("\n  - " + escape_controls(line).replace("%", "%%") for line in lines)
    logger.log(level, "%s" + items, title)


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets, longest first (each comma-separated key on its own)."""
    values = [
        settings.twilio_auth_token,
        settings.telegram_bot_token,
        settings.telegram_secret_token,
        settings.webchat_secret,
        settings.admin_token,
        settings.console_secret_key,
        settings.metrics_token,
        settings.open311_api_key,
        settings.media_s3_access_key_id,
        settings.media_s3_secret_access_key,
        settings.lookup_key,
        *settings.encryption_keys.split(","),
        # Messenger's (bot/channels/messenger.py)
        settings.meta_app_secret,
        settings.meta_verify_token,
        settings.meta_page_token,
        settings.x_consumer_secret,
        settings.x_access_token,
        settings.x_access_token_secret,
        settings.mastodon_access_token,
        # The geocoding provider's (bot/geocoders.py)
        settings.geocoder_api_key,
    ]
    kept = {v.strip() for v in values if len(v.strip()) >= MIN_SECRET_CHARS}
    return sorted(kept, key=len, reverse=True)


def install(settings: Settings | None = None) -> None:
    """Scrub every log record of this process, and hold back the loggers that print data."""
    global _secrets
    if settings is not None:
        _secrets = secret_values(settings)
    if logging.getLogRecordFactory() is not _scrubbed_record:
        logging.setLogRecordFactory(_scrubbed_record)
    for name, level in QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


MAX_FRAMES = 8  # of a failure's traceback, innermost last


def failure(exc: BaseException) -> str:
    """An exception for a log line without its message (which may carry a resident's words: a
    geocoder's or the city's error echoing an address): its type, then where it was raised,
    the frames' file:line (the last MAX_FRAMES, innermost last)."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    where = " < ".join(
        f"{_short_path(frame.filename)}:{frame.lineno}" for frame in reversed(frames)
    )
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    return f"{name} at {where}" if where else name


def _short_path(filename: str) -> str:
    """A frame's file from the package down (bot/jobs/turns.py), or its name alone."""
    parts = filename.replace("\\", "/").split("/")
    for top in ("bot", "conversations", "webhooks", "sandbox", "site-packages"):
        if top in parts[:-1]:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(top) :])
    return parts[-1]


FIELDS = "fields"
# What every LogRecord has: anything else on a record came from the call's `extra`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "trace",
    "scrubbed",
    "taskName",
}


# Fields that hold our own row ids and counts: kept whole at any size, so a line can still be
# followed to its row once the tables pass a million rows.
OUR_NUMBERS = frozenset(
    {"message", "report", "conversation", "contact", "photo", "follow", "ms", "status", "count"}
)


def _field(value: object, key: str = "") -> object:
    """An `extra` field fit for a log line: numbers as they are (but an int of seven digits or
    more in a field not of OUR_NUMBERS, masked like a phone number), anything else scrubbed."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):  # seven digits or more may be a phone number: masked
        return value if abs(value) < 1_000_000 or key in OUR_NUMBERS else MASK
    return scrub(str(value))


def fields(**given: object) -> dict[str, object]:
    """A log call's `extra` carrying an event's fields under any names (`message` too, which
    logging keeps for itself): `log.info("...", extra=fields(event="send", message=42))`."""
    return {FIELDS: given}


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """The record's own fields (`fields`, and any other `extra`), scrubbed, in their order."""
    found: dict[str, object] = {}
    for key, value in record.__dict__.items():
        if key == FIELDS and isinstance(value, Mapping):
            found.update((str(k), _field(v, str(k))) for k, v in value.items())
        elif key not in _STANDARD and not key.startswith("_"):
            found[key] = _field(value, key)
    return found


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    return message if getattr(record, "scrubbed", False) else scrub(message)


def _exception(record: logging.LogRecord) -> str | None:
    text = record.exc_text
    if not text and record.exc_info:
        text = logging.Formatter().formatException(record.exc_info)
    if not text:
        return None
    return text if getattr(record, "scrubbed", False) else scrub(text, True)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC), level, logger, msg, trace, the fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": _message(record),
        }
        traced = getattr(record, "trace", None)
        if traced:
            line["trace"] = traced
        for key, value in fields_of(record).items():
            line.setdefault(key, value)  # a field never hides the line's own keys
        exc = _exception(record)
        if exc:
            line["exc"] = exc
        if record.stack_info:
            line["stack"] = scrub(record.stack_info, True)
        # ASCII only: no character a log shipper could read as a line break.
        return json.dumps(line, ensure_ascii=True, default=str)


def _text_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or " " in text or '"' in text or "=" in text else text


class TextFormatter(logging.Formatter):
    """FORMAT, then the record's fields as key=value and its trace id (trace=...)."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        extras = [f"{key}={_text_value(value)}" for key, value in fields_of(record).items()]
        extras = [extra for extra in extras if extra not in line]  # said by the message already
        traced = getattr(record, "trace", None)
        if traced:
            extras.append(f"trace={traced}")
        return " ".join([line, *extras]) if extras else line


def formatter_for(settings: Settings | None) -> logging.Formatter:
    """The formatter LOG_FORMAT names (text without settings)."""
    if settings is not None and settings.log_format == "json":
        return JsonFormatter()
    return TextFormatter()


def configure_logging(settings: Settings | None = None, level: int | None = None) -> None:
    """The processes' logging: one line per record on stderr, in LOG_FORMAT at LOG_LEVEL (or
    `level`), scrubbed (see `install`)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter_for(settings))
        root.addHandler(handler)
        if level is None:
            level = logging.getLevelName(settings.log_level) if settings else logging.INFO
        root.setLevel(level)
    install(settings)
