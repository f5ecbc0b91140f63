"""A realistic catalogue and a conversation driver shared by the conversation tests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from conversations import Attribute, Choice, Context, Event, Message, Service, State, Turn, step
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

# The same catalogue with service definitions: every datatype, required and optional questions,
# an informational note, attributes listed out of `order`, and one service with long texts.
YES_NO = (Choice("true", "Yes"), Choice("false", "No"))
QUESTIONS = {
    "PTH-001": (
        Attribute("SEEN", "datetime", "When did you first notice it?", order=3),
        Attribute(
            "NOTE", "string", "Potholes are usually filled within 7 days.", order=0, variable=False
        ),
        Attribute(
            "LANE",
            "singlevaluelist",
            "Where is the pothole?",
            required=True,
            order=1,
            values=(
                Choice("TRAVEL", "Traffic lane"),
                Choice("BIKE", "Bike lane"),
                Choice("XWALK", "Crosswalk"),
                Choice("CURB", "Curb lane"),
            ),
        ),
        Attribute(
            "WIDTH", "number", "About how wide is it?", order=2, datatype_description="In inches"
        ),
    ),
    "TRS-004": (
        Attribute(
            "KIND",
            "multivaluelist",
            "What was not collected?",
            required=True,
            order=1,
            values=(
                Choice("GARB", "Garbage"),
                Choice("RECY", "Recycling"),
                Choice("YARD", "Yard waste"),
                Choice("BULK", "Bulk item"),
            ),
        ),
        Attribute("DUE", "datetime", "When was it due to be collected?", required=True, order=2),
        Attribute("OUT", "singlevaluelist", "Was it at the curb by 6am?", order=3, values=YES_NO),
    ),
    "VEH-006": (
        Attribute("MAKE", "string", "Make and color of the vehicle?", required=True, order=1),
        Attribute("PLATE", "string", "License plate, if you can see it?", order=2),
        Attribute(
            "DAYS", "number", "How many days has it been parked there?", required=True, order=3
        ),
        Attribute("NOTES", "text", "Anything else the crew should know?", order=4),
    ),
    "TRE-009": (
        Attribute(
            "BLOCK",
            "singlevaluelist",
            "Is the fallen tree or branch blocking any part of the public right of way, such as "
            "a traffic lane, a bike lane, a sidewalk, a bus stop or an alley, or touching any "
            "overhead wires or street lights?",
            required=True,
            order=1,
            values=tuple(
                Choice(f"B{n}", f"It is blocking {what} completely or partly")
                for n, what in enumerate(
                    (
                        "a traffic lane",
                        "a bike lane",
                        "the sidewalk",
                        "a bus stop or shelter",
                        "an alley or driveway",
                        "nothing at all",
                    )
                )
            ),
        ),
        Attribute(
            "SIZE",
            "text",
            "Please tell us roughly how big the tree or branch is, for example the diameter of "
            "the trunk or limb, how long it is, and whether a crew will need a chipper or a "
            "truck to take it away.",
            order=2,
            datatype_description="A few words, for example: trunk about 12 inches across, "
            "30 feet long, needs a truck",
        ),
    ),
}
ASKING = tuple(replace(s, attributes=QUESTIONS.get(s.code, ())) for s in CATALOGUE)
# A city that wants every optional question asked one by one (ASK_OPTIONAL_QUESTIONS=*); the
# default, optional questions offered in the summary, is tested in test_shorter_reports.py.
ASKING_CONTEXT = Context(
    services=ASKING, city="Springfield", timezone="America/Chicago", ask_optional=frozenset("*")
)
ASKING_AT = datetime(2026, 11, 21, 15, 10, tzinfo=UTC)  # 9:10 in Springfield (CST, -06:00)


ANSWERED = State(consent=False)  # a resident already asked whether the city may contact them


class Chat:
    """Drives step() like the worker does, storing the state as JSON between events.

    The resident has answered the one-time contact question (no) unless `state` says otherwise.
    """

    def __init__(
        self, context: Context = CONTEXT, state: State | None = None, at: datetime = AT
    ) -> None:
        self.context = context
        self.at = at
        self.stored = json.dumps((state or ANSWERED).to_dict())
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

    def send(self, text: str, at: datetime | None = None) -> Turn:
        """A resident's message, received at `at` (the chat's time by default)."""
        return self.feed(Message(text, at or self.at))


def test_catalogue_is_realistic_and_sms_safe():
    codes = [service.code for service in CATALOGUE]
    assert len(codes) == 11 and len(set(codes)) == 11
    assert all(is_gsm7(service.name) for service in CATALOGUE)


def test_chat_round_trips_state_between_events():
    chat = Chat()
    chat.send("pothole")
    assert chat.state.name == "location"
    assert chat.state.draft.service_code == "PTH-001"


def test_asking_catalogue_has_every_datatype_and_kind_of_question():
    attributes = [a for service in ASKING for a in service.attributes]
    assert {a.datatype for a in attributes} == {
        "singlevaluelist",
        "multivaluelist",
        "number",
        "datetime",
        "string",
        "text",
    }
    assert any(a.required for a in attributes) and any(not a.required for a in attributes)
    assert [a.code for a in attributes if not a.variable] == ["NOTE"]
    assert [s.code for s in ASKING] == [s.code for s in CATALOGUE]
