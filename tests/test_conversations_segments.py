"""Segment counting agrees with the definition: each character's units, parts filled greedily."""

from __future__ import annotations

import random

from conversations.segments import GSM7_BASIC, GSM7_EXTENSION, is_gsm7, segments


def _by_definition(text: str) -> int:
    """Septets (2 for the extension table) or UTF-16 units, 160/153 or 70/67 a part, an escape
    or a surrogate pair never split."""
    gsm = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    if gsm:
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    single, part = (160, 153) if gsm else (70, 67)
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for unit in units:
        if used + unit > part:
            count, used = count + 1, 0
        used += unit
    return count


def test_segments_agree_with_the_definition_on_random_texts():
    rng = random.Random(16)
    alphabets = ["ab ", "ab é\n", "ab€[", "abç", "ab\U0001f44d", "a中\U0001f44d", "a\ud800", "a`"]
    lengths = [0, 1, 69, 70, 71, 134, 135, 153, 159, 160, 161, 306, 307, 320, 460]
    for _ in range(3000):
        letters = rng.choice(alphabets)
        text = "".join(rng.choice(letters) for _ in range(rng.choice(lengths)))
        assert segments(text) == _by_definition(text), text


def test_a_lone_surrogate_counts_one_unit():
    assert not is_gsm7("\ud800")
    assert segments("\ud800" * 70) == 1
    assert segments("\ud800" * 71) == 2
