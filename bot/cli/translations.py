"""`intake311 translations`: the catalogue template, and catalogues brought up to date."""

from __future__ import annotations

from pathlib import Path

import click
from babel.messages.pofile import read_po, write_po

from bot.languages import BUILT_IN, load_languages, template

KEPT_CONTEXTS = ("service", "synonyms")  # entries a catalogue adds beyond the template


@click.group("translations")
def translations() -> None:
    """Message catalogues (gettext .po files) for the languages the bot speaks."""


@translations.command("update")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=BUILT_IN,
    show_default=True,
    help="Where messages.pot and the <code>.po files are.",
)
def update(folder: Path) -> None:
    """Write messages.pot and add new texts (untranslated) to every catalogue in the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pot = template()
    with (folder / "messages.pot").open("wb") as file:
        write_po(file, pot, width=100, omit_header=False)
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as file:
            catalog = read_po(file)
        catalog.update(pot, no_fuzzy_matching=True, update_header_comment=False)
        for message in list(catalog.obsolete.values()):
            if message.context in KEPT_CONTEXTS:  # the catalogue's own entries, not the template's
                catalog.add(
                    message.id,
                    message.string,
                    context=message.context,
                    auto_comments=message.auto_comments,
                )
        catalog.obsolete.clear()
        with path.open("wb") as file:
            write_po(file, catalog, width=100)
        click.echo(f"updated {path.name}")


@translations.command("list")
@click.option(
    "--folder",
    type=click.Path(file_okay=False),
    default=None,
    help="The city's own catalogues (LOCALE_DIR), if any.",
)
def list_languages(folder: str | None) -> None:
    """The languages the bot speaks and how much of each is translated."""
    wanted = {str(m.id) for m in template() if m.id and m.context is None}
    for code, language in load_languages(folder).items():
        done = len(wanted & set(language.messages)) if code != "en" else len(wanted)
        click.echo(
            f"{code}\t{language.name}\t{done}/{len(wanted)} texts, "
            f"{len(language.services)} service names, {len(language.synonyms)} phrases"
        )
