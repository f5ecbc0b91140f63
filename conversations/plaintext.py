"""Plain-text rendering of a reply, shared by SMS and the console."""

from __future__ import annotations

from .types import Reply


def render(reply: Reply) -> str:
    """The reply's text followed by its options as numbered lines ("1 Pothole")."""
    lines = [reply.text]
    lines += [f"{number} {label}" for number, label in enumerate(reply.options, start=1)]
    return "\n".join(lines)
