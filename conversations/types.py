"""The conversation engine's vocabulary: state, events, replies, actions and the turn."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Choice:
    """One allowed value of a list attribute: the `key` sent to the city, the `name` shown."""

    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """A question the city asks for a service (GeoReport v2 service definition attribute).

    `datatype` is one of string, number, datetime, text, singlevaluelist, multivaluelist;
    `variable` false means an informational note, not a question; `description` is the
    question's wording.
    """

    code: str
    datatype: str
    description: str
    required: bool = False
    order: float = 0
    values: tuple[Choice, ...] = ()
    variable: bool = True
    datatype_description: str = ""


@dataclass(frozen=True)
class Service:
    """One entry of the city's Open311 catalogue, as the engine needs it.

    `attributes` are the questions of its service definition, empty when it has none.
    """

    code: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    group: str = ""
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class Place:
    """A geocoded location; lat/lon are None when only the typed address is known."""

    address: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Context:
    """What the engine may read about the world: the live catalogue, the city and its zone."""

    services: tuple[Service, ...] = ()
    city: str = ""
    timezone: str = "UTC"  # IANA name: how "today" and "5pm" are read


# --- events: what happens to a conversation -------------------------------------------


@dataclass(frozen=True)
class Message:
    """A resident's message; `at` is when it was received (the engine never reads a clock)."""

    text: str
    at: datetime
    location: Place | None = None  # a shared pin (lat/lon set; address may be "")
    media: tuple[str, ...] = ()  # references to photos the channel can fetch later


@dataclass(frozen=True)
class Geocoded:
    """The answer to a Geocode action; `failed` means the geocoder could not be reached."""

    query: str
    places: tuple[Place, ...] = ()
    failed: bool = False


@dataclass(frozen=True)
class StatusFound:
    """The answer to a LookupStatus action; status None means no such request."""

    number: str
    status: str | None = None
    notes: str = ""
    service_name: str = ""
    failed: bool = False


Event = Message | Geocoded | StatusFound


# --- replies: channel-neutral intents ------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Something to tell the resident.

    `expects` says what answer we want ("text", "choice", "choices", "yes_no", "location");
    `options` are the labels of a choice, answered by their 1-based number ("choices": one or
    more numbers, e.g. "1 3").
    Channels render these their own way (numbered lines on SMS, buttons elsewhere).
    """

    text: str
    options: tuple[str, ...] = ()
    expects: str = "text"


# --- actions: what the worker must do -------------------------------------------------


@dataclass(frozen=True)
class Geocode:
    """Look the query up; the worker answers with a Geocoded event in the same turn."""

    query: str


@dataclass(frozen=True)
class LookupStatus:
    """Ask the city for a request's status; answered with a StatusFound event."""

    number: str


@dataclass(frozen=True)
class FileReport:
    """File the confirmed report with the city."""

    service_code: str
    service_name: str
    description: str
    address: str
    lat: float | None = None
    lon: float | None = None
    # The answers to the service's questions: code -> value (a list for multivaluelist);
    # datetimes as ISO 8601 with the city's offset, numbers as text.
    attributes: dict = field(default_factory=dict)
    media: tuple[str, ...] = ()  # the resident's photos, as the channel's references


Action = Geocode | LookupStatus | FileReport


# --- state ------------------------------------------------------------------------------


@dataclass
class State:
    """Where a conversation stands; stored as JSON between messages."""

    name: str = "idle"
    draft: dict = field(default_factory=dict)
    offered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-safe copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> State:
        """Rebuild a state stored with to_dict (None gives a fresh one)."""
        data = data or {}
        return cls(
            name=data.get("name", "idle"),
            draft=dict(data.get("draft") or {}),
            offered=list(data.get("offered") or []),
        )


@dataclass(frozen=True)
class Turn:
    """The outcome of one step: the new state, replies to send, actions to perform."""

    state: State
    replies: tuple[Reply, ...] = ()
    actions: tuple[Action, ...] = ()
