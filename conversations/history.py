"""Earlier states of the report being made, so BACK can return to the previous question."""

from __future__ import annotations

from copy import copy
from dataclasses import replace

from .states import StateName
from .types import Snapshot, State

LIMIT = 10  # states kept: enough to walk back through a whole report


def _question(state: State) -> Snapshot:
    """The question the state asks: its draft without what is not part of it (the history,
    photos, a pin, a photo's place unless it is the place asked about, and the answers waited
    for), kept whatever BACK does."""
    draft = copy(state.draft)  # shallow, as dataclasses.replace would make it, but cheaper
    draft.history, draft.media, draft.pin = [], [], None
    if not asks_photo_place(state):
        draft.photo_place = None
    draft.geocode_query, draft.status_number, draft.listing = None, None, False
    draft.nearby_wait = None
    return Snapshot(state.name, draft, list(state.offered))


def _moved(before: State, after: State, asked: Snapshot) -> bool:
    """Whether the message answered the question `asked` in `before` (a lookup started counts:
    it moves on)."""
    waiting = after.draft.geocode_query and not before.draft.geocode_query
    return bool(waiting) or asked != _question(after)


def record(before: State, after: State) -> None:
    """Remember `before` in `after`'s history when the message moved the report on."""
    history = list(before.draft.history)
    asked = _question(before)
    if _moved(before, after, asked):
        history = (history + [asked])[-LIMIT:]
    if history:
        after.draft.history = history


def asks_photo_place(state: State) -> bool:
    """Whether the state asks the resident whether their photo's place is the location."""
    draft = state.draft
    return (
        state.name == StateName.LOCATION_CONFIRM
        and draft.place is None
        and draft.photo_place is not None
    )


def back(state: State) -> State | None:
    """The state before the last step, keeping photos, a pin and a photo's place; None when
    there is none."""
    history = list(state.draft.history)
    if not history:
        return None
    last = history.pop()
    draft = replace(last.draft)
    if state.draft.media:
        draft.media = state.draft.media
    if state.draft.pin is not None:
        draft.pin = state.draft.pin
    if state.draft.photo_place is not None and draft.photo_place is None:
        draft.photo_place = state.draft.photo_place
    # What was checked for open requests nearby stays checked: the check names its service
    # and point, so going back to the same ones does not ask again.
    draft.nearby_checked = state.draft.nearby_checked
    if history:
        draft.history = history
    restored = state.fresh()
    restored.name, restored.draft, restored.offered = last.name, draft, list(last.offered)
    return restored
