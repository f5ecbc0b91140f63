"""Texts the worker sends outside a turn: a report filed, delayed or rejected, a status change."""

from __future__ import annotations

from datetime import datetime

from . import texts
from .fitting import cut, fit
from .prompts import sentence


def report_filed(number: str, service_name: str) -> str:
    """The city received the report: here is its request number."""
    service = cut(service_name, 40) or texts.REPORT_DEFAULT_SERVICE
    return texts.REPORT_FILED.format(service=service, number=number)


def report_delayed() -> str:
    """The city's system is not answering; the report is saved and will be forwarded."""
    return texts.REPORT_DELAYED


def report_rejected(reason: str) -> str:
    """The city refused the report, with its reason cut to fit."""
    return fit(lambda value: texts.REPORT_REJECTED.format(reason=sentence(value)), reason.strip())


def status_changed(
    number: str,
    status: str,
    notes: str,
    service_name: str = "",
    expected: datetime | None = None,
) -> str:
    """A tracked request changed status (or notes, or the date the city expects to finish)."""
    template = texts.STATUS_CHANGED if service_name else texts.STATUS_CHANGED_BARE
    when = texts.EXPECTED.format(date=f"{expected:%b} {expected.day}") if expected else ""

    def build(value: str) -> str:
        extra = " " + sentence(value) if value else ""
        return template.format(
            number=number, service=service_name, status=sentence(status), notes=extra
        ) + when

    return fit(build, notes.strip(), keep=0)
