"""Staff sign in over HTTPS only in production, and every retry is in the audit log (issue 15)."""

from __future__ import annotations

import getpass
import logging

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot import production
from bot.cli import main
from bot.db import session_scope
from bot.models import Message, Report, StaffAction
from bot.settings import get_settings
from tests.test_end_to_end import Phone
from tests.test_production import settings as production_settings
from webhooks import create_app

TOKEN = "admin-token-for-the-audit-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def failed_send(env, twilio_api, monkeypatch) -> str:
    """A reply Twilio refused, waiting for staff: its failure's name."""
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    get_settings.cache_clear()
    phone = Phone(create_app({"TESTING": True}).test_client(), twilio_api)
    twilio_api.config["FAIL_TO"] = {phone.number: 21408}
    phone.text("hi")
    twilio_api.config["FAIL_TO"] = {}
    with session_scope() as session:
        failed = session.exec(select(Message).where(Message.status == "failed")).one()
    return f"send:{failed.id}"


def actions() -> list[StaffAction]:
    with session_scope() as session:
        return list(session.exec(select(StaffAction).order_by(StaffAction.id)).all())


def test_a_retry_from_the_page_is_recorded_and_shown(failed_send, caplog):
    caplog.set_level(logging.INFO, logger="bot.audit")
    client = create_app({"TESTING": True}).test_client()
    done = client.post(
        "/admin/failures/retry",
        json={"names": [failed_send, "send:999999"]},
        headers=BEARER,
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert done.get_json()["retried"] == [failed_send]
    [action] = actions()  # what was not failed changed nothing and is not an action
    assert (action.actor, action.action, action.target) == ("admin-token", "retry", failed_send)
    assert action.remote_addr == "203.0.113.7" and action.detail == "send sent back in line"
    assert f"staff admin-token: retry {failed_send}" in caplog.text
    page = client.get("/admin/failures", headers=BEARER).get_data(as_text=True)
    assert "Latest staff actions" in page
    assert f"retry {failed_send}: send sent back in line" in page and "203.0.113.7" in page


def test_a_retry_from_the_command_line_is_recorded(failed_send):
    done = CliRunner().invoke(main, ["failures", "retry", failed_send])
    assert done.exit_code == 0 and "1 sent back in line" in done.output
    [action] = actions()
    assert action.actor == f"cli:{getpass.getuser()}" and action.target == failed_send
    assert action.remote_addr is None


def test_retry_all_records_each_one(failed_send):
    client = create_app({"TESTING": True}).test_client()
    assert client.post("/admin/failures/retry", json={"all": True}, headers=BEARER).get_json() == {
        "retried": [failed_send]
    }
    assert [a.target for a in actions()] == [failed_send]


@pytest.fixture
def production_app(sqlite_env, monkeypatch):
    """The app with ENV=production (safe settings) on the test database."""
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)

    def make(**changes):
        settings = production_settings(
            database_url=sqlite_env.database_url, admin_token=TOKEN, **changes
        )
        return create_app({"TESTING": True, "SETTINGS": settings}).test_client()

    return make


def test_production_takes_the_token_over_https_only(production_app):
    client = production_app()
    plain = client.get("/admin/failures", headers=BEARER)
    assert plain.status_code == 403 and "WWW-Authenticate" not in plain.headers
    assert (
        client.post("/admin/failures/retry", json={"all": True}, headers=BEARER).status_code == 403
    )
    # Not even asked for: no sign-in prompt over plain HTTP.
    assert "WWW-Authenticate" not in client.get("/admin/failures").headers
    secure = client.get("/admin/failures", headers=BEARER, base_url="https://311.example.gov")
    assert secure.status_code == 200


def test_a_proxy_is_believed_only_when_trust_proxy_says_so(production_app):
    forwarded = {**BEARER, "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    assert production_app().get("/admin/failures", headers=forwarded).status_code == 403
    behind = production_app(trust_proxy=1)
    assert behind.get("/admin/failures", headers=forwarded).status_code == 200
    assert behind.get("/admin/failures", headers=BEARER).status_code == 403  # no proxy said https


def test_the_audit_keeps_the_clients_ip_and_nothing_else_a_proxy_header_says(
    failed_send, monkeypatch
):
    monkeypatch.setenv("TRUST_PROXY", "1")
    get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    for given in ("<img src=x onerror=alert(1)>+13125550177", "2001:db8::7"):
        headers = {**BEARER, "X-Forwarded-For": given}
        client.post("/admin/failures/retry", json={"names": [failed_send]}, headers=headers)
        with session_scope() as session:  # given up on again, for the next retry
            session.get(Message, int(failed_send.removeprefix("send:"))).status = "failed"
    assert [a.remote_addr for a in actions()] == ["invalid", "2001:db8::7"]


def test_development_keeps_plain_http_sign_in(failed_send):
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/admin/failures", headers=BEARER).status_code == 200


def test_an_erased_report_is_not_filed_again_and_says_why(env, monkeypatch):
    """A rejected report whose resident asked to be forgotten has nothing left to file."""
    from bot.forget import forget_address
    from tests.test_retention import report, resident

    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    get_settings.cache_clear()
    rejected = report(
        resident("+13125550177", aged=False),
        state="rejected",
        last_error="400: phone +13125550177 is not valid",  # a city's refusal may quote it
    )
    forget_address("tel:+13125550177", actor="cli:test")
    name = f"report:{rejected}"
    done = CliRunner().invoke(main, ["failures", "retry", name])
    assert done.exit_code != 0 and "was erased" in done.output
    client = create_app({"TESTING": True}).test_client()
    answer = client.post("/admin/failures/retry", json={"names": [name]}, headers=BEARER)
    assert answer.status_code == 200
    assert answer.get_json()["retried"] == [] and "was erased" in answer.get_json()["refused"][name]
    assert (
        client.post("/admin/failures/retry", json={"all": True}, headers=BEARER).status_code == 200
    )
    with session_scope() as session:
        kept = session.get(Report, rejected)
        assert kept.state == "rejected" and kept.last_error is None


def test_marking_a_report_filed_is_a_staff_action(env):
    from tests.test_retention import report, resident

    waiting = report(resident("+13125550178", aged=False), state="unconfirmed")
    done = CliRunner().invoke(main, ["failures", "filed", f"report:{waiting}", "2026-000123"])
    assert done.exit_code == 0, done.output
    [action] = [a for a in actions() if a.action == "filed"]
    assert action.target == f"report:{waiting}"
    assert action.detail == "found at the city as 2026-000123"
    assert action.actor == f"cli:{getpass.getuser()}"
