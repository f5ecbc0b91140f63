"""`intake311 doctor` against the loopback city, Twilio and Telegram stand-ins."""

from __future__ import annotations

import re
import socket
import time

import pytest
from click.testing import CliRunner

from bot import doctor, staff
from bot.cli import main
from bot.settings import get_settings
from sandbox.server import serve
from tests import mastodon_support
from tests.conftest import (
    PUBLIC_BASE_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_FROM,
    TWILIO_TOKEN,
    X_TOKEN,
)
from tests.fakes.graph_api import create_graph_api_app
from tests.mastodon_support import MASTODON_TOKEN, configure_mastodon

mastodon_server = mastodon_support.mastodon_server
mastodon_api = mastodon_support.mastodon_api
CONSOLE_KEY = "doctor-test-console-key-0123456789abcdef"
SECRETS = (TWILIO_TOKEN, TELEGRAM_TOKEN, TELEGRAM_SECRET, CONSOLE_KEY)
LINE = re.compile(r"^(✓ OK  |✗ FAIL|! WARN) (?P<name>[a-z0-9 ]+)(: .*)?$")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def healthy(env, twilio_api, telegram_api, monkeypatch):
    """Every service as it should be: our number, our webhook."""
    twilio_api.config["NUMBERS"].add(TWILIO_FROM)
    telegram_api.config["WEBHOOK"] = {"url": f"{PUBLIC_BASE_URL}/webhooks/telegram"}
    staff.create_user("ada", "a long enough password", "admin")
    monkeypatch.setenv("CONSOLE_SECRET_KEY", CONSOLE_KEY)
    return env


def run(monkeypatch, **changed: str):
    """`intake311 doctor` with these settings changed: its exit code, output and lines."""
    for name, value in changed.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["doctor"])
    checks = {}
    for line in result.output.splitlines():
        found = LINE.match(line)
        if found:
            checks.setdefault(found["name"], []).append(line)
    for secret in SECRETS:
        assert secret not in result.output
    return result, checks


def failing(checks: dict) -> set[str]:
    return {name for name, lines in checks.items() if any("✗ FAIL" in line for line in lines)}


def test_all_good_exits_0_with_every_check_ok(healthy, monkeypatch):
    result, checks = run(monkeypatch)
    print(result.output)
    assert result.exit_code == 0, result.output
    assert failing(checks) == set()
    for name in (
        "settings",
        "database",
        "migrations",
        "redis",
        "open311 services",
        "open311 api key",
        "twilio",
        "twilio from number",
        "telegram",
        "telegram webhook",
        "geocoder",
        "console",
        "handoff",
    ):
        assert checks[name][0].startswith("✓ OK"), result.output
    assert "1 active admin account(s)" in checks["console"][0]
    assert "0 problem(s), 0 warning(s)" in result.output


def test_no_admin_and_no_console_key_are_warnings(healthy, monkeypatch):
    staff.disable("ada")
    monkeypatch.delenv("CONSOLE_SECRET_KEY")
    result, checks = run(monkeypatch, HANDOFF_HOURS="Mon-Fri 08:00-17:00")
    assert result.exit_code == 0, result.output
    assert checks["console"][0].startswith("! WARN") and "no active admin" in result.output
    assert "fix: run `intake311 staff add NAME --role admin`" in result.output
    assert checks["console key"][0].startswith("! WARN")
    assert "staff answer Mon-Fri 08:00-17:00" in checks["handoff"][0]


def assert_fails(result, checks: dict, name: str, fix: str) -> None:
    """The doctor failed, on `name` alone, showing `fix`."""
    assert result.exit_code == 1, result.output
    assert failing(checks) == {name}, result.output
    assert fix in result.output


def test_a_wrong_twilio_token_fails_twilio_and_says_where_to_find_the_right_one(
    healthy, monkeypatch
):
    result, checks = run(monkeypatch, TWILIO_AUTH_TOKEN="wrong-token-0123456789abcdef")
    assert_fails(result, checks, "twilio", "fix: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    assert "wrong-token-0123456789abcdef" not in result.output
    assert checks["telegram"][0].startswith("✓ OK")  # the others still ran


def test_a_suspended_twilio_account_fails_twilio(healthy, twilio_api, monkeypatch):
    twilio_api.config["ACCOUNT_STATUS"] = "suspended"
    result, checks = run(monkeypatch)
    assert_fails(result, checks, "twilio", "reactivate the account")
    assert "the account is suspended" in result.output


def test_a_number_of_another_account_fails_the_sender(healthy, monkeypatch):
    result, checks = run(monkeypatch, TWILIO_FROM_NUMBER="+13125550199")
    assert_fails(result, checks, "twilio from number", "Active numbers")
    assert "+13125550199 is not a number of this account" in result.output


def test_a_messaging_service_is_checked_against_the_account(healthy, twilio_api, monkeypatch):
    ours, theirs = "MG" + "a" * 32, "MG" + "b" * 32
    twilio_api.config["SERVICES"].add(ours)
    result, checks = run(monkeypatch, TWILIO_MESSAGING_SERVICE_SID=ours)
    assert result.exit_code == 0, result.output
    assert checks["twilio messaging service"][0].startswith("✓ OK")
    result, checks = run(monkeypatch, TWILIO_MESSAGING_SERVICE_SID=theirs)
    assert_fails(result, checks, "twilio messaging service", "Messaging, Services")


def test_the_city_on_a_closed_port_fails_open311_with_why(healthy, monkeypatch):
    endpoint = f"http://127.0.0.1:{closed_port()}/open311/v2/"
    result, checks = run(monkeypatch, OPEN311_ENDPOINT=endpoint)
    assert_fails(result, checks, "open311 services", "fix: check OPEN311_ENDPOINT")
    assert "connection refused" in result.output
    assert checks["geocoder"][0].startswith("✓ OK")


def test_a_real_city_without_a_key_fails_the_key(healthy, monkeypatch):
    result, checks = run(monkeypatch, OPEN311_PROFILE="generic")
    assert_fails(result, checks, "open311 api key", "set OPEN311_API_KEY")
    result, checks = run(monkeypatch, OPEN311_API_KEY="city-key-0123456789")
    assert result.exit_code == 0, result.output
    assert "city-key-0123456789" not in result.output


def test_redis_down_fails_redis(healthy, monkeypatch):
    result, checks = run(monkeypatch, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert_fails(result, checks, "redis", "fix: check REDIS_URL")


def test_the_database_down_fails_it_and_never_shows_its_password(healthy, monkeypatch):
    url = f"postgresql://intake:db-password-hunter2@127.0.0.1:{closed_port()}/intake311"
    result, checks = run(monkeypatch, DATABASE_URL=url)
    assert_fails(result, checks, "database", "fix: check DATABASE_URL")
    assert "hunter2" not in result.output
    assert "migrations" not in checks  # nothing to read them from


def test_migrations_not_applied_fail_and_say_migrate(healthy, monkeypatch, tmp_path):
    result, checks = run(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert_fails(result, checks, "migrations", "fix: run `intake311 migrate`")
    assert "not migrated at all; the newest is" in result.output


def test_a_bad_setting_value_is_named_with_what_is_wrong(healthy, monkeypatch):
    result, checks = run(monkeypatch, OPEN311_TIMEOUT="-3", ADMIN_TOKEN="admin-secret-0123456789")
    assert_fails(result, checks, "settings", "fix: correct these variables")
    assert "OPEN311_TIMEOUT: Input should be greater than 0" in result.output
    assert "-3" not in result.output.replace("OPEN311_TIMEOUT", "")


def test_production_problems_fail_production(healthy, monkeypatch):
    result, checks = run(monkeypatch, ENV="production", PUBLIC_BASE_URL="http://intake.example.org")
    assert result.exit_code == 1
    assert "production" in failing(checks)
    assert "PUBLIC_BASE_URL is not HTTPS" in result.output


def test_a_webhook_set_elsewhere_is_a_warning_not_a_failure(healthy, telegram_api, monkeypatch):
    telegram_api.config["WEBHOOK"] = {"url": "https://old.example.org/webhooks/telegram"}
    result, checks = run(monkeypatch)
    assert result.exit_code == 0, result.output
    assert checks["telegram webhook"][0].startswith("! WARN")
    assert "fix: run `intake311 telegram set-webhook`" in result.output


def test_a_wrong_telegram_token_fails_telegram_and_is_never_shown(healthy, monkeypatch):
    wrong = "6000000001:AAF-wrong_token_0123456789abcdefghij"
    result, checks = run(monkeypatch, TELEGRAM_BOT_TOKEN=wrong)
    assert_fails(result, checks, "telegram", "@BotFather")
    assert wrong not in result.output and "AAF-wrong" not in result.output


def test_a_missing_gazetteer_index_fails_the_geocoder(healthy, monkeypatch, tmp_path):
    result, checks = run(
        monkeypatch, GEOCODER="gazetteer", GAZETTEER_FILE=str(tmp_path / "none.sqlite3")
    )
    assert_fails(result, checks, "geocoder", "intake311 gazetteer load")


def test_a_service_that_hangs_fails_its_check_alone_in_time(healthy, twilio_api):
    twilio_api.config["DELAY"] = 3.0
    started = time.monotonic()
    found = list(doctor.run_checks(seconds=1.0))
    assert time.monotonic() - started < 3
    by_name = {check.name: check for check in found}
    assert not by_name["twilio"].ok
    # "within 1 s", or, with an earlier test's call still hanging, "still waiting after 1 s"
    assert by_name["twilio"].detail.startswith("no answer")
    assert "1 s" in by_name["twilio"].detail
    assert by_name["telegram"].ok and by_name["geocoder"].ok


def test_x_and_mastodon_are_checked_with_their_tokens_when_set(
    healthy, x_api, mastodon_server, mastodon_api, monkeypatch
):
    configure_mastodon(monkeypatch, mastodon_server)
    result, checks = run(monkeypatch)
    assert result.exit_code == 0, result.output
    assert checks["x"] == ["✓ OK   x: the app's credentials accepted (0 webhook(s))"]
    assert checks["x webhook"] == ["! WARN x webhook: none registered"]
    assert "fix: run `intake311 x set-webhook`" in result.output
    assert checks["mastodon"][0].startswith("✓ OK")
    assert MASTODON_TOKEN not in result.output and X_TOKEN[1] not in result.output
    result, checks = run(monkeypatch, MASTODON_ACCESS_TOKEN="wrong-mastodon-token-0123456789")
    assert_fails(result, checks, "mastodon", "fix: check MASTODON_BASE_URL")
    assert "wrong-mastodon-token" not in result.output


def test_messenger_is_checked_with_its_page_token_when_set(healthy, monkeypatch):
    page_token, version = "EAAGm0PX4ZCpsBAdoctorpagetoken0123456789abcZZ", "v25.0"
    server = serve(create_graph_api_app(page_token, version))
    try:
        settings = {
            "META_PAGE_TOKEN": page_token,
            "META_APP_SECRET": "5d41402abc4b2a76b9719d911017c592",
            "META_GRAPH_BASE": server.url,
            "META_GRAPH_VERSION": version,
        }
        result, checks = run(monkeypatch, **settings)
        assert result.exit_code == 0, result.output
        assert checks["messenger"][0].startswith("✓ OK   messenger: page ")
        result, checks = run(monkeypatch, META_PAGE_TOKEN="EAAGwrongpagetoken0123456789")
        assert_fails(result, checks, "messenger", "fix: set META_PAGE_TOKEN")
        assert page_token not in result.output and "EAAGwrong" not in result.output
    finally:
        server.stop()


def test_the_whatsapp_sender_and_its_templates_are_checked(healthy, twilio_api, monkeypatch):
    ours = "+13125550199"
    twilio_api.config["NUMBERS"].add(ours)
    templates = {f"WHATSAPP_TEMPLATE_{kind}": "HX" + "a" * 32 for kind in ("FILED", "STATUS")}
    result, checks = run(monkeypatch, TWILIO_WHATSAPP_FROM=f"whatsapp:{ours}", **templates)
    assert result.exit_code == 0, result.output
    assert checks["twilio whatsapp"][0].startswith("✓ OK")
    # Three notices have no template: a warning naming them, not a failure.
    assert checks["whatsapp templates"][0].startswith("! WARN")
    assert "WHATSAPP_TEMPLATE_DELAYED" in checks["whatsapp templates"][0]
    assert "WHATSAPP_TEMPLATE_FILED" not in checks["whatsapp templates"][0]

    result, checks = run(monkeypatch, TWILIO_WHATSAPP_FROM="whatsapp:+13125550177")
    assert result.exit_code == 0, result.output
    assert checks["twilio whatsapp"][0].startswith("! WARN")
    assert "not among the account's phone numbers" in checks["twilio whatsapp"][0]

    result, checks = run(monkeypatch, TWILIO_WHATSAPP_FROM="whatsapp:+14155238886")
    assert "Sandbox for WhatsApp" in checks["twilio whatsapp"][0]
