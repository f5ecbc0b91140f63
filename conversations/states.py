"""The dialogue's named states (see README.md for the diagram); the draft they fill in is
`types.Draft`."""

from enum import StrEnum


class StateName(StrEnum):
    """Where a conversation stands; stored by value (`State.to_dict`)."""

    IDLE = "idle"
    SERVICE = "service"
    LOCATION = "location"
    LOCATION_CONFIRM = "location_confirm"
    DESCRIPTION = "description"
    QUESTIONS = "questions"
    CONSENT = "consent"  # asked by earlier versions on its own; still read when stored
    CONFIRM = "confirm"
    RESUME = "resume"
    LANGUAGE = "language"


DESCRIPTION_LIMIT = 1000
