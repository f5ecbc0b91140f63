"""Reading a resident's answer to one of the service's questions, by the question's datatype."""

from __future__ import annotations

from datetime import datetime

from .choices import parse_choice, parse_choices
from .datetimes import in_english, parse_datetime
from .language import ENGLISH, Language
from .numbers import parse_number
from .types import Attribute, Choice

STRING_LIMIT = 255
TEXT_LIMIT = 2000
SINGLE, MULTI = "singlevaluelist", "multivaluelist"
NUMBER, DATETIME, STRING, TEXT = "number", "datetime", "string", "text"

Answer = str | list[str]


def kind_of(attribute: Attribute) -> str:
    """The datatype the question is read as: a list without values, or an unknown type, is text."""
    if attribute.datatype in (SINGLE, MULTI):
        return attribute.datatype if attribute.values else STRING
    if attribute.datatype in (NUMBER, DATETIME, TEXT):
        return attribute.datatype
    return STRING


def read_answer(
    attribute: Attribute, text: str, at: datetime, timezone: str, say: Language = ENGLISH
) -> Answer | None:
    """The answer as the city takes it (key, keys, number or ISO 8601 text); None if unclear."""
    text = text.strip()
    if not text:
        return None
    kind = kind_of(attribute)
    if kind in (SINGLE, MULTI):
        parse = parse_choice if kind == SINGLE else parse_choices
        shown = tuple(Choice(v.key, say.service(v.name)) for v in attribute.values)
        # By the names shown in the resident's language, then by the city's own.
        found = parse(text, shown, say)
        return (
            found
            if found is not None or shown == attribute.values
            else parse(text, attribute.values, say)
        )
    if kind == NUMBER:
        return parse_number(text)
    if kind == DATETIME:
        moment = parse_datetime(in_english(text, say.dates), at, timezone)
        return moment.isoformat() if moment else None
    if kind == TEXT:
        return text[:TEXT_LIMIT]
    return " ".join(text.split())[:STRING_LIMIT]
