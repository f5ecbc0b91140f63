"""Reading picks from a list of values: by number ("2", "1 3", "1, 2 & 4") or by name."""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process, utils

from .answers import number, yes_or_no
from .language import ENGLISH, Language
from .matching import STOPWORDS, stem
from .synonyms import expand
from .types import Choice

FUZZY_CUTOFF = 80  # similarity (ratio) a typed name needs to be taken for a value's name
FUZZY_MARGIN = 5  # and how far ahead of the next value it must be
_NUMBERS = re.compile(r"#?\d{1,3}")
_SEPARATORS = re.compile(r"\s*(?:[,;&/+]|\band\b|\bplus\b)\s*", re.IGNORECASE)
_PICK = r"#?\d{1,3}[.)]?"
_NUMBERS_ONLY = re.compile(
    rf"\s*{_PICK}(?:\s*(?:[,;&/+\s]|\band\b|\bplus\b)\s*{_PICK})*\s*", re.IGNORECASE
)
_ALL = frozenset({"all", "all of them", "all of the above", "everything", "all of these"})


def parse_choice(
    text: str, values: tuple[Choice, ...], say: Language = ENGLISH, loose: bool = True
) -> str | None:
    """The key of the value picked by number or name; None when unclear or out of range.

    `loose` also takes the one value sharing a word with the answer ("trash bags").
    """
    picked = number(text)
    if picked is not None:
        return values[picked - 1].key if 1 <= picked <= len(values) else None
    return _by_name(text, values, say, loose)


def parse_choices(
    text: str, values: tuple[Choice, ...], say: Language = ENGLISH
) -> list[str] | None:
    """The keys of the values picked, in the list's order (ALL: every one); None when unclear."""
    if " ".join(text.casefold().strip(" .!").split()) in _ALL:
        return [value.key for value in values] or None
    whole = parse_choice(text, values, say, loose=False)  # a part may share a word by chance
    if whole is not None:
        return [whole]
    if _NUMBERS_ONLY.fullmatch(text):
        picks = [int(found.lstrip("#")) for found in _NUMBERS.findall(text)]
        if not all(1 <= pick <= len(values) for pick in picks):
            return None
        indexes = set(pick - 1 for pick in picks)
    else:
        indexes = set()
        for part in _SEPARATORS.split(text.strip()):
            if not part:
                continue
            key = parse_choice(part, values, say)
            if key is None:
                return None
            indexes.add(next(i for i, value in enumerate(values) if value.key == key))
    return [values[i].key for i in sorted(indexes)] or None


def _by_name(text: str, values: tuple[Choice, ...], say: Language, loose: bool) -> str | None:
    """The value whose name the text says: exactly, as a unique start, a yes/no, or fuzzily."""
    said = utils.default_process(text)
    if not said:
        return None
    names = [utils.default_process(value.name) for value in values]
    for matches in (
        [i for i, name in enumerate(names) if name == said],
        [i for i, name in enumerate(names) if name.startswith(said)],
    ):
        if len(matches) == 1:
            return values[matches[0]].key
    answer = yes_or_no(text, say)
    if answer is not None:
        matches = [i for i, value in enumerate(values) if yes_or_no(value.name) is answer]
        if len(matches) == 1:
            return values[matches[0]].key
    scored = process.extract(
        text,
        [value.name for value in values],
        scorer=fuzz.ratio,
        processor=utils.default_process,
        limit=2,
    )
    if (
        scored
        and scored[0][1] >= FUZZY_CUTOFF
        and (len(scored) == 1 or scored[0][1] - scored[1][1] >= FUZZY_MARGIN)
    ):
        return values[scored[0][2]].key
    return _by_words(said, values, say) if loose else None


def _by_words(said: str, values: tuple[Choice, ...], say: Language) -> str | None:
    """The one value sharing a word with the answer, everyday words first put in catalogue
    terms ("a bunch of trash bags" -> Bags of trash, "couch" -> Furniture...)."""
    said = f"{said} {expand(said, say.synonyms)}"  # both: "garbage" is also "trash"
    words = {stem(w) for w in said.split() if w not in STOPWORDS}
    if not words:
        return None
    matches = [
        value
        for value in values
        if words & {stem(w) for w in utils.default_process(value.name).split()}
    ]
    return matches[0].key if len(matches) == 1 else None
