"""`intake311 doctor`'s checks: every setting read and every configured service reached.

Each check returns `Check`s and is given CHECK_SECONDS at most (bot.readiness.within); one that
raises or overruns fails alone, and the others still run. Details never carry a secret:
`hidden` masks every secret setting's value (and a URL's password) in what is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.readiness import within
from bot.settings import Settings, get_settings, settings_errors

CHECK_SECONDS = 20.0
# Profiles of the local stand-in city, which files without a key; a real city's server needs
# one to file (GeoReport v2: api_key is required by POST requests).
KEYLESS_PROFILES = frozenset({"sandbox", "sandbox_xml"})


@dataclass(frozen=True)
class Check:
    """One checked thing: whether it is fine, what was seen, and how to fix it if not.
    `warning`: fine to run with, but worth a look (never fails the doctor)."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    warning: bool = False


def passed(name: str, detail: str = "") -> Check:
    """A check that found nothing wrong."""
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    """A check that found a problem, and what to do about it."""
    return Check(name, False, detail, fix)


def warned(name: str, detail: str, fix: str) -> Check:
    """A check that found something worth a look but not wrong enough to stop."""
    return Check(name, True, detail, fix, warning=True)


def run_checks(seconds: float = CHECK_SECONDS) -> Iterator[Check]:
    """Every check, in order, each as it finishes; with unreadable settings, only that one."""
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        yield failed(
            "settings",
            "; ".join(settings_errors(exc)),
            "correct these variables in the environment (or .env in development)",
        )
        return
    yield passed("settings", f"read (ENV={settings.env})")
    for check in CHECKS:
        for result in _bounded(check, settings, seconds):
            yield hide(result, settings)


def _bounded(check: Callable[[Settings], list[Check]], settings: Settings, seconds: float):
    """The check's results within `seconds`; a check that raises or overruns fails alone."""
    name = check.__name__.removeprefix("check_").replace("_", " ")

    def late(why: str) -> list[Check]:
        return [failed(name, why, "find out why the service is this slow, or unreachable")]

    try:
        return within(f"doctor-{name}", seconds, partial(check, settings), late)
    except Exception as exc:  # one broken check never stops the others
        return [failed(name, f"the check broke: {type(exc).__name__}", "report this as a bug")]


def hide(check: Check, settings: Settings) -> Check:
    """The check with every secret setting's value masked in its words."""
    return Check(
        check.name,
        check.ok,
        hidden(check.detail, settings),
        hidden(check.fix, settings),
        check.warning,
    )


def hidden(text: str, settings: Settings) -> str:
    """`text` with the value of every secret setting, and URL passwords, masked."""
    for value in secrets_of(settings):
        text = text.replace(value, "<hidden>")
    return text


def secrets_of(settings: Settings) -> list[str]:
    """The values never to show: the secrets the logs mask, and the passwords in URLs."""
    from bot.logs import secret_values

    found = secret_values(settings)
    for url in (settings.database_url, settings.redis_url):
        try:
            found.append(make_url(url).password or "")
        except Exception:  # not a URL SQLAlchemy reads: nothing of it is shown anyway
            continue
    # Longest first, so a secret that contains another is masked whole.
    return sorted({value for value in found if len(value) >= 4}, key=len, reverse=True)


# -- the checks --------------------------------------------------------------------------------


def check_production(settings: Settings) -> list[Check]:
    """With ENV=production, what would make the processes refuse to start."""
    from bot.production import dotenv_variables, is_production, problems

    if not is_production(settings):
        return [passed("production", "not checked (ENV is not production)")]
    found = problems(settings, dotenv_variables())
    if not found:
        return [passed("production", "nothing unsafe found")]
    return [
        failed("production", problem, "change this setting: with ENV=production, nothing starts")
        for problem in found
    ]


def check_database(settings: Settings) -> list[Check]:
    """A SELECT 1, then the schema's revision against the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import get_engine
    from bot.migrate import alembic_config

    backend = make_url(settings.database_url).get_backend_name()
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return [
            failed(
                "database",
                f"cannot be reached ({backend}: {type(cause).__name__})",
                "check DATABASE_URL (host, port, name, user, password) and that the server runs",
            )
        ]
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    reached = passed("database", f"reached ({backend})")
    if current == heads:
        return [reached, passed("migrations", f"at the newest ({', '.join(sorted(heads))})")]
    at = f"at {', '.join(sorted(current))}" if current else "not migrated at all"
    return [
        reached,
        failed(
            "migrations",
            f"the schema is {at}; the newest is {', '.join(sorted(heads))}",
            "run `intake311 migrate`",
        ),
    ]


def check_redis(settings: Settings) -> list[Check]:
    """A PING through the queue's connection."""
    from redis.exceptions import RedisError

    from bot.queue import get_redis

    try:
        get_redis().ping()
    except RedisError as exc:
        return [
            failed(
                "redis",
                f"cannot be reached ({type(exc).__name__})",
                "check REDIS_URL and that redis-server runs",
            )
        ]
    return [passed("redis", "PING answered")]


def check_open311(settings: Settings) -> list[Check]:
    """The city's server: discovery, the service list in the profile's format, the key."""
    from bot.open311 import check as probing
    from bot.open311.errors import Open311Error
    from bot.open311.profile import load_profile

    endpoint = settings.open311_endpoint
    problem = probing.endpoint_problem(endpoint)
    if problem:
        return [
            failed(
                "open311",
                problem,
                "set OPEN311_ENDPOINT to the city's GeoReport v2 address "
                "(https://city.example.org/open311/v2/)",
            )
        ]
    profile = load_profile(settings.open311_profile)
    options = probing.CheckOptions(
        endpoint=endpoint,
        profile=profile,
        api_key=settings.open311_api_key,
        jurisdiction_id=settings.open311_jurisdiction_id or profile.jurisdiction_id,
        timeout=settings.open311_timeout,
    )
    probe = probing.Probe(options, probing.Recorder(), profile)
    key = _api_key(settings, profile.name)
    try:
        found = [_discovery(finding) for finding in probing.check_discovery(probe)]
        if any(not check.ok for check in found):
            return [*found, key]  # no connection: the service list would fail the same way
        found.append(key)
        try:
            services = probe.client().services()
        except Open311Error as exc:
            verdict = probing.unread_verdict(probe, exc, probe.last())
            return [*found, _unreachable(verdict)]
        count = passed("open311 services", f"{len(services)} service(s) in the city's list")
        if not services:
            count = warned(
                "open311 services",
                "the city lists no service",
                "ask the city which services it takes through Open311",
            )
        return [*found, count]
    finally:
        for client in probe.clients:
            client.close()
        probe.recorder.close()


def _discovery(finding) -> Check:
    """check.py's discovery finding as a check: optional in the spec, so absent is fine."""
    if finding.level == "fail":
        return _unreachable(finding.detail)
    if finding.level == "warn" and "HTTP 404" not in finding.detail:
        return warned(
            "open311 discovery",
            finding.detail,
            "filing does not need it, but the city's server answered it with an error",
        )
    return passed("open311 discovery", finding.detail)


def _unreachable(why: str) -> Check:
    return failed(
        "open311 services",
        why,
        "check OPEN311_ENDPOINT and OPEN311_PROFILE; `intake311 open311 check` says more",
    )


def _api_key(settings: Settings, profile: str) -> Check:
    if settings.open311_api_key:
        return passed("open311 api key", "set")
    if profile in KEYLESS_PROFILES:
        return passed("open311 api key", f"none needed (the {profile} profile)")
    return failed(
        "open311 api key",
        "OPEN311_API_KEY is empty: the city's server refuses to file a report without one",
        "ask the city for an Open311 API key and set OPEN311_API_KEY",
    )


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
        timeout=min(10.0, CHECK_SECONDS / 2),
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
    found = [passed("twilio", f"credentials accepted (account {account.status})")]
    try:
        found += _twilio_senders(settings, client)
    except TwilioRestException as exc:
        found.append(failed("twilio sender", _twilio_refusal(exc), "see Twilio's error code"))
    return found


def _twilio_refusal(exc) -> str:
    return f"Twilio refused: HTTP {exc.status}, error {exc.code}"


def _twilio_senders(settings: Settings, client) -> list[Check]:
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
    if not found:
        found.append(
            failed(
                "twilio sender",
                "neither TWILIO_FROM_NUMBER nor TWILIO_MESSAGING_SERVICE_SID is set",
                "set one of them: texts need a sender",
            )
        )
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


def check_geocoder(settings: Settings) -> list[Check]:
    """A lookup of the city's name, or the gazetteer's file, as GEOCODER says."""
    service = settings.geocoder
    if service == "none":
        return [passed("geocoder", "off (GEOCODER=none)")]
    if service == "gazetteer":
        path = Path(settings.gazetteer_file)
        if not path.is_file():
            return [
                failed(
                    "geocoder",
                    f"no gazetteer index at {path}",
                    "run `intake311 gazetteer load FILE...` with the city's address data, "
                    "or set GAZETTEER_FILE to where it is",
                )
            ]
        return [passed("geocoder", f"gazetteer index {path} ({path.stat().st_size} bytes)")]
    if not settings.city_name:
        return [warned("geocoder", "CITY_NAME is not set: nothing to look up", "set CITY_NAME")]
    from geopy.exc import GeopyError

    from bot.geocoders import build

    try:
        found = build(settings).geocode(settings.city_name)
    except GeopyError as exc:
        return [
            failed(
                "geocoder",
                f"{service} did not answer a lookup of {settings.city_name!r} "
                f"({type(exc).__name__})",
                "check GEOCODER_DOMAIN, GEOCODER_SCHEME and GEOCODER_API_KEY",
            )
        ]
    if found is None:
        return [
            warned(
                "geocoder",
                f"{service} answered but found no {settings.city_name!r}",
                "check CITY_NAME, and that the geocoder covers the city",
            )
        ]
    return [passed("geocoder", f"{service} found {settings.city_name!r}")]


CHECKS: tuple[Callable[[Settings], list[Check]], ...] = (
    check_production,
    check_database,
    check_redis,
    check_open311,
    check_twilio,
    check_telegram,
    check_messenger,
    check_x,
    check_mastodon,
    check_geocoder,
)
