"""`intake311 x`: register our Account Activity webhook with X and show its status."""

from __future__ import annotations

import click
import requests
import tweepy  # type: ignore[import-untyped]

from bot.channels import x
from bot.settings import get_settings

# A webhook's fields worth showing, in this order (none of them is a secret).
WEBHOOK_FIELDS = ("id", "url", "valid", "created_at")


@click.group("x")
def x_group() -> None:
    """The X account's webhook (X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN...)."""


@x_group.command("set-webhook")
def set_webhook() -> None:
    """Register PUBLIC_BASE_URL/webhooks/x with X and subscribe the city's account to it."""
    found = _x_api(x.set_webhook)
    click.echo(f"webhook: {found['url']} (id {found['id']})")
    click.echo(f"valid: {_yes(found['valid'])}")
    click.echo(f"account subscribed: {_yes(found['subscribed'])}")
    click.echo(f"set X_WEBHOOK_ID={found['id']} for `intake311 x info`")


@x_group.command("info")
def info() -> None:
    """Show X's view: the app's webhooks and whether the account is subscribed to ours."""
    found = _x_api(x.webhook_info)
    if not found["webhooks"]:
        click.echo("no webhook is registered (run `intake311 x set-webhook`)")
    for hook in found["webhooks"]:
        click.echo(", ".join(f"{name}: {hook[name]}" for name in WEBHOOK_FIELDS if name in hook))
    if found["subscribed"] is not None:
        click.echo(
            f"webhook {found['webhook_id']}: account subscribed: {_yes(found['subscribed'])}"
        )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _x_api(action):
    """Run one registration step; X's refusal becomes a clear error (never a secret)."""
    settings = get_settings()
    try:
        return action(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except tweepy.HTTPException as exc:
        said = "; ".join(str(m) for m in exc.api_messages)[:300]
        raise click.ClickException(f"X refused ({exc.response.status_code}): {said}") from None
    except (tweepy.TweepyException, requests.RequestException) as exc:
        raise click.ClickException(f"X could not be reached: {type(exc).__name__}") from None
