"""`intake311 staff` (issue 20): accounts from the command line, each change audited."""

from __future__ import annotations

import getpass

from click.testing import CliRunner
from sqlmodel import select

from bot import staff
from bot.cli import main
from bot.db import session_scope
from bot.models import StaffUser
from tests.console_support import actions

PASSWORD = "a long enough password"


def run(*args: str, given: str | None = None):
    return CliRunner().invoke(main, list(args), input=given)


def account(username: str) -> StaffUser:
    with session_scope() as session:
        return session.exec(select(StaffUser).where(StaffUser.username == username)).one()


def test_add_the_first_admin_with_the_password_asked_twice(sqlite_env):
    done = run("staff", "add", "ada", "--role", "admin", given=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert "added ada (admin)" in done.output
    assert account("ada").role == "admin"
    assert isinstance(staff.verify("ada", PASSWORD), StaffUser)
    [added] = [a for a in actions() if a.action == "staff-add"]
    assert added.actor == f"cli:{getpass.getuser()}" and added.target == "staff ada"


def test_a_mismatched_or_short_password_adds_nobody(sqlite_env):
    mismatched = run("staff", "add", "ada", given=f"{PASSWORD}\nanother one entirely\n")
    assert mismatched.exit_code != 0
    short = run("staff", "add", "ada", "--password-stdin", given="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    assert staff.list_users() == []


def test_passwd_role_disable_enable_and_list(sqlite_env):
    assert run("staff", "add", "ana", "--password-stdin", given=PASSWORD + "\n").exit_code == 0
    assert account("ana").role == "viewer"
    assert (
        run("staff", "passwd", "ana", "--password-stdin", given="the newer password\n").exit_code
        == 0
    )
    assert isinstance(staff.verify("ana", "the newer password"), StaffUser)
    assert run("staff", "role", "ana", "agent").exit_code == 0
    assert account("ana").role == "agent"
    assert run("staff", "role", "ana", "boss").exit_code == 2  # not a role
    assert run("staff", "disable", "ana").exit_code == 0
    assert isinstance(staff.verify("ana", "the newer password"), staff.Refused)
    listed = run("staff", "list")
    assert "ana" in listed.output and "agent" in listed.output and "disabled" in listed.output
    assert run("staff", "enable", "ana").exit_code == 0
    assert isinstance(staff.verify("ana", "the newer password"), StaffUser)
    assert [a.action for a in actions() if a.target == "staff ana"] == [
        "staff-add",
        "staff-password",
        "signin",  # verify() is a sign-in
        "staff-role",
        "staff-disable",
        "staff-enable",
        "signin",
    ]


def test_changing_an_unknown_account_fails(sqlite_env):
    done = run("staff", "disable", "ghost")
    assert done.exit_code == 1 and "no staff account 'ghost'" in done.output


def test_unlock_lifts_a_lock_and_is_audited(sqlite_env):
    assert run("staff", "add", "ada", given=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    for _ in range(sqlite_env.console_lockout_failures):
        assert isinstance(staff.verify("ada", "wrong password!", "192.0.2.1"), staff.Refused)
    assert staff.verify("ada", PASSWORD, "192.0.2.1") == staff.Refused("locked")
    done = run("staff", "unlock", "ada")
    assert done.exit_code == 0 and "unlocked ada" in done.output
    assert isinstance(staff.verify("ada", PASSWORD, "192.0.2.1"), StaffUser)
    [unlocked] = [a for a in actions() if a.action == "staff-unlock"]
    assert unlocked.actor == f"cli:{getpass.getuser()}" and unlocked.target == "staff ada"
    assert run("staff", "unlock", "nobody").exit_code != 0
