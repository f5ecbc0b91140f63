"""The staff console in production (issue 20): HTTPS only, Secure cookies, a signing key."""

from __future__ import annotations

import pytest

from bot import production
from bot.production import problems
from tests.console_support import PASSWORD, account, csrf_token
from tests.test_production import settings as production_settings
from webhooks import create_app

HTTPS = "https://311.example.gov"


@pytest.fixture
def production_client(sqlite_env, monkeypatch):
    """A test client of the app with ENV=production (safe settings) on the test database."""
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)
    settings = production_settings(database_url=sqlite_env.database_url)
    return create_app({"TESTING": True, "SETTINGS": settings}).test_client()


def test_the_console_is_https_only_in_production(production_client):
    assert production_client.get("/console/signin").status_code == 403
    assert production_client.get("/console/").status_code == 403
    assert production_client.get("/console/signin", base_url=HTTPS).status_code == 200


def test_the_session_cookie_is_secure_in_production(production_client):
    account("ana", "viewer")
    token = csrf_token(production_client, HTTPS + "/console/signin")
    done = production_client.post(
        "/console/signin",
        base_url=HTTPS,
        data={"username": "ana", "password": PASSWORD, "csrf_token": token},
        headers={"Referer": HTTPS + "/console/signin"},
    )
    assert done.status_code == 302
    cookie = done.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = production_client.get("/console/", base_url=HTTPS)
    assert page.status_code == 200
    # A browser sends its Referer to our own origin only (flask-wtf's strict check over HTTPS).
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = csrf_token(production_client, HTTPS + "/console/")
    no_referer = production_client.post(
        "/console/signout", base_url=HTTPS, data={"csrf_token": token}
    )
    assert no_referer.status_code == 400


def test_production_refuses_to_start_without_a_long_console_key():
    assert any(
        "CONSOLE_SECRET_KEY is not set" in p
        for p in problems(production_settings(console_secret_key=""))
    )
    assert "CONSOLE_SECRET_KEY is shorter than 32 characters" in problems(
        production_settings(console_secret_key="short")
    )
    assert problems(production_settings()) == []


def test_a_proxy_that_rewrites_host_passes_the_referer_check(sqlite_env, monkeypatch):
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)
    settings = production_settings(database_url=sqlite_env.database_url, trust_proxy=1)
    browser = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    account("ana", "viewer")
    # The app is reached at its internal name; the proxy says which host the browser asked.
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "311.example.gov"}
    internal = "http://app.internal:8000"
    page = browser.get("/console/signin", base_url=internal, headers=proxied)
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    done = browser.post(
        "/console/signin",
        base_url=internal,
        data={"username": "ana", "password": PASSWORD, "csrf_token": token},
        headers={**proxied, "Referer": HTTPS + "/console/signin"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
