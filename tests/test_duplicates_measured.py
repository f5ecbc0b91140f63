"""Duplicates avoided in a scenario of repeated reports (issue #19's measure): residents text
about potholes at a few places of the demo town, some reported before through us and some
through the city's own call centre (listed by the refresh), others new problems near them; each
resident follows an offered request when it is their pothole and sends their own otherwise.
Signed Twilio webhooks, the real engine and worker, a sandbox city of the test's own.

The figures are printed (`pytest -s`) and kept in the README; the floors below are under them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.geocoding import lookup
from bot.models import Follow, Report
from bot.open311.client import Open311Client
from bot.settings import get_settings
from tests.sandbox_city import own_city
from tests.test_end_to_end import Phone
from webhooks import create_app

# (house number, street) of each pothole; the first four were reported to the city by phone
# (the refresh lists them), the others are first reported through us in the scenario.
POTHOLES = [
    (120, "Main Street"),
    (340, "Oak Avenue"),
    (516, "Elm Street"),
    (220, "Maple Avenue"),
    (410, "Cedar Drive"),
    (130, "Walnut Street"),
    (808, "Lincoln Road"),
    (612, "Jefferson Street"),
]
CALLED_IN = 4
# How a later resident types the same pothole's place: the same house, a few doors along
# (two house numbers are about 3 m apart on the demo town's streets), across the street.
SAME_PLACE = [0, 4, 10, 1]
FAR_ALONG = 120  # house numbers along the street: about 200 m, another pothole


@dataclass
class Outcome:
    offered: bool = False
    followed_right: bool = False
    followed_wrong: bool = False


@pytest.fixture
def city(sqlite_env, tmp_path, monkeypatch):
    """A sandbox city of the test's own, with the check for duplicates on."""
    with own_city(tmp_path, monkeypatch, DUPLICATE_SERVICES_OFF="") as counted:
        yield counted.app


def called_in(number: int, street: str, with_address: bool) -> None:
    """A pothole the city's call centre filed on its own Open311 server (in the city's list, not
    in ours), by its point alone or with the address too."""
    [place] = lookup(f"{number} {street}", get_settings()).places[:1]
    fields = {
        "service_code": "4fd3b656e750846c53000004",
        "description": "Pothole reported by phone",
        "lat": place.lat,
        "long": place.lon,
    }
    if with_address:
        fields["address_string"] = f"{number} {street}"
    with Open311Client(get_settings().open311_endpoint) as client:
        client.create_request(fields, {"WHEREIS": "TRAFFIC"})


def report(phone: Phone, address: str, mine: str, service: str = "pothole") -> Outcome:
    """One resident's report: follow the line of an offer that names `mine`, else send."""
    phone.text(service)
    phone.text(address)
    replies = phone.text("Deep hole, cars swerving around it")
    if service == "pothole":
        replies = phone.text("crosswalk")
    [last] = replies
    outcome = Outcome()
    if last.startswith("This may already be reported."):
        outcome.offered = True
        lines = re.findall(r"^(\d+) (.*)$", last, re.M)
        pick = next((n for n, line in lines if mine in line), None)
        if pick is not None:
            [following] = phone.text(pick)
            assert "You now follow request" in following
            outcome.followed_right = True
            return outcome
        last = phone.text(lines[-1][0])[0]  # "None of these: send my report"
    assert last.startswith("Ready to send:"), last
    phone.text("YES")
    return outcome


def test_repeated_reports_follow_the_first_and_new_ones_are_filed(city, twilio_api):
    client = create_app({"TESTING": True}).test_client()
    numbers = iter(range(200, 300))

    def resident() -> Phone:
        return Phone(client, twilio_api, f"+1312555{next(numbers):04d}")

    for n, (number, street) in enumerate(POTHOLES[:CALLED_IN]):
        called_in(number, street, with_address=n % 2 == 0)
    assert jobs.refresh_open_requests() >= 0

    first, repeated, new, other_service = [], [], [], []
    for number, street in POTHOLES[CALLED_IN:]:
        first.append(report(resident(), f"{number} {street}", f"{number} {street}"))
    for shift in SAME_PLACE:
        for number, street in POTHOLES:
            typed = f"{number + shift} {street.replace('Street', 'St')}"
            repeated.append(report(resident(), typed, f"{number} {street}"))
    for number, street in POTHOLES:
        new.append(report(resident(), f"{number + FAR_ALONG} {street}", "no such line"))
        sign = report(resident(), f"{number} {street}", "no such line", "damaged sign")
        other_service.append(sign)

    with session_scope() as session:
        filed = len(session.exec(select(Report)).all())
        follows = len(session.exec(select(Follow)).all())
    avoided = sum(o.followed_right for o in repeated) / len(repeated)
    false_offers = sum(o.offered for o in new + other_service) / len(new + other_service)
    residents = len(first) + len(repeated) + len(new) + len(other_service)
    print(
        f"\nduplicates: {len(repeated)} repeated reports of {len(POTHOLES)} potholes "
        f"({CALLED_IN} called in to the city, listed by the refresh): "
        f"{avoided:.1%} followed the first instead of filing; "
        f"{len(new) + len(other_service)} new problems nearby or of another service: "
        f"{false_offers:.1%} offered anything; "
        f"{residents} residents, {filed} reports filed, {follows} follows"
    )
    assert avoided >= 0.9
    assert false_offers <= 0.1
    assert follows == sum(o.followed_right for o in repeated)
    assert filed == residents - follows
    assert not any(o.followed_wrong for o in repeated + new + other_service)
