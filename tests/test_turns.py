"""run_turn with what channels beyond SMS bring: shared pins (reverse geocoded) and photos."""

from __future__ import annotations

import re
import uuid

from sqlmodel import select

from bot.channels.base import Inbound
from bot.db import session_scope
from bot.intake import receive
from bot.models import Message, Report
from bot.payloads import InboundPayload
from conversations import texts
from tests.conftest import run_jobs

NEAR = r"Thanks, I have the location: near \d+ [A-Z][a-z]+ (Street|Avenue)"  # a pin read back

ADDRESS = "console:pin-tester"


def say(text: str = "", location=None, media=(), place_name: str = "") -> list[str]:
    """Send a console message with the given extras; run the jobs; the replies it produced."""
    before = _replies()
    receive(
        Inbound(
            "console",
            ADDRESS,
            uuid.uuid4().hex,
            text,
            InboundPayload(media=tuple(media), location=location, place_name=place_name),
        )
    )
    run_jobs()
    return _replies()[len(before) :]


def _replies() -> list[str]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Message.text).where(Message.direction == "out").order_by(Message.id)
            ).all()
        )


def test_a_pin_is_named_by_reverse_geocoding_and_filed_with_photos(sqlite_env):
    say("pothole")
    [taken] = say(location=(39.8001, -89.6455))
    assert re.match(NEAR, taken)  # the pin read back by the address it is near
    say(media=["console-file:photo-1"])
    say("Deep hole by the gate, near the curb")
    summary = "\n".join(say("4"))  # WHEREIS: next to the curb; the optional ones are offered
    assert summary.startswith("Ready to send:")
    assert "Main Street" in summary  # the sandbox geocoder named the pin
    assert summary.endswith(texts.CONFIRM_CONSENT)  # asked once: a new resident
    say("private")
    with session_scope() as session:
        report = session.exec(select(Report)).one()
    assert report.state == "submitted" and not report.contact_ok
    assert (report.lat, report.lon) == (39.8001, -89.6455)
    assert report.address.endswith("Main Street, Springfield")
    assert report.media == ["console-file:photo-1"]


def test_a_venue_keeps_its_own_name(sqlite_env):
    say("pothole")
    say(location=(39.7981, -89.6502), place_name="Central Park")
    say("Deep hole by the gate, near the curb")
    summary = say("1")[0]
    assert "\n2 Central Park\n" in summary
