"""The replies that ask the service's questions, sized to fit their SMS budget.

A question is its description, then any datatype description, then how to answer. Without
options it fits one segment; with options (rendered as numbered lines) two, option names cut
shorter when a long list needs it, so that most of the question stays.
"""

from __future__ import annotations

from collections.abc import Callable

from . import texts
from .fitting import MOST, cut, fit
from .language import ENGLISH, Language
from .plaintext import render
from .prompts import sentence
from .readers import DATETIME, MULTI, NUMBER, SINGLE, kind_of
from .segments import cost
from .types import Attribute, Reply

DETAIL_ROOM = 60  # characters of a datatype description kept in a question
# Option names are cut to the first room that fits while keeping that much of the question.
OPTION_ROOMS = ((40, 80), (24, 80), (24, 40), (12, 20))
QUESTION_BUDGET, LIST_BUDGET = 1, 2
QUESTION_KEEP = 100  # characters of the city's question kept whole in another language
_HINTS = {
    SINGLE: texts.HINT_CHOICE,
    MULTI: texts.HINT_CHOICES,
    NUMBER: texts.HINT_NUMBER,
    DATETIME: texts.HINT_DATETIME,
}
_EXPECTS = {SINGLE: "choice", MULTI: "choices"}


def how_to_answer(hint: str, required: bool, say: Language = ENGLISH) -> str:
    """The hint (already in the language) as a sentence, offering SKIP when it is optional."""
    if required:
        return sentence(hint)
    return sentence(hint + say(texts.OR_SKIP) if hint else say(texts.SKIP_ONLY))


def ask_attribute(attribute: Attribute, say: Language = ENGLISH) -> Reply:
    """The question, with its options when it is a list, cut to fit.

    The question's own words are the city's, shown in the resident's language where the
    language's catalogue translates them (`msgctxt "service"`, like service names); the hint is
    translated.
    """
    kind = kind_of(attribute)
    expects = _EXPECTS.get(kind, "text")
    hint = _HINTS.get(kind, "")
    hint = how_to_answer(say(hint) if hint else "", attribute.required, say)
    own = say.service(attribute.datatype_description) if attribute.datatype_description else ""
    detail = "" if kind in _EXPECTS else sentence(cut(own, DETAIL_ROOM))
    question = say.service(attribute.description)

    def build(description: str) -> str:
        return " ".join(part for part in (sentence(description), detail, hint) if part)

    if kind not in _EXPECTS:
        if say.english:
            text = fit(build, question, budgets=(QUESTION_BUDGET,))
        else:  # a translated hint makes the text UCS-2 more often: keep the city's question
            keep = min(len(question), QUESTION_KEEP)
            text = fit(build, question, budgets=(QUESTION_BUDGET, MOST), keep=keep)
        return Reply(text, expects=expects)
    budgets = (QUESTION_BUDGET, LIST_BUDGET) if say.english else (QUESTION_BUDGET, MOST)
    reply = Reply("")
    for room, keep in OPTION_ROOMS:
        options = tuple(cut(say.service(choice.name), room) for choice in attribute.values)
        reply = _with_options(build, question, options, expects, keep, budgets)
        if cost(render(reply)) <= budgets[-1]:
            break
    return reply


def _with_options(
    build: Callable[[str], str],
    description: str,
    options: tuple[str, ...],
    expects: str,
    keep: int,
    budgets: tuple[int, ...],
) -> Reply:
    """The reply whose text, followed by its numbered options, fits the list budget if it can."""
    lines = render(Reply("", options))
    rendered = fit(lambda value: build(value) + lines, description, budgets=budgets, keep=keep)
    return Reply(rendered[: len(rendered) - len(lines)], options, expects)


def bad_answer(attribute: Attribute, say: Language = ENGLISH) -> Reply:
    """How to answer this question, after an answer we could not read."""
    kind = kind_of(attribute)
    count = len(attribute.values)
    hint = {
        SINGLE: say(texts.BAD_CHOICE).format(count=count),
        MULTI: say(texts.BAD_CHOICES).format(count=count),
        NUMBER: say(texts.BAD_NUMBER),
        DATETIME: say(texts.BAD_DATETIME),
    }.get(kind)
    if hint is None:  # any text answers a text question: only an empty one gets here
        return ask_attribute(attribute, say)
    return Reply(how_to_answer(hint, attribute.required, say))
