"""`intake311 open311 check`: what a city's GeoReport v2 server does, and a profile for it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from bot.open311.check import (
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    CheckOptions,
    CheckResult,
    endpoint_problem,
    run_check,
    timeout_problem,
)
from bot.open311.profile import Profile, ProfileError, load_profile


class Seconds(click.FloatRange):
    """Seconds in a range; unlike click.FloatRange, "nan" is refused too."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if isinstance(seconds, float) and math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return seconds


@click.group("open311")
def open311_group() -> None:
    """The city's Open311 (GeoReport v2) server."""


@open311_group.command("check")
@click.argument("endpoint", required=False)
@click.option("--api-key", default=None, help="The city's API key (default OPEN311_API_KEY).")
@click.option(
    "--jurisdiction", default=None, help="jurisdiction_id to send (default the setting's)."
)
@click.option(
    "--profile",
    "profile_name",
    default=None,
    help="Start from this profile: a bundled name or a .toml path (default OPEN311_PROFILE if "
    "set, else generic).",
)
@click.option(
    "--post",
    is_flag=True,
    help="Send one incomplete POST (no service_code, no location) to see the error answer and "
    "whether the key is accepted; never a complete report.",
)
@click.option("--service", default="", help="Read this service's definition.")
@click.option(
    "--timeout",
    default=None,
    type=Seconds(min=MIN_TIMEOUT, max=MAX_TIMEOUT),
    help="Seconds per call (default OPEN311_TIMEOUT).",
)
@click.option(
    "--write",
    "write_to",
    default=None,
    type=click.Path(dir_okay=False, writable=True),
    help="Save the suggested profile TOML to this file.",
)
def check(
    endpoint: str | None,
    api_key: str | None,
    jurisdiction: str | None,
    profile_name: str | None,
    post: bool,
    service: str,
    timeout: float | None,
    write_to: str | None,
) -> None:
    """Probe ENDPOINT (default OPEN311_ENDPOINT) without filing anything; suggest a profile.

    Exits 1 when a check fails (with no profile when nothing could be read) or the profile
    cannot be written."""
    options = _options(endpoint, api_key, jurisdiction, profile_name, timeout)
    options.post, options.service = post, service
    click.echo(f"checking {options.endpoint} (starting from the {options.profile.name} profile)")
    result = run_check(options)
    written = _report(result, write_to)
    if result.failed or not written:
        raise SystemExit(1)


def _options(
    endpoint: str | None,
    api_key: str | None,
    jurisdiction: str | None,
    profile_name: str | None,
    timeout: float | None,
) -> CheckOptions:
    """The options, with what was not given taken from the settings (OPEN311_*)."""
    from bot.settings import get_settings

    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.UsageError(f"the settings cannot be read: {_settings_error(exc)}") from exc
    if profile_name is None:
        chosen = "open311_profile" in settings.model_fields_set
        profile_name = settings.open311_profile if chosen else "generic"
    endpoint = endpoint or settings.open311_endpoint
    problem = endpoint_problem(endpoint)
    if problem:
        raise click.UsageError(problem)
    if timeout is None:
        timeout = settings.open311_timeout
        if timeout_problem(timeout):
            raise click.UsageError(f"the setting OPEN311_TIMEOUT: {timeout_problem(timeout)}")
    profile = _profile(profile_name)
    return CheckOptions(
        endpoint=endpoint,
        profile=profile,
        api_key=settings.open311_api_key if api_key is None else api_key,
        jurisdiction_id=(
            settings.open311_jurisdiction_id or profile.jurisdiction_id
            if jurisdiction is None
            else jurisdiction
        ),
        timeout=timeout,
    )


def _settings_error(exc: ValueError) -> str:
    """A settings error on one line, naming each variable (its value left out: it could be a
    key): "OPEN311_TIMEOUT: Input should be greater than 0"."""
    from bot.settings import settings_errors

    return "; ".join(settings_errors(exc))


def _profile(name: str) -> Profile:
    """The starting profile, or a usage error saying why it cannot be used."""
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from exc


def _report(result: CheckResult, write_to: str | None) -> bool:
    """Print the findings and the suggested profile; save it with --write. False when the
    file could not be written (the profile is printed all the same)."""
    for finding in result.findings:
        click.echo(finding.line())
    counts = {
        level: sum(1 for f in result.findings if f.level == level) for level in ("warn", "fail")
    }
    click.echo(f"\n{counts['fail']} fail(s), {counts['warn']} warning(s)\n")
    if result.unread:
        click.echo("no suggested profile: nothing could be read from the server (see the fail)")
        if write_to:
            click.echo(f"nothing written to {write_to}")
        return True
    text = result.toml()
    click.echo("suggested profile (OPEN311_PROFILE=/path/to/city.toml):\n")
    click.echo(text)
    if write_to:
        try:
            Path(write_to).write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write {write_to}: {exc.strerror or exc}", err=True)
            return False
        click.echo(f"written to {write_to}")
    return True
