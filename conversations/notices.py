"""Texts the worker sends outside a turn: a report filed, delayed, saved or rejected, a status
change.

Each is in the resident's language (`say`); the city's own words (notes, reasons) are not
translated.
"""

from __future__ import annotations

from datetime import datetime

from . import texts
from .fitting import cut, fit
from .language import ENGLISH, Language
from .prompts import SERVICE_ROOM, expected_by, sentence


def report_filed(number: str, service_name: str, say: Language = ENGLISH) -> str:
    """The city received the report: here is its request number."""
    service = cut(say.service(service_name), SERVICE_ROOM) or texts.REPORT_DEFAULT_SERVICE
    return say(texts.REPORT_FILED).format(service=service, number=number)


def public_invite(say: Language = ENGLISH) -> str:
    """A public post that mentioned the city is answered in public: go on privately."""
    return say(texts.PUBLIC_INVITE)


def public_filed(number: str, say: Language = ENGLISH) -> str:
    """The public answer once the report from a public post is filed: its number alone."""
    return say(texts.PUBLIC_FILED).format(number=number)


def report_delayed(say: Language = ENGLISH) -> str:
    """The city's system is not answering; the report is saved and will be forwarded."""
    return say(texts.REPORT_DELAYED)


def report_saved(say: Language = ENGLISH) -> str:
    """Not sent yet though the city is not down (it waits for staff); it will be forwarded."""
    return say(texts.REPORT_SAVED)


def report_rejected(reason: str, say: Language = ENGLISH) -> str:
    """The city refused the report, with its reason cut to fit."""
    build = say(texts.REPORT_REJECTED).format
    return fit(lambda value: build(reason=sentence(value)), reason.strip())


def status_changed(
    number: str,
    status: str,
    notes: str,
    service_name: str = "",
    expected: datetime | None = None,
    say: Language = ENGLISH,
) -> str:
    """A tracked request changed status (or notes, or the date the city expects to finish).

    `expected` is shown on its own clock (the caller puts it on the city's); never once closed.
    """
    template = say(texts.STATUS_CHANGED if service_name else texts.STATUS_CHANGED_BARE)
    service = cut(say.service(service_name), SERVICE_ROOM)
    when = expected_by(status, expected, say)

    def build(value: str) -> str:
        extra = " " + sentence(value) if value else ""
        return (
            template.format(number=number, service=service, status=sentence(status), notes=extra)
            + when
        )

    return fit(build, notes.strip(), keep=0)
