"""Driving the staff console with Flask's test client: staff accounts, sign-in, CSRF tokens."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlmodel import select

from bot import staff
from bot.db import session_scope
from bot.models import StaffAction
from webhooks import create_app

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def client() -> FlaskClient:
    """A test client of a fresh app."""
    return create_app({"TESTING": True}).test_client()


def account(username: str, role: str) -> None:
    """A staff account with PASSWORD."""
    staff.create_user(username, PASSWORD, role)


def csrf_token(browser: FlaskClient, path: str = "/console/signin") -> str:
    """The CSRF token a console page carries in its forms."""
    page = browser.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found[1]


def sign_in(browser: FlaskClient, username: str, password: str = PASSWORD, **environ):
    """POST the sign-in form as a browser would (with its CSRF token)."""
    return browser.post(
        "/console/signin",
        data={"username": username, "password": password, "csrf_token": csrf_token(browser)},
        environ_base=environ,
    )


def signed_in(username: str, role: str) -> FlaskClient:
    """A client signed in to a new account `username` with `role`."""
    account(username, role)
    browser = client()
    assert sign_in(browser, username).status_code == 302
    return browser


def post(browser: FlaskClient, path: str, **fields):
    """POST a console form with the session's CSRF token."""
    token = csrf_token(browser, "/console/")
    return browser.post(path, data={**fields, "csrf_token": token})


def actions() -> list[StaffAction]:
    """Every audit row, oldest first."""
    with session_scope() as session:
        return list(session.exec(select(StaffAction).order_by(StaffAction.id)).all())
