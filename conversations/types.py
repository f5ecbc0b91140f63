"""The conversation engine's vocabulary: state, events, replies, actions and the turn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .language import ENGLISH, Language
from .states import StateName


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
    # What the city tells residents about places outside its limits, after "That is outside
    # <city>." ("" : a generic sentence, in the resident's language).
    outside_text: str = ""
    # Services whose optional questions are asked one by one ("*": every service); the others
    # ask only the required ones and offer the optional ones in the summary.
    ask_optional: frozenset[str] = frozenset()
    # How close a text is in meaning to each service (code -> cosine similarity), from a
    # sentence-embedding model the worker loaded; None where no model is installed.
    similar: Callable[[str], Mapping[str, float]] | None = None
    # How long one message may be on the resident's channel, in characters; None: SMS, where
    # replies are fitted to SMS segments (see segments.cost).
    message_chars: int | None = None
    # Services whose reports are not checked for open requests nearby before the summary
    # ("*": none is; the default, for a context that knows nothing of the city's requests).
    # The worker fills it from DUPLICATE_SERVICES_OFF and answers FindNearby for the others.
    nearby_off: frozenset[str] = frozenset({"*"})
    # Human handoff (the worker decides from HANDOFF_HOURS and its clock): "off", AGENT is
    # answered that no person can take over here; "open", staff are in and the resident is
    # passed to them; "closed", handoff is on but staff are out: the resident is told so (the
    # city's `handoff_closed_text`, else a text naming `handoff_hours`) and the bot carries on.
    handoff: str = "off"
    handoff_hours: str = ""
    handoff_closed_text: str = ""

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
    location_outside: bool = False  # the worker found the pin outside the city's limits
    media: tuple[str, ...] = ()  # references to photos the channel can fetch later
    # Where the message's photo was taken (its EXIF GPS, read by the worker): lat/lon set, the
    # address the point's reverse-geocoded name (may be ""); offered when no location is known.
    photo_location: Place | None = None


@dataclass(frozen=True)
class Geocoded:
    """The answer to a Geocode action; `failed` means the geocoder could not be reached."""

    query: str
    places: tuple[Place, ...] = ()
    failed: bool = False
    # Places found for the query outside the city (CITY_BOUNDS, CITY_BOUNDARY_FILE): never
    # offered; when they are all that was found, the resident is told it is outside the city.
    outside: tuple[Place, ...] = ()


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


@dataclass(frozen=True)
class NearbyRequest:
    """An open request of the city near the resident's place, offered before the summary."""

    number: str  # the city's service_request_id
    service_name: str
    address: str = ""
    status: str = "open"
    opened: datetime | None = None  # when it was reported (shown as an age)
    metres: int | None = None  # how far from the resident's place (shown without an address)


@dataclass(frozen=True)
class Nearby:
    """The answer to FindNearby: open requests of the service near the place, nearest first
    (empty when none, or when the look-up failed: the report goes on either way)."""

    service_code: str
    lat: float
    lon: float
    requests: tuple[NearbyRequest, ...] = ()


Event = Message | Geocoded | StatusFound | ReportsListed | TimedOut | Nearby


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


@dataclass(frozen=True)
class FindNearby:
    """Look up the city's open requests of this service near this point (answered by
    Nearby)."""

    service_code: str
    lat: float
    lon: float


@dataclass(frozen=True)
class FollowRequest:
    """The resident follows the city's request `number` instead of filing a new report: they
    get its status changes from now on."""

    number: str
    service_code: str
    service_name: str = ""
    language: str = "en"
    status: str = ""  # the status the offer showed them: a change since is told


@dataclass(frozen=True)
class HandOff:
    """Flag the conversation for a person: the resident asked ("asked") or the bot did not
    understand them twice running ("not_understood"). The worker marks it waiting for staff."""

    reason: str = "asked"


Action = Geocode | LookupStatus | ListReports | FileReport | FindNearby | FollowRequest | HandOff


# --- state ------------------------------------------------------------------------------

Answer = str | list[str] | None  # an answer: text, a list's keys, or None (skipped)


@dataclass
class ContactDetails:
    """A phone and an email found in the resident's words (masked there), for the city."""

    phone: str = ""
    email: str = ""


@dataclass
class Draft:
    """The report being made, and what the conversation is waiting for.

    Stored (`State.to_dict`) as the JSON object the engine has always written: the same keys,
    each only when it is set; the place as `address`, `lat` and `lon`.
    """

    service_code: str = ""  # the chosen service
    service_name: str = ""
    description: str = ""  # the resident's words, at most 1000 characters, contacts masked
    contact: ContactDetails | None = None  # found in the description, sent only with consent
    place: Place | None = None  # the location; lat/lon None when unchecked (never `exact`)
    pin: Place | None = None  # a shared location, kept until the location is asked
    # Where a photo was taken, kept while the report has no location; offered (YES/NO) when the
    # location is asked.
    photo_place: Place | None = None
    media: list[str] = field(default_factory=list)  # the resident's photos (channel references)
    question: str | None = None  # in questions: the code of the attribute being asked
    answers: dict[str, Answer] = field(default_factory=dict)  # the service's questions so far
    details: bool = False  # the resident asked (4) to answer the optional questions too
    editing: bool = False  # a field is being changed from the summary
    said: str = ""  # a message that produced a shortlist (or came while a report was held)
    page: int | None = None  # the menu page shown (None while a shortlist is offered)
    group: str = ""  # in service: the catalogue group whose services are listed
    groups: list[str] = field(default_factory=list)  # in service: the groups offered by OTHER
    geocode_query: str | None = None  # waiting for the Geocoded answer to this query
    status_number: str | None = None  # waiting for the StatusFound answer for this number
    # Waiting for ReportsListed: True for MY REPORTS, "status" while STATUS seeks its number.
    listing: bool | str = False
    history: list[Snapshot] = field(default_factory=list)  # earlier states, for BACK
    held: Snapshot | None = None  # in idle and resume: a report put aside when it went quiet
    back_to: State | None = None  # in language: where to go back to once one is chosen
    # In location_confirm: the places offered as a numbered choice (conversations/locating.py).
    candidates: list[Place] = field(default_factory=list)
    # Before the summary, the city's open requests near the place (conversations/nearby.py):
    # `nearby_checked` names the service and point last checked (checked again when either
    # changes), `nearby_wait` the check waited for, `nearby` the requests offered (duplicate).
    nearby_checked: str = ""
    nearby_wait: str | None = None
    nearby: list[NearbyRequest] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-safe copy (nothing shared with this draft)."""
        data = {key: getattr(self, key) for key, unset in _PLAIN if getattr(self, key) != unset}
        if self.contact is not None:
            data["contact"] = {"phone": self.contact.phone, "email": self.contact.email}
        if self.place is not None:
            data.update(address=self.place.address, lat=self.place.lat, lon=self.place.lon)
        if self.pin is not None:
            data["pin"] = _stored_place(self.pin)
        if self.photo_place is not None:
            data["photo_place"] = _stored_place(self.photo_place)
        if self.media:
            data["media"] = list(self.media)
        if self.answers:
            data["answers"] = {code: _copied(value) for code, value in self.answers.items()}
        if self.groups:
            data["groups"] = list(self.groups)
        if self.history:
            data["history"] = [earlier.to_dict() for earlier in self.history]
        if self.held is not None:
            data["held"] = self.held.to_dict()
        if self.back_to is not None:
            data["back_to"] = self.back_to.to_dict()
        if self.candidates:
            data["candidates"] = [_stored_place(p) for p in self.candidates]
        if self.nearby:
            data["nearby"] = [_stored_nearby(r) for r in self.nearby]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Draft:
        """Read a draft stored with to_dict (keys it does not know are dropped)."""
        draft = cls(**{key: data[key] for key, _ in _PLAIN if key in data})
        contact = data.get("contact")
        if contact is not None:
            draft.contact = ContactDetails(contact.get("phone", ""), contact.get("email", ""))
        if "address" in data or "lat" in data or "lon" in data:
            draft.place = _place(data)
        if data.get("pin") is not None:
            draft.pin = _place(data["pin"])
        if data.get("photo_place") is not None:
            draft.photo_place = _place(data["photo_place"])
        draft.media = list(data.get("media") or [])
        answers = data.get("answers") or {}
        draft.answers = {code: _copied(value) for code, value in answers.items()}
        draft.groups = list(data.get("groups") or [])
        draft.history = [Snapshot.from_dict(earlier) for earlier in data.get("history") or []]
        if data.get("held") is not None:
            draft.held = Snapshot.from_dict(data["held"])
        if data.get("back_to"):
            draft.back_to = State.from_dict(data["back_to"])
        draft.candidates = [_place(p) for p in data.get("candidates") or [] if isinstance(p, dict)]
        draft.nearby = [_nearby(r) for r in data.get("nearby") or [] if isinstance(r, dict)]
        return draft

    def copy(self, shared_history: bool = False) -> Draft:
        """A copy sharing nothing mutable with this draft (places are frozen); with
        `shared_history`, its history's snapshots (never changed in place) are shared."""
        # Every field taken as it is, then each mutable one replaced by a copy: a step copies
        # the state and its history (up to ten drafts) twice, and __init__ with 21 keywords
        # costs more than the rest of a short turn. tests/test_conversations_copy.py checks
        # that no field is left shared.
        new = object.__new__(Draft)
        new.__dict__.update(self.__dict__)
        contact = self.contact
        if contact is not None:
            new.contact = ContactDetails(contact.phone, contact.email)
        new.media = list(self.media)
        new.answers = {code: _copied(value) for code, value in self.answers.items()}
        new.groups = list(self.groups)
        new.candidates = list(self.candidates)
        new.nearby = list(self.nearby)
        if shared_history:
            new.history = list(self.history)
        else:
            new.history = [earlier.copy() for earlier in self.history]
        if self.held is not None:
            new.held = self.held.copy()
        if self.back_to is not None:
            new.back_to = self.back_to.copy()
        return new


# The draft's fields stored as they are, with the value that means "not set" (not stored).
_PLAIN = (
    ("service_code", ""),
    ("service_name", ""),
    ("description", ""),
    ("question", None),
    ("details", False),
    ("editing", False),
    ("said", ""),
    ("page", None),
    ("group", ""),
    ("geocode_query", None),
    ("status_number", None),
    ("listing", False),
    ("nearby_checked", ""),
    ("nearby_wait", None),
)


def _place(data: dict) -> Place:
    return Place(data.get("address", ""), data.get("lat"), data.get("lon"))


def _stored_place(place: Place) -> dict:
    return {"address": place.address, "lat": place.lat, "lon": place.lon}


def _stored_nearby(request: NearbyRequest) -> dict:
    opened = request.opened.isoformat() if request.opened else None
    return {
        "number": request.number,
        "service_name": request.service_name,
        "address": request.address,
        "status": request.status,
        "opened": opened,
        "metres": request.metres,
    }


def _nearby(data: dict) -> NearbyRequest:
    opened = data.get("opened")
    return NearbyRequest(
        number=str(data.get("number", "")),
        service_name=str(data.get("service_name", "")),
        address=str(data.get("address", "")),
        status=str(data.get("status", "open")),
        opened=datetime.fromisoformat(opened) if isinstance(opened, str) else None,
        metres=data["metres"] if isinstance(data.get("metres"), int) else None,
    )


def _copied(answer: Answer) -> Answer:
    return list(answer) if isinstance(answer, list) else answer


def _state_name(name: str) -> str:
    """The StateName of a stored name; a name this version does not know is kept as it is."""
    return StateName(name) if name in _STATE_NAMES else name


_STATE_NAMES = frozenset(StateName)


@dataclass
class Snapshot:
    """A state of the report kept for later: an earlier question (BACK) or the report put
    aside when the chat went quiet. Stored as {"name", "draft", "offered"}."""

    name: str
    draft: Draft = field(default_factory=Draft)
    offered: list[str] = field(default_factory=list)

    def copy(self) -> Snapshot:
        """A copy sharing nothing with this snapshot."""
        return Snapshot(self.name, self.draft.copy(), list(self.offered))

    def to_dict(self) -> dict:
        """A JSON-safe copy (nothing shared with this snapshot)."""
        return {"name": self.name, "draft": self.draft.to_dict(), "offered": list(self.offered)}

    @classmethod
    def from_dict(cls, data: dict) -> Snapshot:
        """Read a snapshot stored with to_dict."""
        return cls(
            name=_state_name(data.get("name", StateName.IDLE)),
            draft=Draft.from_dict(data.get("draft") or {}),
            offered=list(data.get("offered") or []),
        )


@dataclass
class State:
    """Where a conversation stands; stored as JSON between messages."""

    # A StateName; a name stored by another version is kept as it is (a message starts afresh).
    name: str = StateName.IDLE
    draft: Draft = field(default_factory=Draft)
    offered: list[str] = field(default_factory=list)
    language: str = ""  # the resident's language code ("" until known: the city's default)
    language_chosen: bool = False  # chosen with LANGUAGE: never changed by detection
    consent: bool | None = None  # may the city contact them (None: not asked yet)
    # Messages in a row the engine did not understand (reset by any it did): the second one
    # hands the conversation to a person (`HandOff("not_understood")`) where staff are in.
    unclear: int = 0

    def to_dict(self) -> dict:
        """A JSON-safe copy (nothing shared with this state)."""
        data = {
            "name": str(self.name),
            "draft": self.draft.to_dict(),
            "offered": list(self.offered),
            "language": self.language,
            "language_chosen": self.language_chosen,
            "consent": self.consent,
        }
        if self.unclear:
            data["unclear"] = self.unclear
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> State:
        """Rebuild a state stored with to_dict (None gives a fresh one); states stored by
        earlier versions (without the language keys, or the consent state) read too."""
        data = data or {}
        return cls(
            name=_state_name(data.get("name", StateName.IDLE)),
            draft=Draft.from_dict(data.get("draft") or {}),
            offered=list(data.get("offered") or []),
            language=str(data.get("language") or ""),
            language_chosen=bool(data.get("language_chosen")),
            consent=data.get("consent"),
            unclear=data["unclear"] if isinstance(data.get("unclear"), int) else 0,
        )

    def copy(self, shared_history: bool = False) -> State:
        """A copy sharing nothing with this state (but, with `shared_history`, the snapshots
        of its draft's history, which nothing changes in place)."""
        return State(
            name=self.name,
            draft=self.draft.copy(shared_history),
            offered=list(self.offered),
            language=self.language,
            language_chosen=self.language_chosen,
            consent=self.consent,
            unclear=self.unclear,
        )

    def fresh(self) -> State:
        """An idle state that keeps what belongs to the resident, not to one report."""
        return State(
            language=self.language, language_chosen=self.language_chosen, consent=self.consent
        )


@dataclass(frozen=True)
class Turn:
    """The outcome of one step: the new state, replies to send, actions to perform."""

    state: State
    replies: tuple[Reply, ...] = ()
    actions: tuple[Action, ...] = ()
