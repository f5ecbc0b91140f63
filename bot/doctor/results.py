"""What a doctor check finds: `Check`, and the three ways to make one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One checked thing: whether it is fine, what was seen, and how to fix it if not.
    `warning`: fine to run with, but worth a look (never fails the doctor)."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    warning: bool = False


def passed(name: str, detail: str = "") -> Check:
    """A check that found nothing wrong."""
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    """A check that found a problem, and what to do about it."""
    return Check(name, False, detail, fix)


def warned(name: str, detail: str, fix: str) -> Check:
    """A check that found something worth a look but not wrong enough to stop."""
    return Check(name, True, detail, fix, warning=True)
