"""`intake311 mastodon`: which account the bot posts as, and how far its mentions were read."""

from __future__ import annotations

import click
from mastodon.errors import MastodonError

from bot.channels import mastodon
from bot.settings import get_settings


@click.group("mastodon")
def mastodon_group() -> None:
    """The city's Mastodon account (MASTODON_BASE_URL, MASTODON_ACCESS_TOKEN).

    Mastodon calls no webhook for a mention, so there is no set-webhook here: the scheduler
    (`intake311 cron`) reads the account's mentions every MASTODON_POLL_SECONDS.
    """


@mastodon_group.command("info")
def info() -> None:
    """Show the account the bot posts as, its instance, its notifications policy, and the last
    mention read."""
    settings = get_settings()
    try:
        found = mastodon.account_info(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except MastodonError as exc:
        error = mastodon.poll_error(exc, settings)
        raise click.ClickException(f"Mastodon refused: {error}") from None
    for field in ("instance", "account", "account_id", "bot", "url"):
        click.echo(f"{field}: {found[field]}")
    policy = found["notifications_policy"] or "(none: the instance is older than Mastodon 4.3)"
    click.echo(f"notifications policy: {policy}")
    if "=drop" in policy:
        click.echo(
            "warning: the policy drops some notifications: those mentions are never read "
            "(set them to accept or filter: filtered ones are read)"
        )
    click.echo(f"last notification read (cursor): {_cursor()}")
    click.echo(f"polled every: {settings.mastodon_poll_seconds:g} s (by `intake311 cron`)")


def _cursor() -> str:
    """The poll cursor kept in Redis, or why it cannot be shown."""
    from redis.exceptions import RedisError

    from bot.jobs.polling import cursor_key
    from bot.queue import get_redis

    try:
        value = get_redis().get(cursor_key(mastodon.NAME))
    except RedisError:
        return "(Redis cannot be reached)"
    return value.decode() if value else "none yet (the first poll reads the newest page)"
