"""The words staff read for the states the code stores (a report's, a conversation's)."""

from __future__ import annotations

REPORT_STATES = {
    "pending": "waiting to be filed",
    "submitting": "being filed",
    "awaiting_number": "filed, number to come",
    "submitted": "filed",
    "failed": "failed: needs staff",
    "rejected": "refused by the city",
    "unconfirmed": "unconfirmed: needs staff",
}
CONVERSATION_STATES = {
    "idle": "not reporting",
    "service": "choosing what to report",
    "location": "asked where",
    "location_confirm": "confirming the place",
    "description": "describing it",
    "questions": "answering the city's questions",
    "consent": "asked about being contacted",
    "confirm": "checking the summary",
    "resume": "offered to go on with a report",
    "language": "choosing a language",
    "duplicate": "shown reports nearby",
}
KINDS = {"report": REPORT_STATES, "conversation": CONVERSATION_STATES}


def label(value: object, kind: str) -> str:
    """The words for a stored state of `kind`; a state without words as it is stored."""
    text = "" if value is None else str(value)
    return KINDS[kind].get(text, text)
