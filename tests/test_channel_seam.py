"""A new channel's code is its own module and one line in the registry.

ARCHITECTURE.md's "Adding a channel" lists the files a channel touches (its settings, the
production checks and the log masking of its secrets besides); this proves the code part. A
channel written here (carrier pigeons) is registered, and with no other change it gets its
webhook route, its messages stored and answered through the real conversation, its sends paced
by the buckets it declares, its staff hints, its link for a photo the provider refused, and,
declaring phone-number addresses, its residents erased by number.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import pacing
from bot.channels import registry
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Event,
    Inbound,
    Outgoing,
    SendError,
    SendRate,
    WebRequest,
)
from bot.db import session_scope
from bot.failures import list_failures
from bot.forget import addresses_typed
from bot.models import Contact, Message
from bot.settings import Settings, get_settings
from tests.conftest import run_jobs
from webhooks import create_app

pytestmark = pytest.mark.sqlite_only


class Pigeon(Channel):
    """Carrier pigeons: a form with the sender's loft, the message id and the words."""

    name = "pigeon"
    scheme = "pigeon"
    webhook_path = "/webhooks/pigeon"
    abilities = Abilities(
        OPT_OUT_WORDS, OPT_IN_WORDS, text_budget=300, budget_unit="characters", phone_numbers=True
    )

    def __init__(self) -> None:
        self.flown: list[Outgoing] = []
        self.refuse = False

    def verify(self, request: WebRequest, settings: Settings) -> str | None:
        return None if request.header("X-Pigeon-Ring") == "ringed" else "no ring"

    def parse(self, request: WebRequest) -> list[Event]:
        form = request.form
        return [Inbound(self.name, f"pigeon:{form['loft']}", form["id"], form["text"])]

    def send(self, out: Outgoing, settings: Settings) -> str:
        if self.refuse:
            raise SendError("the pigeon would not fly", retryable=False, code="wind")
        self.flown.append(out)
        return f"flight-{out.message_id}"

    def send_rates(self, address: str, settings: Settings) -> tuple[SendRate, ...]:
        return (SendRate("pigeon:loft", 2.0),)

    def failure_hint(self, error_code: str | None, notice: str, settings: Settings) -> str:
        return "wait for calmer weather" if error_code == "wind" else ""

    def with_link(self, text: str, url: str) -> str:
        return f"{text} (see {url})"


@pytest.fixture
def pigeon(monkeypatch):
    channel = Pigeon()
    monkeypatch.setitem(registry.CHANNELS, channel.name, channel)
    return channel


def fly(client, loft: str, text: str, number: int):
    form = {"loft": loft, "id": f"p-{number}", "text": text}  # a loft is a phone number here
    return client.post("/webhooks/pigeon", data=form, headers={"X-Pigeon-Ring": "ringed"})


def test_a_registered_channel_gets_its_route_turns_and_replies(sqlite_env, pigeon):
    client = create_app({"TESTING": True}).test_client()
    forged = client.post("/webhooks/pigeon", data={"loft": "a", "id": "x", "text": "hi"})
    assert forged.status_code == 403
    assert fly(client, "north", "hi", 1).status_code == 200
    assert fly(client, "north", "hi", 1).status_code == 200  # a redelivery: stored once
    run_jobs()
    [reply] = pigeon.flown
    assert reply.address == "pigeon:north" and "1 Pothole in Street" in reply.text
    with session_scope() as session:
        [contact] = session.exec(select(Contact)).all()
        assert contact.channel == "pigeon"
        assert len(session.exec(select(Message).where(Message.direction == "in")).all()) == 1


def test_its_paces_checks_hints_and_links_come_from_the_channel(sqlite_env, pigeon):
    [loft] = pacing.buckets_for("pigeon", "pigeon:north", get_settings())
    assert loft.key.endswith("pigeon:loft") and loft.rate == 2.0
    assert registry.phone_schemes() == ("tel", "whatsapp", "pigeon")
    assert addresses_typed("+1 312 555 0199") == [
        "tel:+13125550199",
        "whatsapp:+13125550199",
        "pigeon:+13125550199",
    ]

    client = create_app({"TESTING": True}).test_client()
    pigeon.refuse = True
    fly(client, "south", "hi", 2)
    run_jobs()
    [failure] = [f for f in list_failures() if f.name.startswith("send:")]
    assert failure.error == "wind" and failure.hint == "wait for calmer weather"
    assert pigeon.with_link("Closed.", "https://city.example/p.jpg").endswith("p.jpg)")
