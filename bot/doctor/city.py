"""The doctor's checks of the city's services: its Open311 server (with `open311/check.py`'s
probe) and the geocoder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.doctor.results import Check, failed, passed, warned
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.open311.check import Finding

# Profiles of the local stand-in city, which files without a key; a real city's server needs
# one to file (GeoReport v2: api_key is required by POST requests).
KEYLESS_PROFILES = frozenset({"sandbox", "sandbox_xml"})


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


def _discovery(finding: Finding) -> Check:
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
