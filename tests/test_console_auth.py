"""Staff sign-in to the console (issue 20): passwords, lockout, sessions, CSRF, roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from bot import staff
from bot.db import session_scope
from bot.models import StaffUser
from bot.settings import get_settings
from bot.timeutil import utcnow
from tests.console_support import (
    PASSWORD,
    account,
    actions,
    client,
    csrf_token,
    post,
    sign_in,
    signed_in,
)


def user(username: str) -> StaffUser:
    with session_scope() as session:
        return session.exec(select(StaffUser).where(StaffUser.username == username)).one()


def test_a_good_password_signs_in_and_names_the_user(env):
    account("ana", "agent")
    browser = client()
    done = sign_in(browser, "ana")
    assert done.status_code == 302 and done.headers["Location"].endswith("/console/")
    page = browser.get("/console/").get_data(as_text=True)
    assert "<h1>Conversations</h1>" in page and "ana" in page and "agent" in page
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert user("ana").last_signin_at is not None
    assert [(a.actor, a.action) for a in actions()][-1] == ("ana", "signin")


def test_the_password_is_hashed_with_argon2id(env):
    account("ana", "viewer")
    stored = user("ana").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_short_password_is_refused(env):
    with pytest.raises(staff.StaffError, match="at least 12"):
        staff.create_user("bob", "short", "viewer")


def test_wrong_password_and_unknown_user_get_the_same_answer(env):
    account("ana", "viewer")
    wrong = sign_in(client(), "ana", "not the password at all")
    unknown = sign_in(client(), "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    said = [
        re.search(r'id="signin-error"[^>]*>([^<]*)<', a.get_data(as_text=True))[1]
        for a in (wrong, unknown)
    ]
    assert said[0] == said[1] == staff.REFUSAL
    assert client().get("/console/").status_code == 302  # not signed in


def test_lockout_after_failures_in_a_row(env):
    account("ana", "viewer")
    failures = get_settings().console_lockout_failures
    for _ in range(failures):
        assert sign_in(client(), "ana", "wrong password here").status_code == 401
    assert user("ana").locked_until > utcnow()
    locked = sign_in(client(), "ana")  # the right password, refused while locked
    assert locked.status_code == 401 and staff.REFUSAL in locked.get_data(as_text=True)
    assert isinstance(staff.verify("ana", PASSWORD), staff.Refused)
    assert "signin-locked" in [a.action for a in actions()]
    with session_scope() as session:  # the lock's time passes
        row = session.exec(select(StaffUser).where(StaffUser.username == "ana")).one()
        row.locked_until = utcnow() - timedelta(seconds=1)
    assert sign_in(client(), "ana").status_code == 302


def test_sign_in_is_limited_per_client_address(env, monkeypatch):
    monkeypatch.setenv("CONSOLE_SIGNIN_LIMIT", "3/minute")
    get_settings.cache_clear()
    browser = client()
    for _ in range(3):
        assert sign_in(browser, "nobody", "whatever password").status_code == 401
    assert sign_in(browser, "nobody", "whatever password").status_code == 429
    other = client()  # another address is not limited by this one's tries
    other_try = sign_in(other, "nobody", "whatever password", REMOTE_ADDR="198.51.100.9")
    assert other_try.status_code == 401


def test_a_disabled_account_is_refused_at_once(env):
    browser = signed_in("ana", "agent")
    assert browser.get("/console/").status_code == 200
    staff.disable("ana")
    assert browser.get("/console/").status_code == 302  # this very session ends
    assert sign_in(client(), "ana").status_code == 401


def test_a_new_epoch_ends_the_session(env):
    browser = signed_in("ana", "viewer")
    staff.sign_out_everywhere(user("ana").id)
    assert browser.get("/console/reports").status_code == 302


def test_sign_out_everywhere_ends_other_sessions(env):
    first = signed_in("ana", "viewer")
    second = client()
    assert sign_in(second, "ana").status_code == 302
    assert post(first, "/console/signout", everywhere="1").status_code == 302
    assert first.get("/console/").status_code == 302
    assert second.get("/console/").status_code == 302
    assert "signout-everywhere" in [a.action for a in actions()]


def test_sign_out_ends_only_this_session(env):
    first = signed_in("ana", "viewer")
    second = client()
    sign_in(second, "ana")
    assert post(first, "/console/signout").status_code == 302
    assert first.get("/console/").status_code == 302
    assert second.get("/console/").status_code == 200


def test_a_new_password_ends_sessions(env):
    browser = signed_in("ana", "viewer")
    staff.set_password("ana", "another good password")
    assert browser.get("/console/").status_code == 302
    assert sign_in(client(), "ana", "another good password").status_code == 302


def test_a_role_change_applies_at_the_next_request(env, monkeypatch):
    browser = signed_in("ana", "admin")
    assert browser.get("/console/staff").status_code == 200
    staff.set_role("ana", "viewer")
    assert browser.get("/console/staff").status_code == 403


def test_a_post_without_the_csrf_token_is_refused(env):
    account("ana", "viewer")
    browser = client()
    refused = browser.post("/console/signin", data={"username": "ana", "password": PASSWORD})
    assert refused.status_code == 400 and "<h1>Form refused</h1>" in refused.get_data(as_text=True)
    signed = client()
    sign_in(signed, "ana")
    assert signed.post("/console/signout").status_code == 400
    assert signed.get("/console/").status_code == 200  # still signed in
    wrong = signed.post("/console/signout", data={"csrf_token": "forged"})
    assert wrong.status_code == 400


def test_the_csrf_token_belongs_to_the_session(env):
    account("ana", "viewer")
    token = csrf_token(client())  # another browser's token
    refused = client().post(
        "/console/signin", data={"username": "ana", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 400


def test_the_session_lapses_after_the_idle_time(env, monkeypatch):
    monkeypatch.setenv("CONSOLE_IDLE_HOURS", "1")
    get_settings.cache_clear()
    browser = signed_in("ana", "viewer")
    cookie = browser.get_cookie("intake311_console", path="/console")
    assert cookie is not None and cookie.expires is not None
    lifetime = cookie.expires - utcnow()
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)


def test_the_signed_out_are_sent_to_sign_in(env):
    for path in ["/console/", "/console/reports", "/console/failures", "/console/staff"]:
        answer = client().get(path)
        assert answer.status_code == 302 and "/console/signin" in answer.headers["Location"]


def test_a_sign_in_goes_back_only_to_console_pages(env):
    account("ana", "viewer")
    browser = client()
    token = csrf_token(browser)
    fields = {"username": "ana", "password": PASSWORD, "csrf_token": token}
    done = browser.post("/console/signin", data={**fields, "next": "https://evil.example/"})
    assert done.headers["Location"].endswith("/console/")
    browser = client()
    fields["csrf_token"] = csrf_token(browser)
    done = browser.post("/console/signin", data={**fields, "next": "/console/reports"})
    assert done.headers["Location"].endswith("/console/reports")


def test_every_refusal_spends_one_password_check(env, monkeypatch):
    # The same work whatever the cause, so timing does not tell which usernames exist.
    account("ana", "viewer")
    account("old", "viewer")
    staff.disable("old")
    from argon2 import PasswordHasher

    checks = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002  (argon2's own name)
            checks.append(1)
            return super().verify(hash, password)

    counting = Counting()
    monkeypatch.setattr(staff, "hasher", lambda: counting)
    for username, password in [
        ("ana", "a wrong password"),
        ("nobody", "a wrong password"),
        ("old", PASSWORD),
        ("not a valid name!", PASSWORD),
    ]:
        checks.clear()
        assert isinstance(staff.verify(username, password), staff.Refused)
        assert len(checks) == 1, username


def test_an_outdated_hash_is_renewed_at_sign_in(env):
    from argon2 import PasswordHasher

    account("ana", "viewer")
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with session_scope() as session:
        row = session.exec(select(StaffUser).where(StaffUser.username == "ana")).one()
        row.password_hash = weaker.hash(PASSWORD)
    assert staff.hasher().check_needs_rehash(user("ana").password_hash)
    assert isinstance(staff.verify("ana", PASSWORD), StaffUser)
    assert not staff.hasher().check_needs_rehash(user("ana").password_hash)
