"""The 311 dialogue as pure functions: step(state, event, context) -> Turn."""

from .engine import step
from .types import (
    Action,
    Attribute,
    Choice,
    Context,
    Draft,
    Event,
    FileReport,
    Geocode,
    Geocoded,
    LookupStatus,
    Message,
    Place,
    Reply,
    Service,
    State,
    StatusFound,
    Turn,
)

__all__ = [
    "Action",
    "Attribute",
    "Choice",
    "Context",
    "Draft",
    "Event",
    "FileReport",
    "Geocode",
    "Geocoded",
    "LookupStatus",
    "Message",
    "Place",
    "Reply",
    "Service",
    "State",
    "StatusFound",
    "Turn",
    "step",
]
