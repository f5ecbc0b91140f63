"""The doctor's checks of what the city's staff use: the console's accounts and key, and the
hours a resident can be handed to a person."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, func, select

from bot.doctor.results import Check, passed, warned
from bot.settings import Settings


def check_console(settings: Settings) -> list[Check]:
    """An active admin to sign in with, and a key every web process shares."""
    from bot.db import session_scope
    from bot.models import StaffUser

    try:
        with session_scope() as session:
            admins = session.exec(
                select(func.count())
                .select_from(StaffUser)
                .where(StaffUser.role == "admin", col(StaffUser.active).is_(True))
            ).one()
    except SQLAlchemyError:  # unreachable or not migrated: the database checks say so
        return []
    found = [
        passed("console", f"{admins} active admin account(s)")
        if admins
        else warned(
            "console",
            "no active admin account: nobody can sign in to the staff console",
            "run `intake311 staff add NAME --role admin`",
        )
    ]
    if not settings.console_secret_key:
        # Production refuses this (the production check); elsewhere each web process makes
        # its own key, so with several a staff member is signed out at every other request.
        found.append(
            warned(
                "console key",
                "CONSOLE_SECRET_KEY is not set: each web process signs sessions with a key of "
                "its own, lost at restart",
                "set CONSOLE_SECRET_KEY to 32+ random characters, the same for every web process",
            )
        )
    return found


def check_handoff(settings: Settings) -> list[Check]:
    """Whether residents can ask for a person, and when."""
    hours = settings.handoff_hours.strip()
    if hours.lower() == "off":
        return [
            passed(
                "handoff",
                "off: AGENT is answered that no person takes over here (staff may still take "
                "any conversation from the console); set HANDOFF_HOURS to turn it on",
            )
        ]
    return [passed("handoff", f"staff answer {hours or 'at all hours'} ({settings.city_timezone})")]
