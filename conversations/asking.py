"""Asking the chosen service's questions one by one, in `order`, and keeping the answers.

The required questions are always asked; the optional ones only for the services the city
lists in `Context.ask_optional`, or once the resident asks to add details from the summary
(the draft's `details`). The draft holds `question` (the code being asked) and `answers`
(code -> answer, None for a skipped one). The next question is always the first asked
attribute without an answer, so a catalogue that changes between turns never loses or repeats
an answer: a question that is gone is skipped, a new one is asked.
"""

from __future__ import annotations

from datetime import datetime

from . import nearby, prompts, texts
from .answers import is_skip
from .privacy import mask_contacts
from .question_prompts import ask_attribute, bad_answer
from .readers import STRING, TEXT, kind_of, read_answer
from .states import StateName
from .types import Answer, Attribute, ContactDetails, Context, Draft, Reply, Service, State, Turn


def service_of(draft: Draft, context: Context) -> Service | None:
    """The draft's service as the catalogue has it now (None when it is gone)."""
    return _by_code(context.services).get(draft.service_code)


_BY_CODE: dict[int, tuple[tuple[Service, ...], dict[str, Service]]] = {}


def _by_code(services: tuple[Service, ...]) -> dict[str, Service]:
    """The catalogue's services by code (the first listed for a code listed twice), built once
    per catalogue tuple (kept, so its id stays unique)."""
    kept = _BY_CODE.get(id(services))
    if kept is not None and kept[0] is services:
        return kept[1]
    found: dict[str, Service] = {}
    for service in services:
        found.setdefault(service.code, service)
    if not isinstance(services, tuple):  # a list may change: not kept
        return found
    if len(_BY_CODE) > 16:
        _BY_CODE.clear()
    _BY_CODE[id(services)] = (services, found)
    return found


def questions_of(service: Service | None) -> tuple[Attribute, ...]:
    """The service's attributes that are questions (variable ones), in `order`."""
    if service is None:
        return ()
    return tuple(sorted((a for a in service.attributes if a.variable), key=lambda a: a.order))


def asks_all(service: Service, context: Context) -> bool:
    """Whether the city wants this service's optional questions asked one by one."""
    return "*" in context.ask_optional or service.code in context.ask_optional


def _to_ask(state: State, context: Context) -> tuple[Attribute, ...]:
    """The questions asked one by one now: the required ones, or all when wanted."""
    service = service_of(state.draft, context)
    if service is None:
        return ()
    every = asks_all(service, context) or state.draft.details
    return tuple(a for a in questions_of(service) if a.required or every)


def pending(state: State, context: Context) -> Attribute | None:
    """The first question to ask now that is not answered (or skipped) yet."""
    answers = state.draft.answers
    return next((a for a in _to_ask(state, context) if a.code not in answers), None)


def optional_left(state: State, context: Context) -> bool:
    """Whether the summary may offer optional questions nobody has answered or skipped."""
    answers = state.draft.answers
    service = service_of(state.draft, context)
    return any(a.code not in answers for a in questions_of(service))


def current(state: State, context: Context) -> Attribute | None:
    """The question being asked, as the catalogue has it now (None when it is gone)."""
    code = state.draft.question
    service = service_of(state.draft, context)
    return next((a for a in questions_of(service) if a.code == code), None)


def given(draft: Draft) -> dict[str, Answer]:
    """The answers to send to the city: skipped questions left out."""
    return {code: value for code, value in draft.answers.items() if value is not None}


def ask_next(state: State, context: Context) -> Turn:
    """Ask the next unanswered question, then the summary; before it, have the worker look for
    open requests of the service nearby (the answer, Nearby, may offer them)."""
    attribute = pending(state, context)
    if attribute is None:
        state.draft.question = None
        find = nearby.wanted(state.draft, context)
        if find is not None:
            state.name = StateName.DUPLICATE
            state.draft.nearby = []
            state.draft.nearby_wait = nearby.checked_key(find.service_code, find.lat, find.lon)
            return Turn(state, actions=(find,))
        state.name = StateName.CONFIRM
        return Turn(state, summary(state, context))
    say = context.language(state.language)
    state.name = StateName.QUESTIONS
    state.draft.question = attribute.code
    return Turn(state, (ask_attribute(attribute, say),))


def settle(state: State, context: Context) -> State:
    """Move past a question the catalogue no longer has, so it is not asked again."""
    if state.name == StateName.QUESTIONS and context.services and current(state, context) is None:
        state = ask_next(state, context).state
        if state.name == StateName.DUPLICATE:  # no turn here to ask the check: the summary
            state.name, state.draft.nearby_wait = StateName.CONFIRM, None
    return state


def summary(state: State, context: Context) -> tuple[Reply, ...]:
    """The report to confirm: optional questions offered while some are left, and whether
    the city may contact the resident until they have answered that once."""
    say, details = context.language(state.language), optional_left(state, context)
    if state.consent is None:
        return prompts.confirm_asking_consent(state.draft, say, details)
    return (prompts.confirm(state.draft, say, details),)


def ask_again(state: State, context: Context) -> tuple[Reply, ...]:
    """The question being asked, again (the summary, whole, when none is left)."""
    say = context.language(state.language)
    if not context.services:
        return (Reply(say(texts.CATALOGUE_DOWN)),)
    attribute = current(state, context) or pending(state, context)
    return (ask_attribute(attribute, say),) if attribute else summary(state, context)


def answer(state: State, text: str, at: datetime, context: Context) -> Turn:
    """Take the answer to the current question (or SKIP), then ask the next one."""
    say = context.language(state.language)
    if not context.services:  # the catalogue is unavailable: keep everything, try later
        return Turn(state, (Reply(say(texts.CATALOGUE_DOWN)),))
    attribute = current(state, context)
    if attribute is None:  # the catalogue changed under us: skip the question safely
        return ask_next(state, context)
    answers = state.draft.answers
    if is_skip(text, say):
        if attribute.required:
            lead = say(texts.ANSWER_NEEDED)
            return Turn(state, prompts.with_lead(lead, ask_attribute(attribute, say)))
        answers[attribute.code] = None
        return ask_next(state, context)
    value = read_answer(attribute, text, at, context.timezone, say)
    if value is None:
        state.unclear = 1  # not understood (engine._on_message counts it)
        return Turn(state, (bad_answer(attribute, say),))
    if isinstance(value, str) and kind_of(attribute) in (STRING, TEXT):
        value = _masked(state.draft, value)
    answers[attribute.code] = value
    return ask_next(state, context)


def _masked(draft: Draft, text: str) -> str:
    """A free-text answer with phones and emails masked; the first ones found kept apart."""
    masked, phones, emails = mask_contacts(text)
    if phones or emails:
        if draft.contact is None:
            draft.contact = ContactDetails()
        contact = draft.contact
        contact.phone = contact.phone or (phones[0] if phones else "")
        contact.email = contact.email or (emails[0] if emails else "")
    return masked
