"""Settings come from the environment, with documented defaults and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.jobs.turn_state import engine_context
from bot.settings import Settings, parse_bounds


def test_defaults_run_locally(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "GEOCODER", "CITY_BOUNDS", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.geocoder == "nominatim"
    assert settings.bounds() is None


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/x")
    monkeypatch.setenv("GEOCODER", "NONE")
    monkeypatch.setenv("CITY_BOUNDS", "41.6,-87.95,42.05,-87.5")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u@db/x"
    assert settings.geocoder == "none"
    assert settings.bounds() == ((41.6, -87.95), (42.05, -87.5))


@pytest.mark.parametrize("bounds", ["1,2,3", "north,1,2,3", "42,-87,41,-88"])
def test_bad_city_bounds_are_refused(bounds):
    with pytest.raises((ValueError, ValidationError)):
        Settings(_env_file=None, city_bounds=bounds)


def test_unknown_geocoder_is_refused():
    with pytest.raises(ValidationError):
        Settings(_env_file=None, geocoder="no-such-geocoder")


def test_secrets_stay_out_of_repr():
    settings = Settings(_env_file=None, twilio_auth_token="s3cret-token", open311_api_key="k3y")
    assert "s3cret-token" not in repr(settings) and "k3y" not in repr(settings)


def test_parse_bounds_orders_corners():
    assert parse_bounds("1,2,3,4") == ((1.0, 2.0), (3.0, 4.0))


def test_a_city_that_needs_coordinates_refuses_to_start_without_a_geocoder():
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, geocoder="none", open311_profile="chicago")
    assert "needs coordinates" in str(info.value) and "GEOCODER" in str(info.value)
    assert Settings(_env_file=None, geocoder="nominatim", open311_profile="chicago")
    assert Settings(_env_file=None, geocoder="none", open311_profile="generic")


@pytest.mark.parametrize("timeout", ["0", "-5", "inf", "nan", "601"])
def test_an_open311_timeout_that_makes_no_sense_is_refused(monkeypatch, timeout):
    monkeypatch.setenv("OPEN311_TIMEOUT", timeout)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


@pytest.mark.parametrize(
    ("value", "codes"),
    [("", frozenset()), ("*", frozenset("*")), (" 001, PTH-7 ,", frozenset({"001", "PTH-7"}))],
)
def test_ask_optional_questions_reaches_the_engine(value, codes):
    settings = Settings(_env_file=None, ask_optional_questions=value)
    assert settings.optional_questions() == codes
    assert engine_context((), settings).ask_optional == codes
