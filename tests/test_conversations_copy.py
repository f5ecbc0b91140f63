"""State.copy shares nothing mutable with the state it copies, whatever fields Draft grows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from conversations import step
from conversations.types import ContactDetails, Draft, NearbyRequest, Place, Snapshot, State
from tests.conversations import corpus

OPENED = datetime(2026, 12, 1, tzinfo=UTC)
IMMUTABLE = (str, int, float, bool, type(None), Place, NearbyRequest)


def _full_draft(depth: int = 2) -> Draft:
    """A draft with every field set to something other than its default."""
    draft = Draft(
        service_code="PTH-001",
        service_name="Pothole",
        description="deep hole",
        contact=ContactDetails("217-555-0188", "ana@example.com"),
        place=Place("120 Main St", 39.8, -89.6),
        pin=Place("", 39.8, -89.6),
        photo_place=Place("Elm St & 3rd St", 39.81, -89.64),
        candidates=[
            Place("1 Oak Ave, Springfield", 39.8, -89.6),
            Place("1 Oak Ave, Shelbyville", 39.4, -88.8),
        ],
        media=["photo-1"],
        question="DEPTH",
        answers={"DEPTH": "2", "SIDES": ["a", "b"], "SKIPPED": None},
        details=True,
        editing=True,
        said="pothole",
        page=1,
        group="Streets",
        groups=["Streets", "Parks"],
        geocode_query="120 Main St",
        status_number="123",
        listing="status",
        nearby_checked="PTH-001@39.80000,-89.60000",
        nearby_wait="PTH-001@39.80000,-89.60000",
        nearby=[
            NearbyRequest(
                "101", "Pothole", "118 Main St", "open", datetime(2026, 12, 1, tzinfo=UTC)
            )
        ],
    )
    if depth:
        draft.history = [Snapshot("location", _full_draft(depth - 1), ["1", "2"])]
        draft.held = Snapshot("confirm", _full_draft(depth - 1), ["3"])
        draft.back_to = State("service", _full_draft(depth - 1), ["4"], "es", True, True)
    return draft


def _assert_nothing_shared(original: object, copied: object, path: str = "draft") -> None:
    if isinstance(original, IMMUTABLE):
        assert copied == original, path
        return
    assert copied is not original, f"{path} is shared"
    if dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            _assert_nothing_shared(
                getattr(original, field.name), getattr(copied, field.name), f"{path}.{field.name}"
            )
    elif isinstance(original, dict):
        assert isinstance(copied, dict) and copied.keys() == original.keys(), path
        for key, value in original.items():
            _assert_nothing_shared(value, copied[key], f"{path}[{key!r}]")
    elif isinstance(original, list):
        assert isinstance(copied, list) and len(copied) == len(original), path
        for i, (value, other) in enumerate(zip(original, copied, strict=True)):
            _assert_nothing_shared(value, other, f"{path}[{i}]")
    else:
        raise AssertionError(f"{path}: a {type(original).__name__} the copy does not know")


def test_every_field_of_the_draft_is_set_by_the_full_draft():
    draft, default = _full_draft(), Draft()
    unset = [
        f.name
        for f in dataclasses.fields(Draft)
        if getattr(draft, f.name) == getattr(default, f.name)
    ]
    assert unset == []


def test_a_copied_draft_equals_the_original_and_shares_nothing_mutable():
    draft = _full_draft()
    copied = draft.copy()
    assert copied == draft and type(copied) is Draft
    _assert_nothing_shared(draft, copied)


def test_a_copied_state_shares_nothing_mutable():
    state = State("questions", _full_draft(), ["1", "2"], "vi", True, False)
    copied = state.copy()
    assert copied == state
    _assert_nothing_shared(state, copied, "state")


def test_changing_the_copy_leaves_the_original_as_it_was():
    draft = _full_draft()
    stored = draft.to_dict()
    copied = draft.copy()
    copied.answers["SIDES"].append("c")
    copied.history[0].draft.media.append("photo-2")
    assert copied.held is not None and copied.held.draft.contact is not None
    copied.held.draft.contact.phone = ""
    copied.groups.clear()
    assert draft.to_dict() == stored


def test_states_passed_from_step_to_step_are_never_changed_by_the_next_step():
    """As a caller keeping states in memory would (the bench does): every step leaves the
    state it was given as it was, and states chain exactly as through their JSON."""
    context = corpus.make_context()
    for scenario in corpus.load_scenarios():
        events: list = []
        corpus.run(scenario, context, lambda _state, event, e=events: e.append(event))
        state, stored = State(), State().to_dict()
        for event in events:
            given = state.to_dict()
            turn = step(state, event, context)
            assert state.to_dict() == given, scenario.name
            from_json = step(State.from_dict(stored), event, context)
            assert turn.state.to_dict() == from_json.state.to_dict(), scenario.name
            assert turn.replies == from_json.replies and turn.actions == from_json.actions
            state, stored = turn.state, from_json.state.to_dict()
