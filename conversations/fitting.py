"""Shortening a value inside a text so the whole text fits a budget: SMS segments, or messages
on a channel with a length of its own (segments.cost)."""

from __future__ import annotations

from collections.abc import Callable

from .segments import cost
from .texts import ELLIPSIS


def cut(value: str, length: int) -> str:
    """The value shortened to at most `length` characters, ending in "..." when cut."""
    if len(value) <= length:
        return value
    if length <= len(ELLIPSIS):
        return ELLIPSIS[:length]
    return value[: length - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _built(build: Callable[[str], str], value: str) -> str:
    """build(value), without a full stop doubled onto a cut value's "..."."""
    text = build(value)
    return text.replace(ELLIPSIS + ".", ELLIPSIS) if value.endswith(ELLIPSIS) else text


def _longest(build: Callable[[str], str], value: str, budget: int, keep: int) -> int | None:
    """The longest cut of value (at least `keep` long) whose text fits budget, or None."""
    low, high = min(keep, len(value)), len(value)
    if cost(_built(build, cut(value, low))) > budget:
        return None
    # A cut value costs no more than a longer one (its end becomes "...", never more units,
    # never a character outside GSM-7), so when the whole value fits it is the longest: most
    # values (a short description, an address) are settled by this one look.
    if low < high and cost(_built(build, value)) <= budget:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if cost(_built(build, cut(value, middle))) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


MOST = 3  # segments no reply may exceed, in any language


def fit(
    build: Callable[[str], str], value: str, budgets: tuple[int, ...] = (1, 2, 3), keep: int = 20
) -> str:
    """build(value), cutting value so the text fits the smallest budget that keeps `keep` chars.

    When no budget fits (a long translation), the most a reply may take is tried last.
    """
    for budget in (*budgets, MOST) if budgets[-1] < MOST else budgets:
        length = _longest(build, value, budget, keep)
        if length is not None:
            return _built(build, cut(value, length))
    return _built(build, cut(value, keep))
