"""`intake311 duplicates`: the city's open requests known for the nearby look-up, and follows."""

from __future__ import annotations

import click


@click.command("duplicates")
def duplicates() -> None:
    """The city's open requests known (by service), offered to residents about to file the same
    problem nearby, and the follows recorded (active / total)."""
    from bot.db import session_scope
    from bot.duplicates import counts
    from bot.settings import get_settings

    settings = get_settings()
    with session_scope() as session:
        found = counts(session)
    if "*" in settings.duplicates_off():
        click.echo("the check for duplicates is off (DUPLICATE_SERVICES_OFF=*)")
    for code, name, count in found.open_by_service:
        click.echo(f"{count:>7}  {code}" + (f"  {name}" if name and name != code else ""))
    total = sum(count for _, _, count in found.open_by_service)
    click.echo(f"{total} open request(s) known")
    click.echo(f"{found.follows_active} follow(s) active, {found.follows_total} recorded")
