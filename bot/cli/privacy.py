"""`intake311 forget ADDRESS` and `intake311 keys`: residents' data, erased and kept secret."""

from __future__ import annotations

import getpass

import click


@click.command("forget")
@click.argument("address")
def forget(address: str) -> None:
    """Erase everything kept about the resident at ADDRESS (tel:+1..., whatsapp:+1...,
    telegram:123, webchat:SESSION, or a number with its country code, +1 312 555 0142, which
    is the resident on SMS and on WhatsApp), as their DELETE MY DATA would; recorded in the
    staff audit log."""
    from bot.forget import addresses_typed, forget_address

    try:
        typed = addresses_typed(address)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    found = False
    for one in typed:
        erased = forget_address(one, actor=f"cli:{getpass.getuser()}")
        if erased is not None:
            found = True
            click.echo(f"forgotten on {one.partition(':')[0]}: {erased}")
    if not found:
        raise click.ClickException("no resident is known at that address")


@click.group("keys")
def keys_group() -> None:
    """The keys of residents' data at rest (ENCRYPTION_KEYS, LOOKUP_KEY)."""


@keys_group.command("new")
@click.option("--lookup", is_flag=True, help="A LOOKUP_KEY instead of an ENCRYPTION_KEYS key.")
def new_key(lookup: bool) -> None:
    """Print a new key: put it first in ENCRYPTION_KEYS (comma-separated, newest first)."""
    import secrets

    from bot.personal_data import new_encryption_key

    click.echo(secrets.token_urlsafe(32) if lookup else new_encryption_key())


@keys_group.command("rotate")
@click.option(
    "--rehash",
    is_flag=True,
    help="Also hash every contact's address again under LOOKUP_KEY (after changing it, with "
    "the web and workers stopped).",
)
def rotate(rehash: bool) -> None:
    """Re-encrypt every stored address, phone and email under the first ENCRYPTION_KEYS key."""
    from bot.cli import _start
    from bot.keys import rotate_all

    _start("keys rotate")  # never re-encrypt under a missing or development key in production
    done = rotate_all(rehash=rehash)
    click.echo(f"{done.values} value(s) re-encrypted under the newest key")
    if rehash:
        click.echo(
            f"{done.rehashed} contact(s) rehashed; {done.not_rehashed} kept only as an "
            "opt-out (no address to hash again) keep their old hash"
        )
