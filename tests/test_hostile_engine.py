"""The engine's cost is linear and small in a message's length (issue #15): it reads the first
READ_LIMIT characters, so a megabyte costs what a few kilobytes cost, and the description the
city gets is whole up to DESCRIPTION_LIMIT."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import conversations.engine as engine
from conversations import Message, State, step
from conversations.states import DESCRIPTION_LIMIT, READ_LIMIT, StateName
from tests.conversations.corpus import make_context

AT = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
WORDS = "the pothole on main street is deep and my car hit it badly "


def _text(length: int) -> str:
    return (WORDS * (length // len(WORDS) + 1))[:length]


@pytest.fixture
def read(monkeypatch) -> list[int]:
    """The length of every text the emergency patterns were run over."""
    lengths: list[int] = []
    real = engine.is_emergency

    def counting(text, languages):
        lengths.append(len(text))
        return real(text, languages)

    monkeypatch.setattr(engine, "is_emergency", counting)
    return lengths


@pytest.mark.parametrize("state_name", [StateName.IDLE, StateName.DESCRIPTION, StateName.LOCATION])
def test_a_megabyte_reaches_the_engine_as_its_first_read_limit_characters(read, state_name):
    state = State()
    state.name = state_name
    state.draft.service_code, state.draft.service_name = "PTH-001", "Pothole"
    step(state, Message(_text(1_000_000), AT), make_context())
    assert read and max(read) <= READ_LIMIT


def test_a_megabyte_costs_about_what_ten_kilobytes_cost():
    context = make_context()
    step(State(), Message(_text(10_000), AT), context)  # warm the caches

    def cost(length: int) -> float:
        text = _text(length)
        started = time.perf_counter()
        for _ in range(3):
            step(State(), Message(text, AT), context)
        return (time.perf_counter() - started) / 3

    small, large = cost(10_000), cost(1_000_000)
    assert large < 2.0  # about 10 s before the cap
    assert large < max(small, 0.01) * 5


def test_the_description_is_kept_whole_up_to_its_limit():
    assert READ_LIMIT >= DESCRIPTION_LIMIT
    state = State()
    state.name = StateName.DESCRIPTION
    state.draft.service_code, state.draft.service_name = "PTH-001", "Pothole"
    turn = step(state, Message("  " + _text(1_000_000), AT), make_context())
    assert turn.state.draft.description == _text(DESCRIPTION_LIMIT)


def test_an_emergency_in_the_words_read_is_still_seen():
    turn = step(
        State(), Message("gas leak in the basement! " + "x" * 1_000_000, AT), make_context()
    )
    assert "911" in turn.replies[0].text
