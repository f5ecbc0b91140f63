"""fit() keeps a value whole when it fits without searching, and cuts exactly as the search
does otherwise (SMS segments, or a channel's characters)."""

from __future__ import annotations

import random

from conversations.fitting import MOST, _built, cut, fit
from conversations.segments import cost, measured_in


def _searched(build, value: str, budget: int, keep: int) -> int | None:
    """The longest cut of value (at least `keep`) whose text fits, by binary search alone."""
    low, high = min(keep, len(value)), len(value)
    if cost(_built(build, cut(value, low))) > budget:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if cost(_built(build, cut(value, middle))) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _fit_by_search(build, value: str, budgets: tuple[int, ...], keep: int) -> str:
    for budget in (*budgets, MOST) if budgets[-1] < MOST else budgets:
        length = _searched(build, value, budget, keep)
        if length is not None:
            return _built(build, cut(value, length))
    return _built(build, cut(value, keep))


def test_fit_agrees_with_the_search_on_random_texts():
    rng = random.Random(16)
    alphabet = ["a", "b", " ", ".", "é", "€", "[", "ç", "中", "\U0001f573", "\n"]
    for _ in range(4000):
        letters = rng.sample(alphabet, rng.randint(1, len(alphabet)))

        def text(length: int, letters: list[str] = letters) -> str:
            return "".join(rng.choice(letters) for _ in range(length))

        value = text(rng.choice([0, 3, 10, 30, 60, 100, 150, 200, 300, 400]))
        before, after = text(rng.randint(0, 120)), text(rng.randint(0, 60))

        def build(v: str, before: str = before, after: str = after) -> str:
            return f"{before}{v}{after}."

        budgets = rng.choice([(1,), (2,), (1, 2, 3), (3,), (2, 3)])
        keep = rng.choice([0, 3, 20, 50])
        with measured_in(rng.choice([None, None, 100, 300])):
            expected = _fit_by_search(build, value, budgets, keep)
            assert fit(build, value, budgets, keep) == expected, (before, value, after)


def test_a_value_that_fits_is_kept_whole_and_one_too_long_is_cut():
    def build(v: str) -> str:
        return f"Report: {v}. Reply YES"

    assert fit(build, "deep pothole", budgets=(1,)) == "Report: deep pothole. Reply YES"
    cut_text = fit(build, "deep pothole " * 20, budgets=(1,))
    assert cost(cut_text) == 1 and cut_text.endswith("... Reply YES")
