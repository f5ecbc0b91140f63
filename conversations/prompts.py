"""Building the engine's replies from texts.py, sized to fit their SMS budget."""

from __future__ import annotations

from . import texts
from .fitting import cut, fit
from .plaintext import render
from .segments import segments
from .types import Reply, Service

PAGE_SIZE = 6
ADDRESS_ROOM = 60  # characters of an address kept inside a longer sentence


def pages(services: tuple[Service, ...]) -> int:
    """How many menu pages the catalogue takes."""
    return max(1, -(-len(services) // PAGE_SIZE))


def page_of(services: tuple[Service, ...], page: int) -> tuple[Service, ...]:
    """The services shown on a menu page (0-based, wrapping around)."""
    page %= pages(services)
    return services[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]


def menu(services: tuple[Service, ...], page: int, lead: str = texts.MENU_ASK) -> Reply:
    """The numbered menu of one page of services."""
    parts = [lead, texts.MENU_HOW]
    if pages(services) > 1:
        parts.append(texts.MENU_MORE)
    options = tuple(service.name for service in page_of(services, page))
    return Reply(" ".join(parts), options=options, expects="choice")


def shortlist(services: tuple[Service, ...]) -> Reply:
    """A few close candidates to choose from."""
    return Reply(texts.SHORTLIST, options=tuple(s.name for s in services), expects="choice")


def number_range(count: int) -> Reply:
    """Asks for a number from the offered list."""
    return Reply(texts.NUMBER_RANGE.format(count=count))


def ask_location() -> Reply:
    """Asks where the problem is."""
    return Reply(texts.ASK_LOCATION, expects="location")


def address_found(address: str) -> Reply:
    """Reads a geocoded address back for a yes or no."""
    build = texts.ADDRESS_FOUND.format
    return Reply(fit(lambda value: build(address=value), address), expects="yes_no")


def address_not_found(city: str) -> Reply:
    """Says the address was not found in the city."""
    build = texts.ADDRESS_NOT_FOUND.format
    text = fit(lambda value: build(city=value), city or texts.THE_CITY, budgets=(1,), keep=0)
    return Reply(text, expects="location")


def ask_description() -> Reply:
    """Asks for a few words about the problem."""
    return Reply(texts.ASK_DESCRIPTION)


def confirm(draft: dict) -> Reply:
    """The summary to send or cancel."""
    service = draft.get("service_name", "")
    shared = texts.SHARED_LOCATION if draft.get("lat") is not None else ""
    address = cut(draft.get("address") or shared, ADDRESS_ROOM)

    def build(description: str) -> str:
        return texts.CONFIRM.format(service=service, address=address, description=description)

    return Reply(fit(build, draft.get("description") or ""), expects="yes_no")


def sentence(text: str) -> str:
    """The text with a full stop added unless it already ends a sentence."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def status_found(number: str, status: str, notes: str, service_name: str) -> Reply:
    """A request's status, with the city's notes cut to fit."""
    template = texts.STATUS_FOUND if service_name else texts.STATUS_FOUND_BARE

    def build(value: str) -> str:
        extra = " " + sentence(value) if value else ""
        return template.format(
            number=number, service=service_name, status=sentence(status), notes=extra
        )

    return Reply(fit(build, notes.strip(), keep=0))


def with_lead(lead: str, reply: Reply) -> tuple[Reply, ...]:
    """The lead sentence put in front of the reply when that costs no extra segment."""
    joined = Reply(f"{lead} {reply.text}", reply.options, reply.expects)
    if segments(render(joined)) <= segments(render(reply)):
        return (joined,)
    return (Reply(lead), reply)
