"""`intake311 doctor`'s checks: every setting read and every configured service reached.

`run_checks` yields typed `Check`s (`results.py`) from the checks of `storage.py`, `city.py`,
`channels.py` and `staff.py`; the command (`bot/cli/doctor.py`) only prints them. Each check is
given CHECK_SECONDS at most (bot.readiness.within); one that raises or overruns fails alone, and the
others still run. What is shown never carries a secret: `hidden` masks every secret setting's
value (and a URL's password).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from sqlalchemy.engine import make_url

from bot.doctor.channels import (
    check_mastodon,
    check_messenger,
    check_telegram,
    check_twilio,
    check_x,
)
from bot.doctor.city import check_geocoder, check_open311
from bot.doctor.results import Check, failed, passed
from bot.doctor.staff import check_console, check_handoff
from bot.doctor.storage import check_database, check_production, check_redis
from bot.readiness import within
from bot.settings import Settings, get_settings, settings_errors

CHECK_SECONDS = 20.0
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
    check_console,
    check_handoff,
)


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
