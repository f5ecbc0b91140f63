"""The emergency check: its phrase trie finds exactly what a plain list of the phrases finds,
and a megabyte of text is read whole, with an emergency at its very end still seen."""

from __future__ import annotations

import random
import re

from conversations.emergency import is_emergency, phrases_pattern
from conversations.language import Language
from tests.conversations.corpus import make_context

LANGUAGES = make_context().languages
WORDS = "the pothole on main street is deep and my car hit it badly "
MEGABYTE = (WORDS * (1_000_000 // len(WORDS) + 1))[:1_000_000]


def _plain(phrases: frozenset[str]) -> re.Pattern:
    """Every phrase as its own alternative: the obvious pattern the trie must agree with."""

    def one(phrase: str) -> str:
        if any("\u3400" <= c <= "\u9fff" for c in phrase):
            return re.escape(phrase)
        return rf"(?<!\w){re.escape(phrase)}(?!\w)"

    return re.compile("|".join(one(p) for p in sorted(phrases, key=len, reverse=True)))


def test_the_trie_finds_exactly_what_the_phrases_listed_one_by_one_find():
    rng = random.Random(16)
    letters = "ab c-é火灾"
    for _ in range(300):
        phrases = frozenset(
            "".join(rng.choice(letters) for _ in range(rng.randint(1, 5))).strip() or "a"
            for _ in range(rng.randint(1, 8))
        )
        trie, plain = phrases_pattern(phrases), _plain(phrases)
        assert trie is not None
        for _ in range(40):
            text = "".join(rng.choice(letters + "!") for _ in range(rng.randint(0, 12)))
            assert bool(trie.search(text)) == bool(plain.search(text)), (phrases, text)


def test_the_trie_keeps_a_phrase_that_begins_another():
    pattern = phrases_pattern(frozenset({"fuego", "fuego grande", "incendio"}))
    assert pattern is not None
    assert pattern.search("hay fuego aqui") and pattern.search("un fuego grande")
    assert not pattern.search("fuegos artificiales") and not pattern.search("incendios")


def test_no_phrases_no_pattern():
    assert phrases_pattern(frozenset()) is None
    assert not is_emergency("hay un bache", {"en": Language()})


def test_the_same_phrases_share_one_compiled_pattern():
    copy = dict(LANGUAGES)  # another mapping holding the same languages
    assert is_emergency("hay un incendio en la casa", copy)
    phrases = frozenset(p for lang in copy.values() for p in lang.words.get("emergency", ()))
    assert phrases_pattern(phrases) is phrases_pattern(frozenset(phrases))


def test_a_megabyte_without_an_emergency_is_read_whole_and_is_none():
    assert not is_emergency(MEGABYTE, LANGUAGES)
    assert not is_emergency(" " * 1_000_000 + "fire hydrant leaking", LANGUAGES)


def test_an_emergency_at_the_end_of_a_megabyte_is_seen():
    assert is_emergency(MEGABYTE + " gas leak", LANGUAGES)
    assert is_emergency(MEGABYTE + " hay un incendio", LANGUAGES)
    assert is_emergency(MEGABYTE + "着火", LANGUAGES)
    assert is_emergency(MEGABYTE + " someone is hurt", LANGUAGES)
    assert is_emergency("x" * 1_000_000 + " call, it is an emergency", LANGUAGES)
