"""`intake311 doctor`: print bot/doctor/'s checks, one line each; exit 1 on any problem."""

from __future__ import annotations

import sys

import click


@click.command()
def doctor() -> None:
    """Check every setting and reach every configured service; exit 1 on any problem."""
    from bot.doctor import run_checks

    problems = warnings = 0
    for check in run_checks():
        mark = "✗ FAIL" if not check.ok else "! WARN" if check.warning else "✓ OK  "
        click.echo(f"{mark} {check.name}" + (f": {check.detail}" if check.detail else ""))
        if check.fix and (not check.ok or check.warning):
            click.echo(f"       fix: {check.fix}")
        problems += not check.ok
        warnings += check.warning
    click.echo(f"\n{problems} problem(s), {warnings} warning(s)")
    if problems:
        sys.exit(1)
