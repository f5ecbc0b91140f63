"""Building the engine's replies from texts.py, in the resident's language, sized to fit SMS.

English replies keep the budgets the module names (most one segment, menus and the summary
two); a translation may take more, but never more than three segments (fitting.MOST).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from . import dates, texts
from .fitting import MOST, cut, fit
from .language import ENGLISH, Language
from .plaintext import render
from .segments import cost
from .types import Draft, Place, Reply, ReportLine, Service

PAGE_SIZE = 6
ADDRESS_ROOM = 60  # characters of an address kept inside a longer sentence
SERVICE_ROOM = 40  # characters of a service name kept inside a sentence
SUMMARY_BUDGET = LIST_BUDGET = 2
OPTION_ROOMS = (32, 24, 16, 12)  # characters an option name is cut to, in turn, to fit MOST


def pages(services: Sequence[Service]) -> int:
    """How many menu pages the services take."""
    return max(1, -(-len(services) // PAGE_SIZE))


def page_of(services: Sequence[Service], page: int) -> tuple[Service, ...]:
    """The services shown on a menu page (0-based, wrapping around)."""
    page %= pages(services)
    return tuple(services[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])


def menu(
    services: Sequence[Service],
    page: int,
    lead: str = texts.MENU_ASK,
    say: Language = ENGLISH,
    groups: bool = False,
) -> Reply:
    """The numbered menu of one page of services (OTHER offered when there are groups)."""
    parts = [say(lead), say(texts.MENU_HOW)]
    if pages(services) > 1:
        parts.append(say(texts.MENU_MORE))
    if groups:
        parts.append(say(texts.MENU_OTHER))
    options = tuple(say.service(service.name) for service in page_of(services, page))
    return listing(" ".join(parts), options, say)


def listing(text: str, options: Sequence[str], say: Language = ENGLISH) -> Reply:
    """A numbered choice, option names cut shorter while it is over budget (English two
    segments, other languages MOST)."""
    budget = LIST_BUDGET if say.english else MOST
    reply = Reply(text, options=tuple(options), expects="choice")
    for room in OPTION_ROOMS:
        if cost(render(reply)) <= budget:
            break
        reply = Reply(
            text, options=tuple(cut(option, room) for option in options), expects="choice"
        )
    return reply


def group_menu(groups: Sequence[str], say: Language = ENGLISH) -> Reply:
    """The catalogue's groups, to choose from."""
    return listing(say(texts.GROUPS_ASK), [say.service(g) for g in groups], say)


def shortlist(services: Sequence[Service], say: Language = ENGLISH) -> Reply:
    """A few close candidates to choose from."""
    return listing(say(texts.SHORTLIST), [say.service(s.name) for s in services], say)


def number_range(count: int, say: Language = ENGLISH) -> Reply:
    """Asks for a number from the offered list."""
    return Reply(say(texts.NUMBER_RANGE).format(count=count))


def service_taken(name: str, say: Language = ENGLISH) -> str:
    """Says which service was understood."""
    return say(texts.SERVICE_TAKEN).format(service=cut(say.service(name), SERVICE_ROOM))


def ask_location(say: Language = ENGLISH) -> Reply:
    """Asks where the problem is."""
    return Reply(say(texts.ASK_LOCATION), expects="location")


def address_found(address: str, say: Language = ENGLISH) -> Reply:
    """Reads a geocoded address back for a yes or no (up to ADDRESS_ROOM of it kept whole)."""
    return _read_back(say(texts.ADDRESS_FOUND), address)


def photo_place(address: str, say: Language = ENGLISH) -> Reply:
    """Offers where the resident's photo was taken as the location, for a yes or no (its
    reverse-geocoded name read back like an address; none known: the plain question)."""
    if not address:
        return Reply(say(texts.PHOTO_PLACE_PLAIN), expects="yes_no")
    return _read_back(say(texts.PHOTO_PLACE), address)


def _read_back(template: str, address: str) -> Reply:
    """A yes/no question naming an address, up to ADDRESS_ROOM of it kept whole."""
    keep = min(len(address), ADDRESS_ROOM)
    return Reply(
        fit(lambda value: template.format(address=value), address, keep=keep), expects="yes_no"
    )


def address_taken(address: str, say: Language = ENGLISH) -> str:
    """Says which address was found, before the next question (in one segment, up to
    ADDRESS_ROOM of it kept whole)."""
    build = say(texts.ADDRESS_TAKEN).format
    short = cut(address, ADDRESS_ROOM)
    return fit(lambda value: build(address=value), short, budgets=(1,), keep=len(short))


def address_not_found(city: str, say: Language = ENGLISH) -> Reply:
    """Says the address was not found in the city."""
    build = say(texts.ADDRESS_NOT_FOUND).format
    text = fit(lambda value: build(city=value), city or say(texts.THE_CITY), budgets=(1,), keep=0)
    return Reply(text, expects="location")


def ask_description(say: Language = ENGLISH) -> Reply:
    """Asks for a few words about the problem."""
    return Reply(say(texts.ASK_DESCRIPTION))


def pin_taken(pin: Place, say: Language = ENGLISH) -> str:
    """A shared pin taken as the location, read back as the street address it is near (the
    worker names it), when it has one."""
    if not pin.address:
        return say(texts.PIN_TAKEN)
    build = say(texts.PIN_NEAR).format
    short = cut(pin.address, ADDRESS_ROOM)
    return fit(lambda value: build(address=value), short, budgets=(1,), keep=len(short))


def confirm(draft: Draft, say: Language = ENGLISH, details: bool = False) -> Reply:
    """The numbered summary to send, change or cancel; `details` offers the optional
    questions (4)."""
    service = cut(say.service(draft.service_name), SERVICE_ROOM)
    place = draft.place or Place("")
    shared = say(texts.SHARED_LOCATION) if place.lat is not None else ""
    address = cut(place.address or shared, ADDRESS_ROOM)
    how = say(texts.CONFIRM_HOW_DETAILS if details else texts.CONFIRM_HOW)

    def build(description: str) -> str:
        summary = say(texts.CONFIRM).format(
            service=service, address=address, description=description
        )
        return f"{summary}\n{how}"

    text = fit(build, draft.description, budgets=(SUMMARY_BUDGET,))
    return Reply(text, expects="yes_no")


def sentence(text: str) -> str:
    """The text with a full stop added unless it already ends a sentence."""
    text = text.strip()
    return text if not text or text[-1] in ".!?\u3002" else text + "."


def status_found(
    number: str,
    status: str,
    notes: str,
    service_name: str,
    say: Language = ENGLISH,
    expected: datetime | None = None,
    zone: str = "",
) -> Reply:
    """A request's status, with the city's notes cut to fit and the day it expects to finish
    (on `zone`'s calendar)."""
    template = say(texts.STATUS_FOUND if service_name else texts.STATUS_FOUND_BARE)
    service = cut(say.service(service_name), SERVICE_ROOM)
    when = expected_by(status, expected, say, zone)

    def build(value: str) -> str:
        extra = " " + sentence(value) if value else ""
        said = sentence(status)
        return template.format(number=number, service=service, status=said, notes=extra) + when

    return Reply(fit(build, notes.strip(), keep=0))


def expected_by(status: str, expected: datetime | None, say: Language, zone: str = "") -> str:
    """The " Expected by <day>." sentence, or "" without a date or once the request is closed."""
    if expected is None or is_closed(status):
        return ""
    return say(texts.EXPECTED).format(date=dates.day(expected, say, zone or None))


def is_closed(status: str) -> bool:
    """Whether the city's status is GeoReport v2's closed (whatever its case)."""
    return status.strip().rstrip(".").casefold() == "closed"


def my_reports(reports: Sequence[ReportLine], say: Language = ENGLISH, zone: str = "") -> Reply:
    """The resident's latest reports, one line each with the day filed (on `zone`'s calendar),
    as many as fit two segments."""
    if not reports:
        return Reply(say(texts.MY_REPORTS_NONE))
    lines = [say(texts.MY_REPORTS)]
    for report in reports:
        line = say(texts.MY_REPORT_LINE).format(
            number=report.number or say(texts.NUMBER_PENDING),
            service=cut(say.service(report.service_name), 24),
            status=report.status or say(texts.MY_REPORT_PENDING),
        )
        if report.filed_at:
            line += f" ({dates.day(report.filed_at, say, zone or None)})"
        if cost("\n".join(lines + [line])) > 2 and len(lines) > 1:
            break
        lines.append(line)
    return Reply("\n".join(lines))


def language_menu(names: Sequence[str], say: Language = ENGLISH) -> Reply:
    """The languages the bot speaks, each in its own name."""
    return Reply(say(texts.LANGUAGE_ASK), options=tuple(names), expects="choice")


def emergency(number: str, say: Language = ENGLISH) -> Reply:
    """Tells the resident to call the emergency number now."""
    return Reply(say(texts.EMERGENCY).format(number=number))


def paused(service_name: str, say: Language = ENGLISH) -> Reply:
    """Ends an idle conversation, keeping its report for later."""
    if not service_name:
        return Reply(say(texts.PAUSED_PLAIN))
    service = cut(say.service(service_name), SERVICE_ROOM)
    return Reply(say(texts.PAUSED).format(service=service))


def ask_resume(service_name: str, say: Language = ENGLISH) -> Reply:
    """Offers to finish a report left unfinished."""
    if not service_name:
        return Reply(say(texts.ASK_RESUME_PLAIN), expects="yes_no")
    service = cut(say.service(service_name), SERVICE_ROOM)
    return Reply(say(texts.ASK_RESUME).format(service=service), expects="yes_no")


def confirm_asking_consent(
    draft: Draft, say: Language = ENGLISH, details: bool = False
) -> tuple[Reply, ...]:
    """The first summary: with it, whether the city may contact the resident (YES), or not
    (PRIVATE); in one message when that costs no extra segment."""
    summary = confirm(draft, say, details)
    tail = say(texts.CONFIRM_CONSENT)
    joined = Reply(f"{summary.text}\n{tail}", summary.options, "yes_no_private")
    if cost(render(joined)) <= cost(render(summary)):
        return (joined,)
    return (Reply(summary.text, summary.options), Reply(tail, expects="yes_no_private"))


def with_lead(lead: str, reply: Reply) -> tuple[Reply, ...]:
    """The lead sentence put in front of the reply when that costs no extra segment."""
    joined = Reply(f"{lead} {reply.text}", reply.options, reply.expects)
    if cost(render(joined)) <= cost(render(reply)):
        return (joined,)
    return (Reply(lead), reply)
