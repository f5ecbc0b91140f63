"""`intake311 figures`: the day's figures (bot.figures) as text or JSON."""

from __future__ import annotations

import json
from datetime import date

import click


def _day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("give the day as YYYY-MM-DD") from None


@click.command("figures")
@click.option("--day", callback=_day, metavar="YYYY-MM-DD", help="Default: today in CITY_TIMEZONE.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def figures(day: date | None, as_json: bool) -> None:
    """The day's figures: reports by channel, service and hour, completion rate, medians."""
    from bot.figures import day_figures

    found = day_figures(day)
    if as_json:
        click.echo(json.dumps(found.to_dict(), sort_keys=True))
        return
    for line in render(found):
        click.echo(line)


def render(found) -> list[str]:
    """The figures as lines of text."""
    lines = [f"figures for {found.day.isoformat()}"]
    lines.append(f"{found.reports} report(s)")
    for title, counts in (("by channel", found.by_channel), ("by service", found.by_service)):
        if counts:
            lines.append(f"{title}:")
            lines += [f"{count:>7}  {name}" for name, count in counts.items()]
    rate = "-" if found.completion_rate is None else f"{found.completion_rate:.0%}"
    lines.append(
        f"{found.conversations_started} conversation(s) began a report, "
        f"{found.completed} ended with one (completion {rate})"
    )
    lines.append(f"median messages per report: {_number(found.median_messages_per_report)}")
    lines.append(f"median time to the request number: {_duration(found.median_seconds_to_number)}")
    lines.append("by hour: " + " ".join(f"{h:02d}:{n}" for h, n in enumerate(found.by_hour) if n))
    return lines


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
