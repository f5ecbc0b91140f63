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
    DUPLICATE = "duplicate"  # offered the open requests nearby: follow one, or go on filing


DESCRIPTION_LIMIT = 1000
# Characters of a message the engine reads (commands, languages, emergencies, services,
# addresses, the description): its cost grows with the text, so a megabyte costs what this
# costs. More than any description keeps (DESCRIPTION_LIMIT), so the city loses nothing.
READ_LIMIT = 4000
