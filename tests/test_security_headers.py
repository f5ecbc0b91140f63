"""Security headers on every response; the two pages' inline blocks allowed by hash alone."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from bot import production
from bot.channels.registry import with_webhooks
from tests.test_production import settings as production_settings
from webhooks import create_app
from webhooks.security import content_security_policy

WEBCHAT_SECRET = "webchat-secret-for-the-header-tests-0123456789"
ADMIN_TOKEN = "admin-token-for-the-header-tests-0123456789"
PATHS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/webhooks/webchat/"),
    ("POST", "/webhooks/webchat/session"),
    ("GET", "/admin/failures"),
    ("GET", "/nowhere"),
] + [(method, c.webhook_path or "") for c in with_webhooks() for method in ("GET", "POST")]


@pytest.fixture
def client(sqlite_env, monkeypatch):
    monkeypatch.setenv("WEBCHAT_SECRET", WEBCHAT_SECRET)
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN_TOKEN)
    from bot.settings import get_settings

    get_settings.cache_clear()
    return create_app({"TESTING": True}).test_client()


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: [sources]}."""
    parts = [p.split() for p in response.headers["Content-Security-Policy"].split(";")]
    return {words[0]: words[1:] for words in parts if words}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_response_carries_the_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # development: maybe plain HTTP
    policy = policy_of(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert all(s.startswith("'sha256-") for s in policy["script-src"] + policy["style-src"])


def test_the_web_chat_page_runs_its_script_and_styles_under_the_policy(client):
    response = client.get("/webhooks/webchat/")
    page = response.get_data(as_text=True)
    policy = policy_of(response)
    [script] = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    [style] = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert sha256_source(script) in policy["script-src"]
    assert sha256_source(style) in policy["style-src"]
    # Nothing else a policy of hashes would block: no script file, handler or style attribute.
    assert not re.search(r"<script[^>]+src=|\son[a-z]+=|\sstyle=", page)
    # Its calls go to our own origin (relative URLs), which connect-src allows.
    assert policy["connect-src"] == ["'self'"]
    assert not re.search(r"fetch\(\s*[\"']https?:", script)


def test_the_admin_page_styles_are_allowed(client):
    response = client.get("/admin/failures", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    [style] = re.findall(r"<style>(.*?)</style>", response.get_data(as_text=True), re.DOTALL)
    assert sha256_source(style) in policy_of(response)["style-src"]


def test_an_injected_script_is_not_allowed():
    policy = content_security_policy(["<script>alert(1)</script>"])
    assert sha256_source("alert(2)") not in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


def test_only_the_web_chat_page_may_be_framed_and_only_by_the_city(client, monkeypatch):
    monkeypatch.setenv("WEBCHAT_FRAME_ANCESTORS", "https://www.city.gov")
    from bot.settings import get_settings

    get_settings.cache_clear()
    framed = create_app({"TESTING": True}).test_client()
    page = framed.get("/webhooks/webchat/")
    assert policy_of(page)["frame-ancestors"] == ["https://www.city.gov"]
    assert "X-Frame-Options" not in page.headers
    admin = framed.get("/admin/failures")
    assert policy_of(admin)["frame-ancestors"] == ["'none'"]
    assert admin.headers["X-Frame-Options"] == "DENY"


def test_production_adds_hsts(sqlite_env, monkeypatch):
    monkeypatch.setattr(production, "dotenv_variables", lambda: None)
    app = create_app({"TESTING": True, "SETTINGS": production_settings()})
    response = app.test_client().get("/healthz", base_url="https://311.example.gov")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
