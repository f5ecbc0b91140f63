"""What the console accepts in its addresses: ids the database can hold, page numbers and days
within sane bounds (anything else is a 404, a clamp or today, never a 500)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import request

MAX_ID = 2**63 - 1  # a BIGINT: a larger id overflows the database driver
ID = f"int(max={MAX_ID})"  # the route converter of an id: past it, 404
MAX_PAGE = 10_000
FIRST_DAY = date(2000, 1, 1)


def page() -> int:
    """The `page` query parameter, from 1 to MAX_PAGE (1 when missing or unreadable)."""
    asked = request.args.get("page", 1, type=int) or 1
    return min(max(1, asked), MAX_PAGE)


def day_within(asked: str, today: date) -> date | None:
    """The day `asked` (YYYY-MM-DD) if it is from FIRST_DAY to tomorrow, else None."""
    try:
        found = date.fromisoformat(asked)
    except ValueError:
        return None
    return found if FIRST_DAY <= found <= today + timedelta(days=1) else None
