"""The languages the bot speaks, read from gettext catalogues (.po) with Babel.

The built-in catalogues live in conversations/locales/<code>.po; a city adds a language, or
changes any wording, by putting its own <code>.po in LOCALE_DIR (its entries win). Besides the
texts (msgid: the English text of conversations/texts.py), a catalogue holds entries in these
contexts: "language" (msgid "name": the language's own name), "service" (a catalogue service
name -> the name shown), "words" (a word group -> its words separated by "|"), "synonyms"
(catalogue words -> phrases residents use for them, separated by "|") and "dates" (an English
moment such as "yesterday" -> the language's ways to say it, separated by "|").
"""

from __future__ import annotations

import logging
import string
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import conversations
from conversations import texts
from conversations.language import DATE_PHRASES, ENGLISH, WORD_GROUPS, Language

log = logging.getLogger(__name__)

BUILT_IN = Path(conversations.__file__).parent / "locales"
ORDER = ("en", "es", "zh", "vi", "tl")  # LANGUAGE offers them in this order, then the city's


def english_texts() -> dict[str, str]:
    """The English texts residents see, by constant name."""
    return {
        name: value
        for name, value in vars(texts).items()
        if name.isupper() and isinstance(value, str)
    }


def placeholders(text: str) -> set[str]:
    """The {names} a text is formatted with."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@lru_cache(maxsize=8)
def load_languages(locale_dir: str | None = None) -> dict[str, Language]:
    """Every language of the built-in catalogues and the city's, English first."""
    paths: dict[str, list[Path]] = {}
    for folder in (BUILT_IN, Path(locale_dir) if locale_dir else None):
        if folder and folder.is_dir():
            for path in sorted(folder.glob("*.po")):
                paths.setdefault(path.stem, []).append(path)
    languages = {"en": ENGLISH}
    for code in sorted(paths, key=lambda c: (ORDER.index(c) if c in ORDER else len(ORDER), c)):
        languages[code] = _language(code, paths[code])
    return languages


def _language(code: str, paths: list[Path]) -> Language:
    """One language from its catalogues, later ones overriding earlier ones."""
    name = ""
    messages: dict[str, str] = {}
    services: dict[str, str] = {}
    words: dict[str, frozenset[str]] = {}
    synonyms: dict[str, str] = {}
    dates: dict[str, str] = {}
    for path in paths:
        with path.open("rb") as file:
            catalog: Catalog = read_po(file)
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            msgid, msgstr, context = str(message.id), str(message.string), message.context
            if context is None:
                if placeholders(msgid) != placeholders(msgstr):
                    log.warning(
                        "%s: %r keeps English: its placeholders differ", path.name, msgid[:40]
                    )
                    continue
                messages[msgid] = msgstr
            elif context == "language" and msgid == "name":
                name = msgstr.strip()
            elif context == "service":
                services[msgid] = msgstr.strip()
            elif context == "words" and msgid in WORD_GROUPS:
                words[msgid] = frozenset(_split(msgstr))
            elif context == "synonyms":
                synonyms.update((phrase, msgid) for phrase in _split(msgstr))
            elif context == "dates":
                dates.update((phrase, msgid) for phrase in _split(msgstr))
    return Language(
        code=code,
        name=name or code,
        messages=messages,
        services=services,
        words=words,
        synonyms=synonyms,
        dates=dates,
    )


def _split(listed: str) -> tuple[str, ...]:
    """Words or phrases separated by "|", casefolded, spaces collapsed."""
    return tuple(w for w in (" ".join(p.casefold().split()) for p in listed.split("|")) if w)


def template() -> Catalog:
    """The catalogue template (.pot): every text, the word groups, the language's name."""
    catalog = Catalog(project="intake311", fuzzy=False)
    catalog.add("name", context="language", auto_comments=["The language's own name"])
    for name, text in english_texts().items():
        catalog.add(text, auto_comments=[name])
    for group in WORD_GROUPS:
        catalog.add(group, context="words", auto_comments=["Words that mean this, separated by |"])
    for phrase in DATE_PHRASES:
        catalog.add(
            phrase, context="dates", auto_comments=["Ways to say this moment, separated by |"]
        )
    return catalog
