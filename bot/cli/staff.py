"""`intake311 staff`: the console's staff accounts (add, passwd, role, disable, enable, unlock,
list)."""

from __future__ import annotations

import getpass
import sys

import click

from bot.staff import ROLES


def _acting() -> None:
    from bot import audit

    audit.acting_as(audit.Staff(f"cli:{getpass.getuser()}"))


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or asked twice on the terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _apply(change, *args) -> None:
    from bot.staff import StaffError

    _acting()
    try:
        change(*args)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("staff")
def staff_group() -> None:
    """The staff console's accounts (each change is in the audit log)."""


@staff_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def add(username: str, role: str, password_stdin: bool) -> None:
    """Add a staff account (the first admin: `intake311 staff add NAME --role admin`)."""
    from bot import staff

    _apply(staff.create_user, username, _password(password_stdin), role)
    click.echo(f"added {username} ({role})")


@staff_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def passwd(username: str, password_stdin: bool) -> None:
    """Set a new password (lifts a lockout, ends the account's sessions)."""
    from bot import staff

    _apply(staff.set_password, username, _password(password_stdin))
    click.echo(f"new password set for {username}")


@staff_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def role(username: str, role: str) -> None:
    """Change an account's role."""
    from bot import staff

    _apply(staff.set_role, username, role)
    click.echo(f"{username} is now {role}")


@staff_group.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account (its sessions end at once)."""
    from bot import staff

    _apply(staff.disable, username)
    click.echo(f"disabled {username}")


@staff_group.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Enable a disabled account again."""
    from bot import staff

    _apply(staff.enable, username)
    click.echo(f"enabled {username}")


@staff_group.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift the account's sign-in locks (from every address) now."""
    from bot import staff

    _apply(staff.unlock, username)
    click.echo(f"unlocked {username}")


@staff_group.command("list")
def list_accounts() -> None:
    """Every staff account: name, role, status, last sign-in."""
    from bot import staff

    users = staff.list_users()
    for user in users:
        status = "active" if user.active else "disabled"
        last = f"{user.last_signin_at:%Y-%m-%d %H:%M}" if user.last_signin_at else "never"
        click.echo(f"{user.username:<24} {user.role:<7} {status:<9} last sign-in {last}")
    click.echo(f"{len(users)} account(s)")
