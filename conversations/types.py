"""The conversation engine's vocabulary: state, events, replies, actions and the turn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .language import ENGLISH, Language


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
    """A geocoded location; lat/lon are None when only the typed address is known.

    `exact` means the geocoder found the very house number and street the resident typed, so
    a lone exact place is read back only in the summary, not by a question of its own.
    """

    address: str
    lat: float | None = None
    lon: float | None = None
    exact: bool = False


@dataclass(frozen=True)
class Context:
    """What the engine may read about the world: the live catalogue, the city and its zone."""

    services: tuple[Service, ...] = ()
    city: str = ""
    timezone: str = "UTC"  # IANA name: how "today" and "5pm" are read
    # The languages the bot speaks, by code, in the order LANGUAGE offers them (English first).
    languages: Mapping[str, Language] = field(default_factory=lambda: {"en": ENGLISH})
    emergency_number: str = "911"
    synonyms: Mapping[str, str] = field(default_factory=dict)  # the city's phrase -> words
    # Services whose optional questions are asked one by one ("*": every service); the others
    # ask only the required ones and offer the optional ones in the summary.
    ask_optional: frozenset[str] = frozenset()
    # How close a text is in meaning to each service (code -> cosine similarity), from a
    # sentence-embedding model the worker loaded; None where no model is installed.
    similar: Callable[[str], Mapping[str, float]] | None = None

    def language(self, code: str) -> Language:
        """The language with this code, English when it is unknown or unset."""
        return self.languages.get(code) or self.languages.get("en") or ENGLISH


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
    expected: datetime | None = None  # when the city expects to finish (expected_datetime)
    # Not found, but one of the resident's own filed reports (a city that hides new requests
    # until its staff moderate them).
    own: bool = False


@dataclass(frozen=True)
class ReportLine:
    """One of the resident's reports, for MY REPORTS; number is "" while the city has none."""

    number: str
    service_name: str
    status: str
    filed_at: datetime | None = None  # when it was filed (shown as a day on the city's calendar)


@dataclass(frozen=True)
class ReportsListed:
    """The answer to a ListReports action: the resident's latest reports, newest first."""

    reports: tuple[ReportLine, ...] = ()


@dataclass(frozen=True)
class TimedOut:
    """The conversation has been quiet for the city's idle time (sent by the worker's clock)."""

    at: datetime


Event = Message | Geocoded | StatusFound | ReportsListed | TimedOut


# --- replies: channel-neutral intents ------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Something to tell the resident.

    `expects` says what answer we want ("text", "choice", "choices", "yes_no", "location", or
    "yes_no_private": yes, no, or PRIVATE for yes without the resident's contact details);
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
    """Look the query up; the worker answers with a Geocoded event before the next message."""

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
    # Whether the city may contact the resident; phone/email typed in their words (masked in
    # the description), sent only when contact_ok.
    contact_ok: bool = False
    phone: str = ""
    email: str = ""
    language: str = "en"  # the resident's language, so the city knows how to answer


@dataclass(frozen=True)
class ListReports:
    """Find the resident's latest reports; answered with a ReportsListed event."""


Action = Geocode | LookupStatus | ListReports | FileReport


# --- state ------------------------------------------------------------------------------


@dataclass
class State:
    """Where a conversation stands; stored as JSON between messages."""

    name: str = "idle"
    draft: dict = field(default_factory=dict)
    offered: list[str] = field(default_factory=list)
    language: str = ""  # the resident's language code ("" until known: the city's default)
    language_chosen: bool = False  # chosen with LANGUAGE: never changed by detection
    consent: bool | None = None  # may the city contact them (None: not asked yet)

    def to_dict(self) -> dict:
        """A JSON-safe copy (nothing shared with this state)."""
        return {
            "name": self.name,
            "draft": _plain(self.draft),
            "offered": list(self.offered),
            "language": self.language,
            "language_chosen": self.language_chosen,
            "consent": self.consent,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> State:
        """Rebuild a state stored with to_dict (None gives a fresh one)."""
        data = data or {}
        return cls(
            name=data.get("name", "idle"),
            draft=dict(data.get("draft") or {}),
            offered=list(data.get("offered") or []),
            language=str(data.get("language") or ""),
            language_chosen=bool(data.get("language_chosen")),
            consent=data.get("consent"),
        )

    def fresh(self) -> State:
        """An idle state that keeps what belongs to the resident, not to one report."""
        return State(
            language=self.language, language_chosen=self.language_chosen, consent=self.consent
        )


def _plain(value):
    """A copy of JSON-like data (dicts, lists, scalars); faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class Turn:
    """The outcome of one step: the new state, replies to send, actions to perform."""

    state: State
    replies: tuple[Reply, ...] = ()
    actions: tuple[Action, ...] = ()
