"""The dialogue as one pure function: step(state, event, context) -> Turn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from . import asking, history, locating, nearby, prompts, texts
from .addresses import find_address
from .answers import number, yes_or_no
from .commands import (
    AGENT,
    BACK,
    HELP,
    LANGUAGE,
    MY_REPORTS,
    RESTART,
    START,
    STATUS,
    Command,
    command_forms,
    normal,
    parse_command,
)
from .detect import detect
from .emergency import is_emergency
from .fitting import MOST, fit
from .language import Language
from .matching import meaningful_words, pick_service
from .privacy import mask_contacts
from .segments import measured_in
from .states import DESCRIPTION_LIMIT, READ_LIMIT, StateName
from .types import (
    ContactDetails,
    Context,
    Draft,
    Event,
    FileReport,
    Geocode,
    Geocoded,
    HandOff,
    ListReports,
    LookupStatus,
    Message,
    Nearby,
    Place,
    Reply,
    ReportLine,
    ReportsListed,
    Service,
    Snapshot,
    State,
    StatusFound,
    TimedOut,
    Turn,
)

MORE_WORDS = frozenset({"more", "next", "more please"})
OTHER_WORDS = frozenset({"other", "others", "something else", "none of these", "none", "all"})
RESUME_WORDS = frozenset({"resume", "continue"})
EDIT_WORDS = {
    1: (
        "change type",
        "change service",
        "change category",
        "change the type",
        "wrong type",
        "wrong service",
        "change problem",
    ),
    2: (
        "change location",
        "change address",
        "change the address",
        "change the location",
        "wrong address",
        "wrong location",
        "change place",
    ),
    3: (
        "change description",
        "change the description",
        "change details",
        "edit description",
        "change words",
    ),
}
EDIT_GROUPS = {1: "edit service", 2: "edit location", 3: "edit description"}
DETAILS = 4  # in the summary: answer the service's optional questions
DETAILS_WORDS = frozenset({"details", "add details", "more details", "add more details", "add"})
PRIVATE_WORDS = frozenset(
    {
        "private",
        "privately",
        "send private",
        "send privately",
        "yes private",
        "private please",
        "anonymous",
        "anonymously",
        "send anonymously",
        "yes anonymous",
        "no contact",
        "send without",
        "send without contact",
        "dont contact me",
        "don't contact me",
        "do not contact me",
        "yes but dont contact me",
        "yes but don't contact me",
    }
)
ENGLISH_NAMES = frozenset(
    {
        "english",
        "en",
        "ingles",
        "ingl\u00e9s",
        "\u82f1\u8bed",
        "\u82f1\u6587",
        "ti\u1ebfng anh",
        "tieng anh",
    }
)
DESCRIBING_WORDS = 3  # a message with at least this many words also serves as the description
DESCRIBING_CHARACTERS = 5  # or this many Chinese characters
UNCLEAR_HANDOFF = 2  # messages in a row not understood before a person is asked for
HANDOFF_OFF, HANDOFF_OPEN, HANDOFF_CLOSED = "off", "open", "closed"  # Context.handoff
REPORT_STATES = frozenset(
    {
        StateName.SERVICE,
        StateName.LOCATION,
        StateName.LOCATION_CONFIRM,
        StateName.DESCRIPTION,
        StateName.QUESTIONS,
        StateName.CONSENT,
        StateName.CONFIRM,
        StateName.DUPLICATE,
    }
)


def step(state: State, event: Event, context: Context) -> Turn:
    """Advance one conversation by one event; never mutates the given state."""
    with measured_in(context.message_chars):
        return _step(state.copy(), event, context)


def _step(state: State, event: Event, context: Context) -> Turn:
    if isinstance(event, Message):
        return _on_message(state, event, context)
    if isinstance(event, Geocoded):
        return _on_geocoded(state, event, context)
    if isinstance(event, StatusFound):
        return _on_status_found(state, event, context)
    if isinstance(event, ReportsListed):
        return _on_reports_listed(state, event, context)
    if isinstance(event, TimedOut):
        return _on_timed_out(state, context)
    if isinstance(event, Nearby):
        return _on_nearby(state, event, context)
    return Turn(state)


def _say(state: State, context: Context) -> Language:
    return context.language(state.language)


# --- the current question -----------------------------------------------------------------


def stale_tap(state: State, context: Context) -> Turn:
    """A button from an earlier message was tapped: say so and ask the current question."""
    lead = Reply(_say(state, context)(texts.OLD_BUTTON))
    with measured_in(context.message_chars):
        return Turn(state, (lead,) + asked(state, context))


def asked(state: State, context: Context) -> tuple[Reply, ...]:
    """The question the conversation is waiting on, as a turn's replies (none when idle)."""
    if state.name in (StateName.CONFIRM, StateName.CONSENT):
        return asking.summary(state, context)
    if state.name == StateName.QUESTIONS:
        return asking.ask_again(state, context)
    if state.name == StateName.DUPLICATE and not state.draft.nearby:
        return asking.summary(state, context)  # its look-up never answered: _duplicate
    found = question(state, context)
    return (found,) if found is not None else ()


def question(state: State, context: Context) -> Reply | None:
    """The one-message question of a state other than the service's questions and the summary
    (which `asked` gives whole), asked again; None when idle."""
    draft, say = state.draft, _say(state, context)
    if state.name == StateName.SERVICE:
        if draft.groups:
            return prompts.group_menu(draft.groups, say)
        offered = _services(state.offered, context)
        if draft.page is not None or len(offered) != len(state.offered) or not offered:
            listed = _listed(state, context)
            return prompts.menu(
                listed,
                draft.page or 0,
                texts.MENU_ASK,
                say,
                groups=_has_groups(context) and not draft.group,
            )
        return prompts.shortlist(offered, say)
    if state.name == StateName.LOCATION:
        return prompts.ask_location(say)
    if state.name == StateName.DUPLICATE and draft.nearby:
        return nearby.offer(draft, context, say)
    if state.name == StateName.LOCATION_CONFIRM:
        if history.asks_photo_place(state) and draft.photo_place is not None:
            return prompts.photo_place(draft.photo_place.address, say)
        if draft.candidates:
            return locating.choices(draft.candidates, say)
        return prompts.address_found(draft.place.address if draft.place else "", say)
    if state.name == StateName.DESCRIPTION:
        return prompts.ask_description(say)
    if state.name == StateName.RESUME:
        return prompts.ask_resume(draft.held.draft.service_name if draft.held else "", say)
    if state.name == StateName.LANGUAGE:
        return prompts.language_menu(_language_names(state.offered, context), say)
    return None


def _services(codes: list[str], context: Context) -> tuple[Service, ...]:
    """The catalogue's services with these codes, in the codes' order (unknown ones dropped)."""
    by_code = {service.code: service for service in context.services}
    return tuple(by_code[code] for code in codes if code in by_code)


def _led(lead: str, turn: Turn) -> Turn:
    """The turn with a lead sentence before its first reply (joined when that costs no
    segment); its other replies, such as the first summary's consent question, kept. A turn
    that waits on the worker (the nearby check) has none yet: the lead goes alone."""
    if not turn.replies:
        return Turn(turn.state, (Reply(lead),), turn.actions)
    replies = prompts.with_lead(lead, turn.replies[0]) + turn.replies[1:]
    return Turn(turn.state, replies, turn.actions)


def _again(state: State, context: Context, *lead: Reply) -> Turn:
    """The lead replies, then the current question (if any) asked again."""
    return Turn(state, lead + asked(state, context))


# --- messages -----------------------------------------------------------------------------


def _on_message(state: State, message: Message, context: Context) -> Turn:
    """Commands, languages and emergencies first, then pins and photos, then the state."""
    # The words read are bounded (READ_LIMIT): a turn costs the same for a megabyte.
    text = (message.text or "").strip()[:READ_LIMIT].rstrip()
    # Messages in a row not understood: any message understood (a command too) resets it.
    unclear, state.unclear = state.unclear, 0
    # Photos are kept whatever the words do (even YES, HELP).
    if message.media and state.name != StateName.IDLE:
        _add_media(state, message.media)
    command = _command(state, text, context)
    if command:
        return _on_command(state, command, context)
    named = _language_named(text, context)
    if named:
        return _set_language(state, named, context)
    _follow_language(state, text, context)
    if text and is_emergency(text, context.languages):
        return Turn(state, (prompts.emergency(context.emergency_number, _say(state, context)),))
    if state.name == StateName.IDLE and state.draft.held is not None:
        return _offer_resume(state, text, context)
    before = state.copy(shared_history=True)  # read, never changed: its history is not copied
    if message.location is not None and message.location_outside:
        turn = _again(state, context, locating.outside(context, _say(state, context)))
    elif message.location is not None:
        turn = _on_pin(state, message.location, context)
    elif message.media and not text:
        turn = _on_photo(state, context)
    elif state.name == StateName.QUESTIONS:  # the one handler that needs the time: "yesterday 5pm"
        turn = asking.answer(state, text, message.at, context)
    elif state.name in _HANDLERS:
        turn = _HANDLERS[state.name](state, text, context)
    else:  # a state this version does not know: start afresh
        turn = _idle(state.fresh(), text, context)
    turn = _use_pin(_carry(before, turn, message.media), context)
    turn = _use_photo_place(before, turn, message.photo_location, context)
    if before.name in REPORT_STATES and turn.state.name in REPORT_STATES:
        history.record(before, turn.state)
    return _count_unclear(unclear, turn, context)


def _unclear(turn: Turn) -> Turn:
    """Mark the turn's message as not understood (its question asked again)."""
    turn.state.unclear = 1
    return turn


def _count_unclear(before: int, turn: Turn, context: Context) -> Turn:
    """Count a message not understood after `before` such in a row; the second hands the
    conversation to a person (staff in: they answer; out: flagged for them, the bot goes on)."""
    if not turn.state.unclear:
        return turn
    count = min(before + 1, UNCLEAR_HANDOFF)
    turn.state.unclear = count
    if count < UNCLEAR_HANDOFF or context.handoff not in (HANDOFF_OPEN, HANDOFF_CLOSED):
        return turn
    turn.state.unclear = 0
    action = HandOff("not_understood")
    if context.handoff == HANDOFF_CLOSED:  # flagged for staff; the question stands
        return Turn(turn.state, turn.replies, turn.actions + (action,))
    say = _say(turn.state, context)
    passed = say(texts.HANDOFF_UNCLEAR) + " " + _passing(context, say)
    return Turn(turn.state, (Reply(passed),), turn.actions + (action,))


def _passing(context: Context, say: Language) -> str:
    """ "I'm passing you to a person from <city>", in the resident's language."""
    return say(texts.HANDOFF_OPEN).format(city=context.city or say(texts.THE_CITY))


def _hand_off(state: State, context: Context) -> Turn:
    """AGENT: a person answers (staff in), or the resident is told when they are in and the
    bot goes on (flagged for staff all the same), or that no person can take over here."""
    state = asking.settle(state, context)
    say = _say(state, context)
    if context.handoff == HANDOFF_OPEN:
        return Turn(state, (Reply(_passing(context, say)),), (HandOff("asked"),))
    if context.handoff == HANDOFF_CLOSED:
        # Fitted to the most a reply may take (MOST segments): many ranges in a long language,
        # or a city's long text, are cut rather than sent over the limit.
        closed = fit(lambda text: text, context.handoff_closed_text, budgets=(MOST,))
        if not context.handoff_closed_text:
            template = say(texts.HANDOFF_CLOSED)
            closed = fit(lambda hours: template.format(hours=hours), context.handoff_hours, (MOST,))
        turn = _again(state, context, Reply(closed))
        return Turn(turn.state, turn.replies, (HandOff("asked"),))
    return _again(state, context, Reply(say(texts.HANDOFF_OFF)))


def taken_over(state: State, context: Context) -> Reply:
    """What the resident is told when a member of staff takes the conversation over."""
    say = _say(state, context)
    with measured_in(context.message_chars):
        return Reply(say(texts.HANDOFF_TAKEN).format(city=context.city or say(texts.THE_CITY)))


def handed_back(state: State, context: Context, lead: str = "") -> Turn:
    """What the resident is told when staff hand the conversation back to the bot: the report
    they were making is kept and its question asked again (none: how to start one). `lead`
    comes first (why, when nobody answered)."""
    say = _say(state, context)
    state = state.copy()
    state.unclear = 0
    with measured_in(context.message_chars):
        question = asked(state, context)
        if question:
            replies = prompts.with_lead(say(texts.HANDOFF_BACK), question[0]) + question[1:]
        else:
            replies = (Reply(say(texts.HANDOFF_BACK_IDLE)),)
        if lead:
            replies = (Reply(lead),) + replies
        return Turn(state, replies)


def no_answer(state: State, context: Context) -> Turn:
    """Nobody took the conversation in time: the resident is told, and the bot is back."""
    say = _say(state, context)
    lead = say(texts.HANDOFF_NO_ANSWER).format(city=context.city or say(texts.THE_CITY))
    return handed_back(state, context, lead)


def emergency_reply(state: State, text: str | None, context: Context) -> Reply | None:
    """The 911 prompt when the message reads like an emergency, else None: for a message the
    engine does not step (a person has the conversation), which must still get it."""
    text = (text or "").strip()[:READ_LIMIT].rstrip()
    if text and is_emergency(text, context.languages):
        return prompts.emergency(context.emergency_number, _say(state, context))
    return None


def takes_bot_back(state: State, text: str | None, context: Context) -> bool:
    """Whether the message is RESTART or START (in any language the bot speaks): a resident
    waiting for a person who says it has the bot back."""
    text = (text or "").strip()[:READ_LIMIT].rstrip()
    command = _command(state.copy(), text, context)
    return command is not None and command.name in (RESTART, START)


def _command(state: State, text: str, context: Context) -> Command | None:
    """A command in the resident's language, or in another one (which then becomes theirs)."""
    forms = command_forms(text)
    if forms is None:
        return None
    command = parse_command(text, _say(state, context), forms)
    if command:
        return command
    for code, language in context.languages.items():
        if code != (state.language or "en"):
            command = parse_command(text, language, forms)
            if command:
                if not state.language_chosen:
                    state.language = "" if code == "en" else code
                return command
    return None


def _follow_language(state: State, text: str, context: Context) -> None:
    """Switch to the language the resident writes in, unless they chose one with LANGUAGE."""
    locating = state.name in (StateName.LOCATION, StateName.LOCATION_CONFIRM)
    if state.language_chosen or not text or locating:
        return
    words = find_address(text)[1]
    found = detect(words, context.languages)
    if found and found != (state.language or "en"):
        state.language = "" if found == "en" else found


# --- pins and photos ------------------------------------------------------------------------


def _carry(before: State, turn: Turn, media: tuple[str, ...]) -> Turn:
    """Keep the pin and photos of the report in progress in whatever draft comes next: they
    live as long as the report being made."""
    draft = turn.state.draft
    if turn.state.name == StateName.IDLE:
        return turn
    if before.draft.pin is not None and draft.pin is None:
        draft.pin = before.draft.pin
    # The photo's place, unless the message answered the question offering it.
    answered = history.asks_photo_place(before)
    if before.draft.photo_place is not None and draft.photo_place is None and not answered:
        draft.photo_place = before.draft.photo_place
    if before.draft.media and not draft.media:
        draft.media = before.draft.media
    _add_media(turn.state, media)
    return turn


def _add_media(state: State, media: tuple[str, ...]) -> None:
    known = list(state.draft.media)
    fresh = [m for m in media if m not in known]
    if fresh:
        state.draft.media = known + fresh


def _on_pin(state: State, place: Place, context: Context) -> Turn:
    """A shared location: exact, so it is taken without reading it back."""
    say = _say(state, context)
    pin = Place(place.address, place.lat, place.lon)
    if state.name == StateName.SERVICE:  # keep the menu or shortlist the resident is looking at
        state.draft.pin = pin
        return _again(state, context, Reply(say(texts.PIN_TAKEN)))
    if state.name == StateName.IDLE:
        if not context.services:
            return Turn(state.fresh(), (Reply(say(texts.CATALOGUE_DOWN)),))
        turn = _show_menu(state.fresh(), context, 0, texts.PIN_FIRST)
        turn.state.draft.pin = pin
        return turn
    if state.name in (StateName.LOCATION, StateName.LOCATION_CONFIRM):
        state.name = StateName.LOCATION
        state.draft.pin, state.draft.candidates = pin, []
        return Turn(state)
    state.draft.place, state.draft.candidates = pin, []
    if state.name in (StateName.CONFIRM, StateName.DUPLICATE):  # a new place: checked again
        state.draft.nearby = []
        return _led(say(texts.PIN_UPDATED), asking.ask_next(state, context))
    return _again(state, context, Reply(say(texts.PIN_UPDATED)))


def _use_pin(turn: Turn, context: Context) -> Turn:
    """When the location is wanted and a pin was shared, use the pin instead of asking."""
    state, draft = turn.state, turn.state.draft
    if state.name != StateName.LOCATION or draft.pin is None:
        return turn
    say = _say(state, context)
    draft.place, draft.pin, draft.geocode_query = draft.pin, None, None
    draft.candidates = []
    after = _after_location(state, context)
    lead = prompts.pin_taken(draft.place, say)
    if turn.replies and draft.service_name:
        lead = prompts.service_taken(draft.service_name, say) + " " + lead
    return _led(lead, after)


def _use_photo_place(
    before: State, turn: Turn, photo_location: Place | None, context: Context
) -> Turn:
    """Keep where the message's photo was taken while the report has no location (a place
    typed, pinned or being looked up wins over it), and offer it, for a YES or NO, when the
    location is asked."""
    state, draft = turn.state, turn.state.draft
    if state.name not in REPORT_STATES:
        return turn
    if draft.place is not None or draft.pin is not None or draft.geocode_query:
        draft.photo_place = None
        return turn
    found = photo_location
    if draft.photo_place is None and found and found.lat is not None and found.lon is not None:
        draft.photo_place = Place(found.address, found.lat, found.lon)
    if state.name != StateName.LOCATION or draft.photo_place is None:
        return turn
    state.name = StateName.LOCATION_CONFIRM  # the read-back's question, about the photo's place
    draft.candidates = []  # its YES or NO, never a number of an older choice
    say = _say(state, context)
    offer = prompts.photo_place(draft.photo_place.address, say)
    if before.name in (StateName.IDLE, StateName.SERVICE) and draft.service_name:
        lead = prompts.service_taken(draft.service_name, say)
        return Turn(state, prompts.with_lead(lead, offer), turn.actions)
    return Turn(state, (offer,), turn.actions)


def _on_photo(state: State, context: Context) -> Turn:
    """A photo without words: kept for the report; the question stands."""
    if state.name == StateName.IDLE:
        if not context.services:
            return Turn(state.fresh(), (Reply(_say(state, context)(texts.CATALOGUE_DOWN)),))
        return _show_menu(state.fresh(), context, 0, texts.PHOTO_FIRST)
    return _again(state, context, Reply(_say(state, context)(texts.PHOTO_ADDED)))


# --- commands -----------------------------------------------------------------------------


def _on_command(state: State, command: Command, context: Context) -> Turn:
    """HELP, RESTART, START, BACK, STATUS, MY REPORTS and LANGUAGE, which work in every state."""
    say = _say(state, context)
    if command.name == HELP:
        state = asking.settle(state, context)
        return _again(state, context, Reply(say(texts.HELP)))
    if command.name == RESTART:
        return Turn(state.fresh(), (Reply(say(texts.CANCELLED)),))
    if command.name == AGENT:
        return _hand_off(state, context)
    if command.name == START:
        return _idle(state.fresh(), "", context)
    if command.name == BACK:
        return _back(state, context)
    if command.name == MY_REPORTS:
        state.draft.listing = True
        return Turn(state, actions=(ListReports(),))
    if command.name == LANGUAGE:
        chosen = _language_named(command.argument or "", context)
        return _set_language(state, chosen, context) if chosen else _language_menu(state, context)
    if command.argument is None:
        return Turn(state, (Reply(say(texts.STATUS_WHICH)),))
    state.draft.status_number = command.argument
    if any(c.isalpha() for c in command.argument):
        state.draft.listing = STATUS  # their own reports first: the city's spelling of it
        return Turn(state, actions=(ListReports(),))
    return Turn(state, actions=(LookupStatus(command.argument),))


def _back(state: State, context: Context) -> Turn:
    """The previous question of the report, or a note that there is none."""
    if state.name == StateName.LANGUAGE:
        return _again(_restore(state.draft.back_to, state), context)
    earlier = history.back(state) if state.name in REPORT_STATES else None
    if earlier is None:
        return _again(state, context, Reply(_say(state, context)(texts.BACK_NONE)))
    return _again(earlier, context)


def _restore(saved: Snapshot | State | None, state: State) -> State:
    """A state kept for later (none: idle), with the resident's language and consent."""
    restored = state.fresh()
    if saved is not None:
        restored.name, restored.draft = saved.name, replace(saved.draft)
        restored.offered = list(saved.offered)
    return restored


# --- languages ----------------------------------------------------------------------------


def _language_named(text: str, context: Context) -> str | None:
    """The code of the language the whole text names ("Espanol", "es", "Chinese"), if any."""
    said = normal(text)
    if not said or len(said) > 30:
        return None
    for code, language in context.languages.items():
        names = ENGLISH_NAMES if code == "en" else (code, language.name.casefold())
        if said in names or language.has("names", said):
            return code
    return None


def _language_names(codes: list[str], context: Context) -> list[str]:
    return [context.language(code).name for code in codes]


def _language_menu(state: State, context: Context) -> Turn:
    """Offer the languages, coming back to the current question once one is chosen."""
    saved = state.copy() if state.name != StateName.LANGUAGE else state.draft.back_to
    menu = state.fresh()
    menu.name, menu.draft, menu.offered = (
        StateName.LANGUAGE,
        Draft(back_to=saved),
        list(context.languages),
    )
    return Turn(menu, asked(menu, context))


def _choose_language(state: State, text: str, context: Context) -> Turn:
    """A number (or name) from the language menu."""
    chosen = number(text)
    if chosen is not None and 1 <= chosen <= len(state.offered):
        return _set_language(state, state.offered[chosen - 1], context)
    say = _say(state, context)
    return _unclear(_again(state, context, prompts.number_range(len(state.offered), say)))


def _set_language(state: State, code: str, context: Context) -> Turn:
    """Speak this language from now on, and ask the current question again in it."""
    if state.name == StateName.LANGUAGE:
        state = _restore(state.draft.back_to, state)
    state.language, state.language_chosen = ("" if code == "en" else code), True
    say = _say(state, context)
    done = Reply(say(texts.LANGUAGE_SET).format(language=say.name))
    if state.name == StateName.IDLE and state.draft.held is None:
        if not context.services:
            return Turn(state, (done,))
        menu = _show_menu(state, context, 0, texts.MENU_ASK)
        return Turn(menu.state, prompts.with_lead(done.text, menu.replies[0]))
    return _again(state, context, done)


# --- a quiet conversation -------------------------------------------------------------------


def _on_timed_out(state: State, context: Context) -> Turn:
    """The resident went quiet: end politely, keeping a report worth finishing for later."""
    say = _say(state, context)
    if state.name == StateName.LANGUAGE:
        state = _restore(state.draft.back_to, state)
    if state.name == StateName.RESUME:
        idle = state.fresh()
        idle.draft.held = state.draft.held
        return Turn(idle)
    if state.name not in REPORT_STATES:
        return Turn(state)
    idle = state.fresh()
    draft = replace(
        state.draft, geocode_query=None, status_number=None, listing=False, nearby_wait=None
    )
    address = draft.place.address if draft.place else ""
    if not (draft.service_code or address or draft.description or draft.media):
        return Turn(idle, (Reply(say(texts.CLOSED)),))
    name = state.name
    if name == StateName.DUPLICATE and not draft.nearby:  # quiet while it was looked up
        name = StateName.CONFIRM  # resumed at the summary (an edit there checks again)
    idle.draft.held = Snapshot(name, draft, state.offered)
    return Turn(idle, (prompts.paused(draft.service_name, say),))


def _offer_resume(state: State, text: str, context: Context) -> Turn:
    """A message after a report was put aside: offer to finish it first."""
    if _says_resume(text, _say(state, context)):
        return _resume(state, context)
    state.name = StateName.RESUME
    state.draft.said = text
    return Turn(state, asked(state, context))


def _yes_no(state: State, text: str, context: Context) -> bool | None:
    """YES or NO in the resident's language, or another's (which then becomes theirs)."""
    answer = yes_or_no(text, _say(state, context))
    if answer is not None:
        return answer
    for code, language in context.languages.items():
        answer = yes_or_no(text, language)
        if answer is not None:
            if not state.language_chosen and code != "en":
                state.language = code
            return answer
    return None


def _says_resume(text: str, say: Language) -> bool:
    word = normal(text)
    return word in RESUME_WORDS or say.has("resume", word)


def _resume_state(state: State, text: str, context: Context) -> Turn:
    """YES brings the report back; NO drops it and reads the message that came after it."""
    answer = _yes_no(state, text, context)
    if answer is None and _says_resume(text, _say(state, context)):
        answer = True
    if answer:
        return _resume(state, context)
    if answer is False:
        return _idle(state.fresh(), state.draft.said, context)
    return _unclear(Turn(state, (Reply(_say(state, context)(texts.ASK_YES_NO), expects="yes_no"),)))


def _resume(state: State, context: Context) -> Turn:
    """The report put aside, back where it was, its question asked again."""
    return _again(_restore(state.draft.held, state), context)


# --- choosing a service ---------------------------------------------------------------------


def _idle(state: State, text: str, context: Context) -> Turn:
    """Any message starts a report: take a clearly named service, else offer the menu."""
    if not context.services:
        return Turn(state.fresh(), (Reply(_say(state, context)(texts.CATALOGUE_DOWN)),))
    fresh = state.fresh()
    return _choose(fresh, text, context) or _show_menu(fresh, context, 0, texts.GREETING)


def _service(state: State, text: str, context: Context) -> Turn:
    """A number from the offered list, MORE, OTHER, or free text naming the service."""
    say = _say(state, context)
    if not context.services:
        return Turn(state.fresh(), (Reply(say(texts.CATALOGUE_DOWN)),))
    chosen = number(text)
    if chosen is not None and state.draft.groups:
        groups = state.draft.groups
        if not 1 <= chosen <= len(groups):
            return _unclear(Turn(state, (prompts.number_range(len(groups), say),)))
        return _show_menu(state, context, 0, texts.MENU_ASK, group=groups[chosen - 1])
    if chosen is not None:
        offered = _services(state.offered, context)
        if len(offered) != len(state.offered) or not offered:  # the catalogue changed
            return _show_menu(state, context, 0, texts.MENU_AGAIN)
        if not 1 <= chosen <= len(offered):
            return _unclear(Turn(state, (prompts.number_range(len(offered), say),)))
        return _take(offered[chosen - 1], state.draft.said, state, context)
    word = normal(text)
    if word in MORE_WORDS or say.has("more", word):
        page = (state.draft.page if state.draft.page is not None else -1) + 1
        return _show_menu(state, context, page, texts.MENU_ASK, group=state.draft.group)
    if word in OTHER_WORDS or say.has("other", word):
        return _show_groups(state, context)
    if not text:
        return _again(state, context)
    return _choose(state, text, context) or _unclear(
        _show_menu(state, context, 0, texts.MENU_AGAIN)
    )


def _synonyms(state: State, context: Context) -> Mapping[str, str]:
    """Phrases for matching: the resident's language's, then the city's own (one mapping for
    the pair, the same every turn, so matching finds its compiled pattern by identity)."""
    own, city = _say(state, context).synonyms, context.synonyms
    if not city:
        return own
    kept = _MERGED.get((id(own), id(city)))
    if kept is None or kept[0] is not own or kept[1] is not city:
        if len(_MERGED) > 32:
            _MERGED.clear()
        kept = _MERGED[(id(own), id(city))] = (own, city, {**own, **city})  # keeps both objects
    return kept[2]


_MERGED: dict[tuple[int, int], tuple[Mapping[str, str], Mapping[str, str], dict[str, str]]] = {}


def _choose(state: State, text: str, context: Context) -> Turn | None:
    """Take the service the text clearly names, or offer a shortlist; None if nothing fits."""
    address, rest = find_address(text)
    if address and not rest:
        return None
    said = rest if address else text
    pick = pick_service(said, context.services, _synonyms(state, context), context.similar)
    if pick.winner:
        return _take(pick.winner, text, state, context)
    if pick.shortlist:
        new = _menu_state(state)
        new.draft.said = text
        new.offered = [service.code for service in pick.shortlist]
        return Turn(new, (prompts.shortlist(pick.shortlist, _say(state, context)),))
    return None


def _describes(text: str) -> bool:
    """Whether a message says enough to serve as the report's description: a few words, one of
    them about the problem (not "there is a problem on my street"); Chinese counts characters."""
    if sum("\u3400" <= c <= "\u9fff" for c in text) >= DESCRIBING_CHARACTERS:
        return True
    return len(text.split()) >= DESCRIBING_WORDS and bool(meaningful_words(text))


def _has_groups(context: Context) -> bool:
    return len({service.group for service in context.services if service.group}) > 1


def _listed(state: State, context: Context) -> tuple[Service, ...]:
    """The services the menu lists: one group's, or the whole catalogue."""
    group = state.draft.group
    in_group = tuple(s for s in context.services if group and s.group == group)
    return in_group or context.services


def _menu_state(state: State) -> State:
    """A service-choosing state; while a field is changed from the summary, the draft stays."""
    new = state.fresh()
    new.name = StateName.SERVICE
    if state.draft.editing:
        new.draft = replace(state.draft, page=None, said="", group="", groups=[])
    return new


def _show_menu(
    state: State, context: Context, page: int, lead: str, group: str | None = None
) -> Turn:
    """Offer one page of the menu (of one group's services when `group` is given)."""
    new = _menu_state(state)
    if group:
        new.draft.group = group
    services = _listed(new, context)
    page %= prompts.pages(services)
    new.draft.page = page
    new.offered = [service.code for service in prompts.page_of(services, page)]
    reply = prompts.menu(
        services, page, lead, _say(state, context), groups=_has_groups(context) and not group
    )
    return Turn(new, (reply,))


def _show_groups(state: State, context: Context) -> Turn:
    """OTHER: the catalogue's groups to choose from (the whole menu when it has none)."""
    if not _has_groups(context):
        return _show_menu(state, context, 0, texts.MENU_ASK)
    groups = list(dict.fromkeys(s.group for s in context.services if s.group))
    new = _menu_state(state)
    new.draft.groups = groups
    return Turn(new, (prompts.group_menu(groups, _say(state, context)),))


def _take(service: Service, said: str, state: State, context: Context) -> Turn:
    """Start a draft for the service from what the resident said (maybe an address too)."""
    say = _say(state, context)
    lead = prompts.service_taken(service.name, say)
    new, kept = state.fresh(), state.draft
    if kept.editing:  # changing the type from the summary keeps the rest
        new.draft = Draft(
            service_code=service.code,
            service_name=service.name,
            description=kept.description,
            contact=kept.contact,
            place=kept.place,
            pin=kept.pin,
            media=kept.media,
            history=kept.history,
            nearby_checked=kept.nearby_checked,  # the same type again is not checked again
        )
        return _led(lead, asking.ask_next(new, context))
    new.draft = Draft(service_code=service.code, service_name=service.name)
    address, rest = find_address(said)
    if _describes(rest):
        _describe(new.draft, said)
    new.name = StateName.LOCATION
    if address:  # BACK from the address read back asks where it is
        new.draft.history = [Snapshot(StateName.LOCATION, replace(new.draft))]
        new.draft.geocode_query = address
        return Turn(new, actions=(Geocode(address),))
    return Turn(new, prompts.with_lead(lead, prompts.ask_location(say)))


def _describe(draft: Draft, text: str) -> None:
    """Keep the resident's words as the description, phone numbers and emails masked."""
    masked, phones, emails = mask_contacts(text[:DESCRIPTION_LIMIT])
    draft.description = masked
    if phones or emails:
        draft.contact = ContactDetails(
            phone=phones[0] if phones else "", email=emails[0] if emails else ""
        )


# --- location and description -------------------------------------------------------------


def _location(state: State, text: str, context: Context) -> Turn:
    """Any text is an address to look up ("sorry, 120 Main St": just the address)."""
    if not text:
        say = _say(state, context)
        return Turn(state, (Reply(say(texts.ASK_LOCATION_EMPTY), expects="location"),))
    return _geocode(state, find_address(text)[0] or text)


def _geocode(state: State, query: str) -> Turn:
    """Ask the worker to look the query up; the answer comes back as a Geocoded event (a typed
    address wins over where a photo was taken)."""
    state.draft.place, state.draft.photo_place = None, None
    state.draft.candidates = []
    state.name = StateName.LOCATION
    state.draft.geocode_query = query
    return Turn(state, actions=(Geocode(query),))


def _location_confirm(state: State, text: str, context: Context) -> Turn:
    """YES goes on, NO asks again, a new address is looked up. The place read back is a
    geocoded address, or where the resident's photo was taken: YES takes that as a pin."""
    if state.draft.candidates:
        return _location_choice(state, text, context)
    answer = _yes_no(state, text, context)
    say = _say(state, context)
    if answer and history.asks_photo_place(state):
        draft = state.draft
        draft.pin, draft.photo_place, draft.candidates = draft.photo_place, None, []
        state.name = StateName.LOCATION
        return Turn(state)  # _use_pin takes it, as a pin shared at the location question
    if answer:
        return _after_location(state, context)
    if answer is False:
        state.draft.place, state.draft.photo_place = None, None
        state.name = StateName.LOCATION
        return Turn(state, (prompts.ask_location(say),))
    address = find_address(text)[0]
    if address:  # "no, it's 122 Main St": look the new address up
        return _geocode(state, address)
    looked_up = text.strip() and number(text) is None and not history.asks_photo_place(state)
    if looked_up:  # at an address read back, "corner of Elm and Oak", "the library"
        return _geocode(state, text)
    return _unclear(Turn(state, (Reply(say(texts.ASK_YES_NO), expects="yes_no"),)))


def _location_choice(state: State, text: str, context: Context) -> Turn:
    """A number takes that place; NO or a new address looks again; else the choice stands."""
    draft, say = state.draft, _say(state, context)
    place = locating.picked(text, draft.candidates)
    if place is not None:
        draft.place, draft.candidates = place, []
        return _found_for_sure(state, place.address, context)
    address = find_address(text)[0]
    if address:
        draft.candidates = []
        return _geocode(state, address)
    answer = _yes_no(state, text, context)
    if answer is False:
        draft.candidates, draft.place = [], None
        state.name = StateName.LOCATION
        return Turn(state, (prompts.ask_location(say),))
    if answer is None and text.strip() and number(text) is None:  # a corner, a landmark
        return _geocode(state, text)  # as at the location question (_geocode clears the choice)
    return _unclear(
        Turn(
            state,
            (Reply(say(texts.ADDRESS_CHOICE_HOW)), locating.choices(draft.candidates, say)),
        )
    )


def _after_location(state: State, context: Context) -> Turn:
    """On to the description, or straight to the questions when we already have one."""
    if state.draft.description:
        return asking.ask_next(state, context)
    state.name = StateName.DESCRIPTION
    return _again(state, context)


def _accept(state: State, address: str, context: Context) -> Turn:
    """Keep the address as typed, without coordinates, and move on."""
    state.draft.place = Place(address)
    return _after_location(state, context)


def _description(state: State, text: str, context: Context) -> Turn:
    """Any text is the description; then the service's questions, if it has any."""
    if not text:
        return Turn(state, (prompts.ask_description(_say(state, context)),))
    _describe(state.draft, text)
    return asking.ask_next(state, context)


# --- consent and the summary ----------------------------------------------------------------


def _consent(state: State, text: str, context: Context) -> Turn:
    """A state stored by an earlier version, which asked consent on its own: take a yes or
    no, then the summary."""
    answer = _yes_no(state, text, context)
    if answer is not None:
        state.consent = answer
    return asking.ask_next(state, context)


def _confirm(state: State, text: str, context: Context) -> Turn:
    """YES files the report (PRIVATE too, without the resident's contact details, and kept
    for later reports), NO drops it, a number or "change ..." edits one field, 4 adds details."""
    say = _say(state, context)
    private = _says_private(text, say)  # at any summary: a consent given once is withdrawn
    answer = True if private else _yes_no(state, text, context)
    if answer is False:
        return Turn(state.fresh(), (Reply(say(texts.CANCELLED)),))
    if answer:
        if asking.pending(state, context):  # the catalogue added a question meanwhile
            return asking.ask_next(state, context)
        if private or state.consent is None:
            state.consent = not private
        return _file(state, context)
    details = asking.optional_left(state, context)
    field = _field_to_change(text, say, details)
    if field == DETAILS:
        state.draft.details = True
        return asking.ask_next(state, context)
    if field is not None:
        return _change(state, field, context)
    address = find_address(text)[0]
    if address:
        return _geocode(state, address)
    how = Reply(say(texts.CONFIRM_HOW_DETAILS if details else texts.CONFIRM_HOW), expects="yes_no")
    if state.consent is None:  # the choice still open: said again, with its own buttons
        consent = Reply(say(texts.CONFIRM_CONSENT), expects="yes_no_private")
        return _unclear(Turn(state, (Reply(how.text), consent)))
    return _unclear(Turn(state, (how,)))


def _says_private(text: str, say: Language) -> bool:
    """Whether the resident asks to send the report without their contact details."""
    said = normal(text)
    return said in PRIVATE_WORDS or say.has("private", said)


def _field_to_change(text: str, say: Language, details: bool = False) -> int | None:
    """1 (type), 2 (location), 3 (description), DETAILS (the optional questions, when
    offered), 0 (asked which), or None (not an edit)."""
    picked = number(text)
    last = DETAILS if details else 3
    if picked is not None:
        return picked if 1 <= picked <= last else 0
    said = normal(text)
    if details and (said in DETAILS_WORDS or say.has("details", said)):
        return DETAILS
    for field, words in EDIT_WORDS.items():
        if said in words or say.has(EDIT_GROUPS[field], said):
            return field
    if said in ("change", "edit", "change it", "fix", "correct it") or say.has("edit", said):
        return 0
    return None


def _change(state: State, field: int, context: Context) -> Turn:
    """Go back to one field of the report; the summary comes again once it is answered."""
    say = _say(state, context)
    if field == 0:
        return Turn(state, (Reply(say(texts.EDIT_WHICH)),))
    state.draft.editing = True
    if field == 1:
        return _show_menu(state, context, 0, texts.MENU_ASK)
    if field == 2:
        state.draft.place, state.draft.candidates = None, []
        state.name = StateName.LOCATION
        return Turn(state, (prompts.ask_location(say),))
    state.draft.description = ""
    state.name = StateName.DESCRIPTION
    return Turn(state, (prompts.ask_description(say),))


# --- already reported? ----------------------------------------------------------------------


def _duplicate(state: State, text: str, context: Context) -> Turn:
    """A number follows that request (nothing is filed); the last number or NO goes on to the
    summary; a new address is looked up; anything else (YES too) asks for a number again."""
    draft, say = state.draft, _say(state, context)
    if not draft.nearby:  # the look-up never answered: on to the summary, not yet seen
        _checked(draft)
        state.name = StateName.CONFIRM
        return Turn(state, asking.summary(state, context))
    choice = nearby.picked(text, draft.nearby)
    if choice is None and _says_none(text, say):
        choice = False
    # YES is not taken as a follow: a resident who wrote it before the offer arrived meant
    # the summary they expected (the look-up answers before their next message is read).
    answer = _yes_no(state, text, context) if choice is None else None
    if choice:
        follow = nearby.follow(state, choice)
        return Turn(state.fresh(), (nearby.following(choice.number, say),), (follow,))
    if choice is False or answer is False:
        draft.nearby = []
        return asking.ask_next(state, context)
    address = find_address(text)[0]
    if address:
        draft.nearby = []
        return _geocode(state, address)
    return _unclear(Turn(state, (nearby.how(draft.nearby, say),)))


def _says_none(text: str, say: Language) -> bool:
    """Whether the resident answers the offer with its last option's words ("none of these")."""
    said = normal(text)
    return said in OTHER_WORDS or say.has("other", said) or said == normal(say(texts.NEARBY_NONE))


def _checked(draft: Draft) -> None:
    """Mark the draft's service and place as checked, so the summary is not held again."""
    place = draft.place
    draft.nearby_wait, draft.nearby = None, []
    if place is not None and place.lat is not None and place.lon is not None:
        draft.nearby_checked = nearby.checked_key(draft.service_code, place.lat, place.lon)


def _on_nearby(state: State, event: Nearby, context: Context) -> Turn:
    """Offer the open requests found nearby, or go on to the summary when there are none."""
    if state.name != StateName.DUPLICATE or not nearby.answers(state.draft, event):
        return Turn(state)
    draft = state.draft
    _checked(draft)
    if not event.requests:
        return asking.ask_next(state, context)
    say = _say(state, context)
    draft.nearby = list(event.requests[: nearby.OFFERED])
    draft.nearby = draft.nearby[: nearby.shown(draft, context, say)]
    return Turn(state, (nearby.offer(draft, context, say),))


def _file(state: State, context: Context) -> Turn:
    """The confirmed report, for the worker to file."""
    draft = state.draft
    place = draft.place or Place("")
    contact = draft.contact or ContactDetails()
    allowed = state.consent is True
    report = FileReport(
        service_code=draft.service_code,
        service_name=draft.service_name,
        description=draft.description,
        address=place.address,
        lat=place.lat,
        lon=place.lon,
        attributes=asking.given(draft),
        media=tuple(draft.media),
        contact_ok=allowed,
        phone=contact.phone if allowed else "",
        email=contact.email if allowed else "",
        language=state.language or "en",
    )
    return Turn(state.fresh(), (Reply(_say(state, context)(texts.SENDING)),), (report,))


_HANDLERS: dict[str, Callable[[State, str, Context], Turn]] = {
    StateName.IDLE: _idle,
    StateName.SERVICE: _service,
    StateName.LOCATION: _location,
    StateName.LOCATION_CONFIRM: _location_confirm,
    StateName.DESCRIPTION: _description,
    StateName.CONSENT: _consent,
    StateName.CONFIRM: _confirm,
    StateName.RESUME: _resume_state,
    StateName.LANGUAGE: _choose_language,
    StateName.DUPLICATE: _duplicate,
}


# --- answers to actions -------------------------------------------------------------------


def _on_geocoded(state: State, event: Geocoded, context: Context) -> Turn:
    """Read a found address back, accept an unchecked one, or ask again."""
    if state.name != StateName.LOCATION or state.draft.geocode_query != event.query:
        return Turn(state)
    say = _say(state, context)
    query, state.draft.geocode_query = event.query, None
    if event.failed:
        return _led(say(texts.ADDRESS_UNCHECKED), _accept(state, query, context))
    located = [p for p in event.places if p.lat is not None and p.lon is not None]
    if located:
        place = located[0]
        state.draft.place = Place(place.address, place.lat, place.lon)
        if place.exact and len({p.address for p in located}) == 1:
            return _found_for_sure(state, place.address, context)
        state.name = StateName.LOCATION_CONFIRM
        offered = locating.distinct(located)
        if len(offered) > 1:
            state.draft.place, state.draft.candidates = None, offered
            return Turn(state, (locating.choices(offered, say),))
        return Turn(state, (prompts.address_found(place.address, say),))
    if event.outside and not event.places:
        return Turn(state, (locating.outside(context, say),))
    if event.places:
        return _accept(state, event.places[0].address or query, context)
    return Turn(state, (prompts.address_not_found(context.city, say),))


def _found_for_sure(state: State, address: str, context: Context) -> Turn:
    """One exact match: no question of its own; the summary shows it (2 changes it)."""
    turn = _after_location(state, context)
    if turn.state.name in (StateName.CONFIRM, StateName.DUPLICATE):
        return turn
    return _led(prompts.address_taken(address, _say(state, context)), turn)


def _on_status_found(state: State, event: StatusFound, context: Context) -> Turn:
    """Tell the resident the status, then repeat the question of a report in progress."""
    if state.draft.status_number != event.number:
        return Turn(state)
    state.draft.status_number = None
    state = asking.settle(state, context)
    say = _say(state, context)
    if event.failed:
        return _again(state, context, Reply(say(texts.STATUS_UNAVAILABLE)))
    if event.status is None and event.own:
        hidden = say(texts.STATUS_NOT_PUBLISHED).format(number=event.number)
        return _again(state, context, Reply(hidden))
    if event.status is None:
        return _again(state, context, *_not_found(event.number, say))
    reply = prompts.status_found(
        event.number,
        event.status,
        event.notes,
        event.service_name,
        say,
        expected=event.expected,
        zone=context.timezone,
    )
    return _again(state, context, reply)


def _not_found(number: str, say: Language) -> tuple[Reply, ...]:
    """No such request; a number without digits may have been a word: how to ask follows."""
    missing = say(texts.STATUS_NOT_FOUND).format(number=number)
    if any(c.isdigit() for c in number):
        return (Reply(missing),)
    return prompts.with_lead(missing, Reply(say(texts.STATUS_WHICH)))


def _on_reports_listed(state: State, event: ReportsListed, context: Context) -> Turn:
    """Tell the resident their latest reports, then repeat the current question; or, for
    STATUS, look up the request named as the city spells it."""
    listing, state.draft.listing = state.draft.listing, False
    if listing == STATUS and state.draft.status_number is not None:
        number = own_number(state.draft.status_number, event.reports)
        state.draft.status_number = number
        return Turn(state, actions=(LookupStatus(number),))
    if not listing:
        return Turn(state)
    state = asking.settle(state, context)
    reply = prompts.my_reports(event.reports, _say(state, context), context.timezone)
    return _again(state, context, reply)


def own_number(typed: str, reports: tuple[ReportLine, ...]) -> str:
    """The resident's report number the typed one names whatever its case, or it as typed."""
    wanted = typed.casefold()
    return next((r.number for r in reports if r.number.casefold() == wanted), typed)
