"""Staff sign-in to the console (issue 20): passwords, lockout, sessions, CSRF, roles."""

from __future__ import annotations

import re
import time

import pytest
from sqlmodel import select

from bot import console_sessions, queue, ratelimits, staff
from bot.db import session_scope
from bot.models import StaffUser
from bot.settings import get_settings
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
    locked = sign_in(client(), "ana")  # the right password, refused while locked
    assert locked.status_code == 401 and staff.REFUSAL in locked.get_data(as_text=True)
    assert isinstance(staff.verify("ana", PASSWORD, "127.0.0.1"), staff.Refused)
    assert "signin-locked" in [a.action for a in actions()]
    assert staff.unlock("ana") >= 1  # what `intake311 staff unlock` does
    assert sign_in(client(), "ana").status_code == 302
    assert actions()[-2].action == "staff-unlock"


def test_a_lock_holds_only_for_the_address_that_tried(env):
    account("ana", "viewer")
    for _ in range(get_settings().console_lockout_failures):
        assert sign_in(client(), "ana", "wrong password here").status_code == 401
    assert sign_in(client(), "ana").status_code == 401  # locked from here
    elsewhere = sign_in(client(), "ana", REMOTE_ADDR="198.51.100.7")  # the owner, elsewhere
    assert elsewhere.status_code == 302


def test_many_addresses_lock_the_account_everywhere(env, monkeypatch):
    monkeypatch.setenv("CONSOLE_ACCOUNT_LOCKOUT_FAILURES", "3")
    get_settings.cache_clear()
    account("ana", "viewer")
    for n in range(3):
        wrong = sign_in(client(), "ana", "wrong password here", REMOTE_ADDR=f"198.51.100.{n}")
        assert wrong.status_code == 401
    assert sign_in(client(), "ana", REMOTE_ADDR="203.0.113.5").status_code == 401
    [row] = [a for a in actions() if a.action == "signin-locked"]
    assert "locked for everyone" in row.detail


def test_a_lock_is_audited_as_anonymous_with_the_name_escaped(env):
    typed = "ana\n\u202e" + "x" * 100
    for _ in range(get_settings().console_lockout_failures):
        assert sign_in(client(), typed, "wrong password here").status_code == 401
    [row] = [a for a in actions() if a.action == "signin-locked"]
    assert row.actor == "anonymous"
    assert "\\n" in row.detail and "\n" not in row.detail and "\u202e" not in row.detail
    assert "x" * 60 not in row.detail and "x" * 59 in row.detail  # cut at 64


def test_only_locks_are_audited_and_a_wrong_password_writes_nothing(env):
    account("ana", "viewer")
    before = user("ana")
    count = len(actions())
    assert sign_in(client(), "ana", "wrong password here").status_code == 401
    assert sign_in(client(), "nobody", "wrong password here").status_code == 401
    assert len(actions()) == count  # a typo is no audit row
    after = user("ana")
    assert after.updated_at == before.updated_at  # no write: an unknown name costs the same


def test_a_refused_sign_in_is_logged_and_counted(env, caplog):
    from prometheus_client import REGISTRY

    def counted(outcome: str) -> float:
        found = REGISTRY.get_sample_value("intake311_console_signins_total", {"outcome": outcome})
        return found or 0.0

    account("ana", "viewer")
    refused, ok = counted("refused"), counted("ok")
    secret = "a secret wrong password"
    with caplog.at_level("WARNING"):
        sign_in(client(), "ana", secret)
        sign_in(client(), "nobody", secret)
        sign_in(client(), "ana")
    lines = [r.getMessage() for r in caplog.records if "sign-in refused" in r.getMessage()]
    assert len(lines) == 2 and "(password)" in lines[0] and "(unknown)" in lines[1]
    assert secret not in caplog.text and "127.0.0.1" not in " ".join(lines)
    assert (counted("refused"), counted("ok")) == (refused + 2, ok + 1)
    assert counted("password") == counted("unknown") == 0.0  # which names exist: not here


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


def _sid(browser) -> str:
    from flask.sessions import SecureCookieSessionInterface

    app = browser.application
    cookie = browser.get_cookie("intake311_console", path="/console")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie.value)["sid"]


def test_the_session_lapses_after_the_idle_time(env, monkeypatch):
    monkeypatch.setenv("CONSOLE_IDLE_HOURS", "1")
    get_settings.cache_clear()
    browser = signed_in("ana", "viewer")
    left = console_sessions.ttl(_sid(browser))
    assert 3500 < left <= 3600
    queue.get_redis().delete(f"{console_sessions.PREFIX}:{_sid(browser)}")  # the hour passes
    assert browser.get("/console/").status_code == 302


def test_the_automatic_refresh_is_not_activity(env):
    browser = signed_in("ana", "viewer")
    sid = _sid(browser)
    page = browser.get("/console/").get_data(as_text=True)
    assert 'url=/console/?auto=1"' in page
    queue.get_redis().expire(f"{console_sessions.PREFIX}:{sid}", 100)
    auto = browser.get("/console/?auto=1")
    assert auto.status_code == 200 and "Set-Cookie" not in auto.headers
    assert console_sessions.ttl(sid) <= 100  # the idle clock runs on
    assert browser.get("/console/reports").status_code == 200
    assert console_sessions.ttl(sid) > 3600  # a real request starts it again


def test_a_session_ends_at_its_maximum_age(env):
    browser = signed_in("ana", "viewer")
    hours = get_settings().console_max_session_hours
    started = time.time() - hours * 3600 - 1
    queue.get_redis().hset(f"{console_sessions.PREFIX}:{_sid(browser)}", "signed_in", started)
    assert browser.get("/console/").status_code == 302


def test_signing_out_ends_the_session_on_the_server(env):
    browser = signed_in("ana", "viewer")
    copied = browser.get_cookie("intake311_console", path="/console").value
    assert post(browser, "/console/signout").status_code == 302
    thief = client()
    thief.set_cookie("intake311_console", copied, path="/console")
    assert thief.get("/console/").status_code == 302


def test_sign_out_everywhere_deletes_every_session(env):
    first = signed_in("ana", "viewer")
    second = client()
    sign_in(second, "ana")
    sids = [_sid(first), _sid(second)]
    post(first, "/console/signout", everywhere="1")
    assert [console_sessions.ttl(sid) for sid in sids] == [-2, -2]


def test_every_sign_in_gets_a_new_session_id(env):
    browser = signed_in("ana", "viewer")
    before = _sid(browser)
    assert sign_in(browser, "ana").status_code == 302
    assert _sid(browser) != before and console_sessions.ttl(before) == -2


def test_redis_down_answers_503_and_signs_nobody_in(env, monkeypatch):
    from redis import Redis

    account("ana", "viewer")
    browser = signed_in("ben", "viewer")
    fresh = client()
    token = csrf_token(fresh)
    dead = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    monkeypatch.setattr(queue, "get_redis", lambda url=None: dead)
    monkeypatch.setattr(ratelimits, "_limiters", {})
    answer = fresh.post(
        "/console/signin", data={"username": "ana", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 503 and "Console unavailable" in answer.get_data(as_text=True)
    assert browser.get("/console/").status_code == 503
    monkeypatch.undo()
    assert fresh.get("/console/").status_code == 302  # nobody was signed in


def test_ipv6_clients_are_counted_by_their_64(env, monkeypatch):
    assert ratelimits.client_of("2001:db8::1") == ratelimits.client_of("2001:db8::ffff:1")
    assert ratelimits.client_of("2001:db8::1") != ratelimits.client_of("2001:db8:0:1::1")
    assert ratelimits.client_of("::ffff:192.0.2.1") == "192.0.2.1"
    monkeypatch.setenv("CONSOLE_SIGNIN_LIMIT", "2/minute")
    get_settings.cache_clear()
    for n in (1, 2):
        sign_in(client(), "nobody", "whatever password", REMOTE_ADDR=f"2001:db8::{n}")
    refused = sign_in(client(), "nobody", "whatever password", REMOTE_ADDR="2001:db8::3")
    assert refused.status_code == 429


def test_development_never_derives_the_key_from_the_lookup_key(env):
    from webhooks.console.auth import secret_key

    settings = get_settings().model_copy(update={"console_secret_key": "", "lookup_key": "k" * 32})
    assert secret_key(settings) != secret_key(settings)


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
