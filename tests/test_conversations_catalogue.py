"""A realistic catalogue and a conversation driver shared by the conversation tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conversations import Context, Event, Message, Service, State, Turn, step
from conversations.segments import is_gsm7

CATALOGUE = (
    Service(
        "PTH-001",
        "Pothole",
        "A hole or depression in the roadway surface.",
        ("pothole, hole, road, street, asphalt, crater",),
        "Streets & Sidewalks",
    ),
    Service(
        "SLT-002",
        "Streetlight Out",
        "A single street light that is out, flickering or on during the day.",
        ("street light", "streetlight", "lamp", "light out", "dark"),
        "Streets & Sidewalks",
    ),
    Service(
        "GRF-003",
        "Graffiti Removal",
        "Graffiti on a building, fence, pole or sidewalk visible from the public way.",
        ("graffiti, tagging, paint, vandalism, spray paint",),
        "Sanitation",
    ),
    Service(
        "TRS-004",
        "Missed Trash Pickup",
        "Garbage or recycling set out on time but not collected on the scheduled day.",
        ("trash, garbage, recycling, missed pickup, bins, collection",),
        "Sanitation",
    ),
    Service(
        "DMP-005",
        "Illegal Dumping",
        "Furniture, tires, construction debris or bags of trash dumped on a street or lot.",
        ("dumping, fly tipping, debris, mattress, tires, junk",),
        "Sanitation",
    ),
    Service(
        "VEH-006",
        "Abandoned Vehicle",
        "A vehicle parked on the public way for more than 7 days, or apparently inoperable.",
        ("abandoned car, vehicle, junk car, parked, inoperable",),
        "Transportation",
    ),
    Service(
        "SGN-007",
        "Damaged Sign",
        "A traffic or street name sign that is damaged, missing, faded or knocked down.",
        ("sign, stop sign, street sign, knocked down, missing sign",),
        "Transportation",
    ),
    Service(
        "SWK-008",
        "Sidewalk Repair",
        "Sidewalk, curb or ramp with cracking, missing pieces, holes or raised slabs.",
        ("sidewalk, curb, ramp, trip hazard, cracked",),
        "Streets & Sidewalks",
    ),
    Service(
        "TRE-009",
        "Fallen Tree",
        "A tree or large branch down on a street, sidewalk or park.",
        ("tree, branch, limb, fallen tree, storm damage",),
        "Parks & Forestry",
    ),
    Service(
        "NOI-010",
        "Noise Complaint",
        "Ongoing noise from construction, amplified music or equipment outside permitted hours.",
        ("noise, loud, music, construction noise, party",),
        "Quality of Life",
    ),
    Service(
        "WTR-011",
        "Water Leak",
        "Water running in the street, from a hydrant, a water main or a meter box.",
        ("water leak, hydrant, water main, flooding, broken pipe",),
        "Water",
    ),
)

CONTEXT = Context(services=CATALOGUE, city="Springfield")
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class Chat:
    """Drives step() like the worker does, storing the state as JSON between events."""

    def __init__(self, context: Context = CONTEXT, state: State | None = None) -> None:
        self.context = context
        self.stored = json.dumps((state or State()).to_dict())
        self.turns: list[Turn] = []

    @property
    def state(self) -> State:
        """The state as the database would give it back."""
        return State.from_dict(json.loads(self.stored))

    def feed(self, event: Event) -> Turn:
        """One event through step(), checking the state survives a JSON round trip."""
        before = self.stored
        turn = step(self.state, event, self.context)
        assert self.stored == before, "step() must not mutate the state it was given"
        self.stored = json.dumps(turn.state.to_dict())
        assert State.from_dict(json.loads(self.stored)) == turn.state
        self.turns.append(turn)
        return turn

    def send(self, text: str) -> Turn:
        """A resident's message."""
        return self.feed(Message(text, AT))


def test_catalogue_is_realistic_and_sms_safe():
    codes = [service.code for service in CATALOGUE]
    assert len(codes) == 11 and len(set(codes)) == 11
    assert all(is_gsm7(service.name) for service in CATALOGUE)


def test_chat_round_trips_state_between_events():
    chat = Chat()
    chat.send("pothole")
    assert chat.state.name == "location"
    assert chat.state.draft["service_code"] == "PTH-001"
