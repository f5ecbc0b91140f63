"""Fail closed: with ENV=production a process refuses to start while anything that keeps
residents' data safe is missing; in development it says, once and loudly, what is off.

`problems` is the whole list of checks, a pure function of the settings and of the variables
a `.env` file would set; `check_startup` is what the web app, the worker and cron call first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from bot.logs import log_block
from bot.settings import Settings

log = logging.getLogger(__name__)

# Shared secrets we choose ourselves are at least this long (32 random characters).
MIN_SECRET_CHARS = 32
# ... and not a run of one character or a short word repeated ("aaaa...", 32 spaces).
MIN_DISTINCT_CHARS = 10
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
DOTENV = Path(".env")

_warned = False


class RefusedToStart(RuntimeError):
    """ENV=production and the settings are not safe: every problem, one a line."""

    def __init__(self, process: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"intake311 {process} refuses to start with ENV=production:\n{lines}\n"
            "Fix these settings (README, 'Running in production'), or set ENV=development "
            "to run without these checks."
        )


def is_production(settings: Settings) -> bool:
    """Whether ENV says production (case and spaces aside)."""
    return settings.env.strip().lower() == "production"


def problems(settings: Settings, dotenv: Mapping[str, str | None] | None = None) -> list[str]:
    """Everything that makes these settings unsafe for residents' data, one sentence each.

    `dotenv`: the variables a `.env` file in the working directory sets (None: no such file).
    """
    found: list[str] = []
    twilio_on = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_FROM_NUMBER", settings.twilio_from_number),
            ("TWILIO_MESSAGING_SERVICE_SID", settings.twilio_messaging_service_sid),
            ("TWILIO_WHATSAPP_FROM", settings.twilio_whatsapp_from),
        )
        if value
    ]
    if twilio_on and not settings.twilio_auth_token:
        found.append(
            f"Twilio is on ({twilio_on[0]} is set) but TWILIO_AUTH_TOKEN is not: "
            "its webhooks cannot be verified"
        )
    if settings.telegram_bot_token and not settings.telegram_secret_token:
        found.append(
            "Telegram is on (TELEGRAM_BOT_TOKEN is set) but TELEGRAM_SECRET_TOKEN is not: "
            "its webhooks cannot be verified"
        )
    x_on = [
        name
        for name, value in (
            ("X_CONSUMER_KEY", settings.x_consumer_key),
            ("X_ACCESS_TOKEN", settings.x_access_token),
            ("X_ACCESS_TOKEN_SECRET", settings.x_access_token_secret),
        )
        if value
    ]
    if x_on and not settings.x_consumer_secret:
        found.append(
            f"X is on ({', '.join(x_on)} set) but X_CONSUMER_SECRET is not: its webhooks "
            "cannot be verified"
        )
    for name, value in (
        ("TELEGRAM_SECRET_TOKEN", settings.telegram_secret_token),
        ("WEBCHAT_SECRET", settings.webchat_secret),
        ("ADMIN_TOKEN", settings.admin_token),
        ("METRICS_TOKEN", settings.metrics_token),
    ):
        if value:
            found.extend(_weak_secret(name, value))
    # The staff console's sessions are signed with it: a guessable key forges any staff member.
    if not settings.console_secret_key:
        found.append(
            "CONSOLE_SECRET_KEY is not set (it signs the staff console's sessions): make one "
            "with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    else:
        found.extend(_weak_secret("CONSOLE_SECRET_KEY", settings.console_secret_key))
    if settings.telegram_secret_token and not _TELEGRAM_SECRET.fullmatch(
        settings.telegram_secret_token
    ):
        found.append("TELEGRAM_SECRET_TOKEN may hold only A-Z a-z 0-9 _ - (Telegram's rule)")
    # Messenger: a page token (or a verify token) without the app secret that signs its calls.
    messenger_on = settings.meta_page_token or settings.meta_verify_token
    if messenger_on and not settings.meta_app_secret:
        found.append(
            "Messenger is on (META_PAGE_TOKEN or META_VERIFY_TOKEN is set) but META_APP_SECRET "
            "is not: its webhooks cannot be verified"
        )
    if settings.meta_verify_token:
        found.extend(_weak_secret("META_VERIFY_TOKEN", settings.meta_verify_token))
    # Mastodon: its access token goes with every call to MASTODON_BASE_URL.
    if settings.mastodon_access_token and not settings.mastodon_base_url.startswith("https://"):
        found.append(
            "MASTODON_BASE_URL is not HTTPS (or not set) while MASTODON_ACCESS_TOKEN is: the "
            "token would cross the network in the clear"
        )
    # X: the consumer key and secret go to X_API_BASE as Basic auth (for the app-only bearer
    # token), and every call's OAuth 1.0a signature with them.
    x_base = urlsplit(settings.x_api_base.strip())
    x_configured = x_on or settings.x_consumer_secret
    if x_configured and (x_base.scheme.lower() != "https" or not x_base.hostname):
        found.append(
            "X_API_BASE is not HTTPS while X is on: the consumer key and secret would cross "
            "the network in the clear"
        )
    url = settings.public_base_url.strip()
    if not url:
        found.append("PUBLIC_BASE_URL is not set (the https:// address providers call)")
    elif not url.lower().startswith("https://"):
        found.append(f"PUBLIC_BASE_URL is not HTTPS: {url}")
    elif not urlsplit(url).hostname:
        found.append(f"PUBLIC_BASE_URL has no host: {url}")
    found.extend(_key_problems(settings))
    if dotenv:
        found.append(
            f"a .env file in {Path.cwd()} would set {', '.join(sorted(dotenv))}: in production "
            "every setting comes from the environment (remove the file)"
        )
    return found


def _weak_secret(name: str, value: str) -> list[str]:
    """Why a secret we choose is too easy to guess (never its value), or nothing."""
    if len(value) < MIN_SECRET_CHARS:
        return [f"{name} is shorter than {MIN_SECRET_CHARS} characters"]
    if value != value.strip() or len(set(value)) < MIN_DISTINCT_CHARS:
        return [
            f"{name} is not random enough (spaces at its ends, or fewer than "
            f"{MIN_DISTINCT_CHARS} different characters): make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        ]
    return []


def _key_problems(settings: Settings) -> list[str]:
    from cryptography.fernet import Fernet  # here: `intake311 worker` starts without it

    from bot.personal_data import DEVELOPMENT_ENCRYPTION_KEY, DEVELOPMENT_LOOKUP_KEY

    found = []
    keys = [k.strip() for k in settings.encryption_keys.split(",") if k.strip()]
    if not keys:
        found.append(
            "ENCRYPTION_KEYS is not set: residents' addresses would be encrypted with the "
            "development key"
        )
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except ValueError:
            found.append(f"ENCRYPTION_KEYS: key {number} is not a Fernet key")
        if key == DEVELOPMENT_ENCRYPTION_KEY:
            found.append(
                f"ENCRYPTION_KEYS: key {number} is the development key, published in our code "
                "(make one with `intake311 keys new`)"
            )
    if settings.lookup_key == DEVELOPMENT_LOOKUP_KEY:
        found.append(
            "LOOKUP_KEY is the development key, published in our code "
            "(make one with `intake311 keys new --lookup`)"
        )
    elif not settings.lookup_key:
        found.append(
            "LOOKUP_KEY is not set: residents' addresses would be hashed with the development key"
        )
    else:
        found.extend(_weak_secret("LOOKUP_KEY", settings.lookup_key))
    return found


def cautions(settings: Settings) -> list[str]:
    """What is allowed in production but worth saying at start (never a refusal)."""
    said = []
    if settings.database_url.strip().lower().startswith("sqlite"):
        said.append(
            "the database is SQLite: one machine, no roles, no encryption on the wire; "
            "use PostgreSQL for a city's traffic"
        )
    # issue 19: the city's own address data as the geocoder
    if settings.geocoder == "gazetteer" and not Path(settings.gazetteer_file).is_file():
        said.append(
            "GEOCODER=gazetteer but there is no index at GAZETTEER_FILE: every look-up fails "
            "(typed addresses are forwarded unchecked) until `intake311 gazetteer load` builds it"
        )
    return said


def dotenv_variables(path: Path = DOTENV) -> dict[str, str | None] | None:
    """The variables `path` sets (their values are never shown), or None without the file."""
    if not path.is_file():
        return None
    from dotenv import dotenv_values

    return dict(dotenv_values(path))


def check_startup(settings: Settings, process: str) -> None:
    """Refuse to start in production while `problems` finds any (RefusedToStart); otherwise
    log, once per process, what is off (development) or worth a caution."""
    global _warned
    found = problems(settings, dotenv_variables())
    if is_production(settings):
        if found:  # the caller shows it: the CLI on stderr, gunicorn with its traceback
            raise RefusedToStart(process, found)
        if cautions(settings) and not _warned:
            log_block(log, logging.WARNING, "production, with a caution:", cautions(settings))
        _warned = True
        return
    if not _warned:
        title = (
            f"ENV={settings.env}: the production checks are off; production would refuse "
            "to start until these are fixed:"
            if found
            else f"ENV={settings.env}: the production checks are off (nothing would stop "
            "production):"
        )
        log_block(log, logging.WARNING, title, [*found, *cautions(settings)])
        _warned = True
