"""`intake311 messenger`: subscribe the page to our app's webhook and show what Meta has.

The callback URL and verify token themselves are set in the app's dashboard (Messenger,
Webhooks: "Callback URL" and "Verify token"), or with `POST /{app-id}/subscriptions` and an app
token ("Webhooks for Messenger", https://developers.facebook.com/docs/graph-api/webhooks/
getting-started/webhooks-for-messenger): the page token cannot. `set-webhook` subscribes the
page to the app's fields (`POST /{page-id}/subscribed_apps`) and prints the URL to configure;
no token is ever printed.
"""

from __future__ import annotations

import click

from bot.channels import graph_api, messenger
from bot.settings import get_settings


@click.group("messenger")
def messenger_group() -> None:
    """The Messenger page's webhook (META_PAGE_TOKEN, META_APP_SECRET, META_VERIFY_TOKEN)."""


@messenger_group.command("set-webhook")
def set_webhook() -> None:
    """Subscribe the page to messages, postbacks and deliveries; print the callback URL."""
    settings = get_settings()
    url = _graph(messenger.webhook_url, settings)
    found = _graph(messenger.subscribe, settings)
    click.echo(f"page subscribed: {found.get('name', '')} ({found.get('id', '')})")
    click.echo(f"fields: {', '.join(messenger.SUBSCRIBED_FIELDS)}")
    click.echo(
        f"callback URL to set in the app's dashboard (Messenger, Webhooks): {url}\n"
        "verify token: the value of META_VERIFY_TOKEN (not shown)"
    )


@messenger_group.command("info")
def info() -> None:
    """Show the page the token is for and the apps (and fields) it is subscribed to."""
    settings = get_settings()
    found = _graph(messenger.page, settings)
    click.echo(f"page: {found.get('name', '')} ({found.get('id', '')})")
    apps = _graph(messenger.subscriptions, settings)
    if not apps:
        click.echo("no app is subscribed (run `intake311 messenger set-webhook`)")
    for app in apps:
        fields = app.get("subscribed_fields") or []
        names = ", ".join(str(f) for f in fields) if isinstance(fields, list) else ""
        click.echo(f"app: {app.get('name', '')} ({app.get('id', '')}): {names}")
    if settings.public_base_url:
        click.echo(f"our callback URL: {messenger.webhook_url(settings)}")


def _graph(call, settings):
    """Make one Graph API call for a command; a refusal becomes a clear error, token redacted."""
    try:
        return call(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except graph_api.GraphError as exc:
        raise click.ClickException(graph_api.redact(f"Meta refused: {exc}", settings)) from None
