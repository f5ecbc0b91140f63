"""The dialogue as one pure function: step(state, event, context) -> Turn."""

from __future__ import annotations

import copy
from collections.abc import Callable

from . import asking, prompts, texts
from .addresses import find_address
from .answers import number, yes_or_no
from .commands import CANCEL, HELP, START, Command, parse_command
from .matching import pick_service
from .states import (
    CONFIRM,
    DESCRIPTION,
    DESCRIPTION_LIMIT,
    IDLE,
    LOCATION,
    LOCATION_CONFIRM,
    QUESTIONS,
    SERVICE,
)
from .types import (
    Context,
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

MORE_WORDS = frozenset({"more", "next", "more please"})
DESCRIBING_WORDS = 3  # a message with at least this many words also serves as the description


def step(state: State, event: Event, context: Context) -> Turn:
    """Advance one conversation by one event; never mutates the given state."""
    state = State.from_dict(copy.deepcopy(state.to_dict()))
    if isinstance(event, Message):
        return _on_message(state, event, context)
    if isinstance(event, Geocoded):
        return _on_geocoded(state, event, context)
    if isinstance(event, StatusFound):
        return _on_status_found(state, event, context)
    return Turn(state)


# --- the current question -----------------------------------------------------------------


def stale_tap(state: State, context: Context) -> Turn:
    """A button from an earlier message was tapped: say so and ask the current question."""
    again = question(state, context)
    return Turn(state, (Reply(texts.OLD_BUTTON),) + ((again,) if again else ()))


def question(state: State, context: Context) -> Reply | None:
    """The question the conversation is waiting on, asked again (None when idle)."""
    draft = state.draft
    if state.name == SERVICE:
        offered = _services(state.offered, context)
        if "page" in draft or len(offered) != len(state.offered) or not offered:
            return prompts.menu(context.services, draft.get("page", 0))
        return prompts.shortlist(offered)
    if state.name == LOCATION:
        return prompts.ask_location()
    if state.name == LOCATION_CONFIRM:
        return prompts.address_found(draft.get("address", ""))
    if state.name == DESCRIPTION:
        return prompts.ask_description()
    if state.name == QUESTIONS:
        return asking.ask_again(state, context)
    if state.name == CONFIRM:
        return prompts.confirm(draft)
    return None


def _services(codes: list[str], context: Context) -> tuple[Service, ...]:
    """The catalogue's services with these codes, in the codes' order (unknown ones dropped)."""
    by_code = {service.code: service for service in context.services}
    return tuple(by_code[code] for code in codes if code in by_code)


# --- messages -----------------------------------------------------------------------------


def _on_message(state: State, message: Message, context: Context) -> Turn:
    """Commands first, then pins and bare photos, then the handler of the current state."""
    text = (message.text or "").strip()
    if message.media and state.name != IDLE:  # kept whatever the words do (even YES, HELP)
        _add_media(state, message.media)
    command = parse_command(text)
    if command:
        return _on_command(state, command, context)
    before = State.from_dict(state.to_dict())
    if message.location is not None:
        turn = _on_pin(state, message.location, context)
    elif message.media and not text:
        turn = _on_photo(state, context)
    elif state.name == QUESTIONS:  # the one handler that needs the time: "yesterday 5pm"
        turn = asking.answer(state, text, message.at, context)
    elif state.name in _HANDLERS:
        turn = _HANDLERS[state.name](state, text, context)
    else:  # a state this version does not know: start afresh
        turn = _idle(State(), text, context)
    return _use_pin(_carry(before, turn, message.media), context)


# --- pins and photos ------------------------------------------------------------------------

CARRIED = ("pin", "media")  # draft keys that live as long as the report being made


def _carry(before: State, turn: Turn, media: tuple[str, ...]) -> Turn:
    """Keep the pin and photos of the report in progress in whatever draft comes next."""
    draft = turn.state.draft
    if turn.state.name == IDLE:
        return turn
    for key in CARRIED:
        if key in before.draft and key not in draft:
            draft[key] = before.draft[key]
    _add_media(turn.state, media)
    return turn


def _add_media(state: State, media: tuple[str, ...]) -> None:
    known = list(state.draft.get("media", []))
    fresh = [m for m in media if m not in known]
    if fresh:
        state.draft["media"] = known + fresh


def _on_pin(state: State, place: Place, context: Context) -> Turn:
    """A shared location: exact, so it is taken without reading it back."""
    pin = {"address": place.address, "lat": place.lat, "lon": place.lon}
    if state.name == SERVICE:  # keep the menu or shortlist the resident is looking at
        state.draft["pin"] = pin
        return Turn(state, (Reply(texts.PIN_TAKEN), question(state, context)))
    if state.name == IDLE:
        if not context.services:
            return Turn(State(), (Reply(texts.CATALOGUE_DOWN),))
        turn = _show_menu(state, context, 0, texts.PIN_FIRST)
        turn.state.draft["pin"] = pin
        return turn
    if state.name in (LOCATION, LOCATION_CONFIRM):
        state.name = LOCATION
        state.draft["pin"] = pin
        return Turn(state)
    for key in ("address", "lat", "lon"):
        state.draft[key] = pin[key]
    again = question(state, context)
    return Turn(state, (Reply(texts.PIN_UPDATED),) + ((again,) if again else ()))


def _use_pin(turn: Turn, context: Context) -> Turn:
    """When the location is wanted and a pin was shared, use the pin instead of asking."""
    state, draft = turn.state, turn.state.draft
    if state.name != LOCATION or "pin" not in draft:
        return turn
    pin = draft.pop("pin")
    draft.pop("geocode_query", None)
    draft.update(pin)
    after = _after_location(state, context)
    lead = texts.PIN_TAKEN
    if turn.replies and draft.get("service_name"):
        lead = texts.SERVICE_TAKEN.format(service=draft["service_name"]) + " " + lead
    return Turn(after.state, prompts.with_lead(lead, after.replies[0]), after.actions)


def _on_photo(state: State, context: Context) -> Turn:
    """A photo without words: kept for the report; the question stands."""
    if state.name == IDLE:
        if not context.services:
            return Turn(State(), (Reply(texts.CATALOGUE_DOWN),))
        return _show_menu(state, context, 0, texts.PHOTO_FIRST)
    again = question(state, context)
    return Turn(state, (Reply(texts.PHOTO_ADDED),) + ((again,) if again else ()))


def _on_command(state: State, command: Command, context: Context) -> Turn:
    """HELP, CANCEL and STATUS, which work in every state."""
    if command.name == HELP:
        state = asking.settle(state, context)
        again = question(state, context)
        return Turn(state, (Reply(texts.HELP),) + ((again,) if again else ()))
    if command.name == CANCEL:
        return Turn(State(), (Reply(texts.CANCELLED),))
    if command.name == START:
        return _idle(State(), "", context)
    if command.number is None:
        return Turn(state, (Reply(texts.STATUS_WHICH),))
    state.draft["status_number"] = command.number
    return Turn(state, actions=(LookupStatus(command.number),))


def _idle(state: State, text: str, context: Context) -> Turn:
    """Any message starts a report: take a clearly named service, else offer the menu."""
    if not context.services:
        return Turn(State(), (Reply(texts.CATALOGUE_DOWN),))
    turn = _choose(State(), text, context)
    if turn:
        return turn
    return _show_menu(State(), context, 0, texts.GREETING)


def _service(state: State, text: str, context: Context) -> Turn:
    """A number from the offered list, MORE, or free text naming the service."""
    if not context.services:
        return Turn(State(), (Reply(texts.CATALOGUE_DOWN),))
    chosen = number(text)
    if chosen is not None:
        offered = _services(state.offered, context)
        if len(offered) != len(state.offered) or not offered:  # the catalogue changed
            return _show_menu(state, context, 0, texts.MENU_AGAIN)
        if not 1 <= chosen <= len(offered):
            return Turn(state, (prompts.number_range(len(offered)),))
        return _take(offered[chosen - 1], state.draft.get("said", ""))
    if text.casefold() in MORE_WORDS:
        return _show_menu(state, context, state.draft.get("page", -1) + 1, texts.MENU_ASK)
    if not text:
        return Turn(state, (question(state, context),))
    return _choose(state, text, context) or _show_menu(state, context, 0, texts.MENU_AGAIN)


def _choose(state: State, text: str, context: Context) -> Turn | None:
    """Take the service the text clearly names, or offer a shortlist; None if nothing fits."""
    address, rest = find_address(text)
    if address and not rest:
        return None
    pick = pick_service(rest if address else text, context.services)
    if pick.winner:
        return _take(pick.winner, text)
    if pick.shortlist:
        draft = {"said": text}
        offered = [service.code for service in pick.shortlist]
        return Turn(State(SERVICE, draft, offered), (prompts.shortlist(pick.shortlist),))
    return None


def _describes(text: str) -> bool:
    """Whether a message says enough to serve as the report's description."""
    return len(text.split()) >= DESCRIBING_WORDS


def _show_menu(state: State, context: Context, page: int, lead: str) -> Turn:
    """Offer one page of the menu."""
    page %= prompts.pages(context.services)
    offered = [service.code for service in prompts.page_of(context.services, page)]
    new = State(SERVICE, {"page": page}, offered)
    return Turn(new, (prompts.menu(context.services, page, lead),))


def _take(service: Service, said: str) -> Turn:
    """Start a draft for the service from what the resident said (maybe an address too)."""
    draft = {"service_code": service.code, "service_name": service.name}
    address, rest = find_address(said)
    if _describes(rest):
        draft["description"] = said[:DESCRIPTION_LIMIT]
    if address:
        draft["geocode_query"] = address
        return Turn(State(LOCATION, draft), actions=(Geocode(address),))
    lead = texts.SERVICE_TAKEN.format(service=service.name)
    return Turn(State(LOCATION, draft), prompts.with_lead(lead, prompts.ask_location()))


def _location(state: State, text: str, context: Context) -> Turn:
    """Any text is an address to look up."""
    if not text:
        return Turn(state, (Reply(texts.ASK_LOCATION_EMPTY, expects="location"),))
    return _geocode(state, text)


def _geocode(state: State, query: str) -> Turn:
    """Ask the worker to look the query up; the answer comes back as a Geocoded event."""
    for key in ("address", "lat", "lon"):
        state.draft.pop(key, None)
    state.name = LOCATION
    state.draft["geocode_query"] = query
    return Turn(state, actions=(Geocode(query),))


def _location_confirm(state: State, text: str, context: Context) -> Turn:
    """YES goes on, NO asks again, a new address is looked up."""
    answer = yes_or_no(text)
    if answer:
        return _after_location(state, context)
    if answer is False:
        for key in ("address", "lat", "lon"):
            state.draft.pop(key, None)
        state.name = LOCATION
        return Turn(state, (prompts.ask_location(),))
    if find_address(text)[0]:
        return _geocode(state, text)
    return Turn(state, (Reply(texts.ASK_YES_NO, expects="yes_no"),))


def _after_location(state: State, context: Context) -> Turn:
    """On to the description, or straight to the questions when we already have one."""
    if state.draft.get("description"):
        return asking.ask_next(state, context)
    state.name = DESCRIPTION
    return Turn(state, (question(state, context),))


def _accept(state: State, address: str, context: Context) -> Turn:
    """Keep the address as typed, without coordinates, and move on."""
    state.draft.update(address=address, lat=None, lon=None)
    return _after_location(state, context)


def _description(state: State, text: str, context: Context) -> Turn:
    """Any text is the description; then the service's questions, if it has any."""
    if not text:
        return Turn(state, (prompts.ask_description(),))
    state.draft["description"] = text[:DESCRIPTION_LIMIT]
    return asking.ask_next(state, context)


def _confirm(state: State, text: str, context: Context) -> Turn:
    """YES files the report (after any question the catalogue added meanwhile), NO cancels."""
    answer = yes_or_no(text)
    if answer is None:
        return Turn(state, (Reply(texts.ASK_YES_NO, expects="yes_no"),))
    if not answer:
        return Turn(State(), (Reply(texts.CANCELLED),))
    if asking.pending(state, context):
        return asking.ask_next(state, context)
    draft = state.draft
    report = FileReport(
        service_code=draft.get("service_code", ""),
        service_name=draft.get("service_name", ""),
        description=draft.get("description", ""),
        address=draft.get("address", ""),
        lat=draft.get("lat"),
        lon=draft.get("lon"),
        attributes=asking.given(draft),
        media=tuple(draft.get("media", ())),
    )
    return Turn(State(), (Reply(texts.SENDING),), (report,))


_HANDLERS: dict[str, Callable[[State, str, Context], Turn]] = {
    IDLE: _idle,
    SERVICE: _service,
    LOCATION: _location,
    LOCATION_CONFIRM: _location_confirm,
    DESCRIPTION: _description,
    CONFIRM: _confirm,
}


# --- answers to actions -------------------------------------------------------------------


def _on_geocoded(state: State, event: Geocoded, context: Context) -> Turn:
    """Read a found address back, accept an unchecked one, or ask again."""
    if state.name != LOCATION or state.draft.get("geocode_query") != event.query:
        return Turn(state)
    query = state.draft.pop("geocode_query")
    if event.failed:
        turn = _accept(state, query, context)
        return Turn(turn.state, prompts.with_lead(texts.ADDRESS_UNCHECKED, turn.replies[0]))
    located = [p for p in event.places if p.lat is not None and p.lon is not None]
    if located:
        place = located[0]
        state.draft.update(address=place.address, lat=place.lat, lon=place.lon)
        state.name = LOCATION_CONFIRM
        return Turn(state, (prompts.address_found(place.address),))
    if event.places:
        return _accept(state, event.places[0].address or query, context)
    return Turn(state, (prompts.address_not_found(context.city),))


def _on_status_found(state: State, event: StatusFound, context: Context) -> Turn:
    """Tell the resident the status, then repeat the question of a report in progress."""
    if state.draft.get("status_number") != event.number:
        return Turn(state)
    del state.draft["status_number"]
    state = asking.settle(state, context)
    if event.failed:
        reply = Reply(texts.STATUS_UNAVAILABLE)
    elif event.status is None:
        reply = Reply(texts.STATUS_NOT_FOUND.format(number=event.number))
    else:
        reply = prompts.status_found(event.number, event.status, event.notes, event.service_name)
    again = question(state, context)
    return Turn(state, (reply,) + ((again,) if again else ()))
