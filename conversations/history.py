"""Earlier states of the report being made, so BACK can return to the previous question."""

from __future__ import annotations

from .types import State

LIMIT = 10  # states kept: enough to walk back through a whole report
# Draft keys that are not part of the question being asked (kept whatever BACK does).
_ASIDE = ("history", "media", "pin", "geocode_query", "status_number", "listing")


def _question(state: State) -> tuple:
    draft = {k: v for k, v in state.draft.items() if k not in _ASIDE}
    return state.name, draft, list(state.offered)


def _moved(before: State, after: State) -> bool:
    """Whether the message answered the question (a lookup started counts: it moves on)."""
    waiting = after.draft.get("geocode_query") and not before.draft.get("geocode_query")
    return bool(waiting) or _question(before) != _question(after)


def record(before: State, after: State) -> None:
    """Remember `before` in `after`'s history when the message moved the report on."""
    history = list(before.draft.get("history", []))
    if _moved(before, after):
        name, draft, offered = _question(before)
        history = (history + [{"name": name, "draft": draft, "offered": offered}])[-LIMIT:]
    if history:
        after.draft["history"] = history


def back(state: State) -> State | None:
    """The state before the last step, keeping photos and a pin; None when there is none."""
    history = list(state.draft.get("history", []))
    if not history:
        return None
    last = history.pop()
    draft = dict(last["draft"])
    for key in ("media", "pin"):
        if key in state.draft:
            draft[key] = state.draft[key]
    if history:
        draft["history"] = history
    restored = state.fresh()
    restored.name, restored.draft, restored.offered = last["name"], draft, list(last["offered"])
    return restored
