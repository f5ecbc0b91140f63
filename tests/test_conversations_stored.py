"""States stored by the engine before its draft was typed still read and behave the same.

Each example is a real `State.to_dict()` written by the engine when the draft was a dict (taken
from the conversation tests and the scenario corpus, a few from versions before that: no
language keys, the old `consent` state, no state at all), the event that came next, and what
the engine answered then: the replies, the actions and the state it stored. The database holds
such states as JSON, so each is read back from JSON here, as the worker reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import pytest

from conversations import (
    Context,
    Event,
    FileReport,
    Geocode,
    Geocoded,
    LookupStatus,
    Message,
    NearbyRequest,
    Place,
    Reply,
    State,
    StatusFound,
    step,
)
from conversations.states import StateName
from conversations.types import (
    Action,
    ContactDetails,
    Draft,
    ListReports,
    ReportLine,
    ReportsListed,
    Snapshot,
    TimedOut,
)
from tests.test_conversations_catalogue import ASKING, CONTEXT

OPENED = datetime(2026, 12, 1, tzinfo=UTC)
CORPUS = "corpus"  # the scenario corpus's context (the sandbox catalogue, every language)
SHORT = Context(services=ASKING, city="Springfield", timezone="America/Chicago")


def context_of(context: Context | str) -> Context:
    if context == CORPUS:
        from tests.conversations import corpus

        return corpus.make_context()
    assert isinstance(context, Context)
    return context


@dataclass(frozen=True)
class Stored:
    """A stored state, the event that came next, and the engine's answer to it then."""

    context: Context | str
    state: dict | None
    event: Event
    replies: tuple[Reply, ...]
    actions: tuple[Action, ...]
    after: dict


EXAMPLES = [
    Stored(
        CORPUS,
        {
            "name": "questions",
            "draft": {
                "service_code": "4ffa9f2d6018277d400000c8",
                "service_name": "Street Light Out",
                "description": "đèn đường nhấp nháy cả đêm ở 500 Center St",
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4ffa9f2d6018277d400000c8",
                            "service_name": "Street Light Out",
                            "description": "đèn đường nhấp nháy cả đêm ở 500 Center St",
                        },
                        "offered": [],
                    }
                ],
                "address": "500 Center Street, Springfield",
                "lat": 39.793992,
                "lon": -89.6412,
                "answers": {},
                "question": "LIGHTISS",
            },
            "offered": [],
            "language": "vi",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="TRẠNG THÁI 2026-000300", at=datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),
        (),
        (LookupStatus(number="2026-000300"),),
        {
            "name": "questions",
            "draft": {
                "service_code": "4ffa9f2d6018277d400000c8",
                "service_name": "Street Light Out",
                "description": "đèn đường nhấp nháy cả đêm ở 500 Center St",
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4ffa9f2d6018277d400000c8",
                            "service_name": "Street Light Out",
                            "description": "đèn đường nhấp nháy cả đêm ở 500 Center St",
                        },
                        "offered": [],
                    }
                ],
                "address": "500 Center Street, Springfield",
                "lat": 39.793992,
                "lon": -89.6412,
                "answers": {},
                "question": "LIGHTISS",
                "status_number": "2026-000300",
            },
            "offered": [],
            "language": "vi",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "service",
            "draft": {
                "page": 0,
                "pin": {"address": "", "lat": 39.8001, "lon": -89.6455},
                "media": ["telegram-file:AgAC1"],
            },
            "offered": ["PTH-001", "SLT-002", "GRF-003", "TRS-004", "DMP-005", "VEH-006"],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="restart", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (Reply(text="Report cancelled. Text us any time to start a new one."),),
        (),
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "resume",
            "draft": {
                "held": {
                    "name": "description",
                    "draft": {
                        "service_code": "4fd3b167e750846744000005",
                        "service_name": "Graffiti Removal",
                        "history": [
                            {
                                "name": "location",
                                "draft": {
                                    "service_code": "4fd3b167e750846744000005",
                                    "service_name": "Graffiti Removal",
                                },
                                "offered": [],
                            }
                        ],
                        "address": "5 Center Street, Springfield",
                        "lat": 39.7860641,
                        "lon": -89.6412,
                    },
                    "offered": [],
                },
                "said": "trash wasnt picked up at 77 maple ave",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="no", at=datetime(2026, 11, 21, 15, 32, tzinfo=UTC)),
        (),
        (Geocode(query="77 maple ave"),),
        {
            "name": "location",
            "draft": {
                "service_code": "001",
                "service_name": "Missed Trash Pickup",
                "description": "trash wasnt picked up at 77 maple ave",
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "001",
                            "service_name": "Missed Trash Pickup",
                            "description": "trash wasnt picked up at 77 maple ave",
                        },
                        "offered": [],
                    }
                ],
                "geocode_query": "77 maple ave",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "location",
            "draft": {
                "service_code": "GRF-003",
                "service_name": "Graffiti Removal",
                "description": "graffiti at 120 Main St, call me at [phone]",
                "contact": {"phone": "312-555-0142", "email": ""},
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "description": "graffiti at 120 Main St, call me at [phone]",
                            "contact": {"phone": "312-555-0142", "email": ""},
                        },
                        "offered": [],
                    }
                ],
                "geocode_query": "120 Main St",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
        Geocoded(
            query="120 Main St",
            places=(Place(address="120 Main St, Springfield", lat=39.78, lon=-89.65),),
        ),
        (
            Reply(
                text="I found: 120 Main St, Springfield. Is that right? Reply YES or NO.",
                expects="yes_no",
            ),
        ),
        (),
        {
            "name": "location_confirm",
            "draft": {
                "service_code": "GRF-003",
                "service_name": "Graffiti Removal",
                "description": "graffiti at 120 Main St, call me at [phone]",
                "contact": {"phone": "312-555-0142", "email": ""},
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "description": "graffiti at 120 Main St, call me at [phone]",
                            "contact": {"phone": "312-555-0142", "email": ""},
                        },
                        "offered": [],
                    }
                ],
                "address": "120 Main St, Springfield",
                "lat": 39.78,
                "lon": -89.65,
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "idle",
            "draft": {"status_number": "77"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        StatusFound(number="77"),
        (Reply(text="I couldn't find request 77."),),
        (),
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St",
                            "lat": None,
                            "lon": None,
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main St",
                "lat": None,
                "lon": None,
                "description": "deep",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="yes", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text="Thanks! Sending your report to the city now. We'll text you the request number."
            ),
        ),
        (
            FileReport(
                service_code="PTH-001",
                service_name="Pothole",
                description="deep",
                address="120 Main St",
            ),
        ),
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "photo",
            "draft": {"x": 1},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="pothole", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text="Got it: Pothole. Where is it? Send the street address (e.g. 120 Main St).",
                expects="location",
            ),
        ),
        (),
        {
            "name": "location",
            "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "idle",
            "draft": {"listing": True},
            "offered": [],
            "language": "tl",
            "language_chosen": False,
            "consent": None,
        },
        ReportsListed(
            reports=(
                ReportLine(
                    number="2026-000077",
                    service_name="Missed Trash Pickup",
                    status="closed",
                    filed_at=datetime(2026, 11, 2, 16, 40, tzinfo=UTC),
                ),
            )
        ),
        (Reply(text="Ang inyong mga ulat:\n2026-000077 Hindi nakuhang basura: closed (Nob 2)"),),
        (),
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "tl",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "language",
            "draft": {
                "back_to": {
                    "name": "idle",
                    "draft": {},
                    "offered": [],
                    "language": "",
                    "language_chosen": False,
                    "consent": None,
                }
            },
            "offered": ["en", "es", "zh", "vi", "tl"],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="3", at=datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),
        (
            Reply(
                text="好的，我会用中文与您沟通。 请问您要报告什么问题？ 请回复数字，或用几个词描述问题。 回复“更多”看更多。 回复“其他”看所有类型。",
                options=("路面坑洞", "路灯不亮", "清除涂鸦", "垃圾漏收", "非法倾倒", "废弃车辆"),
                expects="choice",
            ),
        ),
        (),
        {
            "name": "service",
            "draft": {"page": 0},
            "offered": [
                "4fd3b656e750846c53000004",
                "4ffa9f2d6018277d400000c8",
                "4fd3b167e750846744000005",
                "001",
                "002",
                "4ffa4c69601827691b000018",
            ],
            "language": "zh",
            "language_chosen": True,
            "consent": None,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "description",
            "draft": {
                "service_code": "4fd3b167e750846744000005",
                "service_name": "Graffiti Removal",
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4fd3b167e750846744000005",
                            "service_name": "Graffiti Removal",
                        },
                        "offered": [],
                    }
                ],
                "address": "5 Center Street, Springfield",
                "lat": 39.7860641,
                "lon": -89.6412,
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        TimedOut(at=datetime(2026, 11, 21, 15, 30, tzinfo=UTC)),
        (Reply(text="I've saved your Graffiti Removal report. Text us any time to finish it."),),
        (),
        {
            "name": "idle",
            "draft": {
                "held": {
                    "name": "description",
                    "draft": {
                        "service_code": "4fd3b167e750846744000005",
                        "service_name": "Graffiti Removal",
                        "history": [
                            {
                                "name": "location",
                                "draft": {
                                    "service_code": "4fd3b167e750846744000005",
                                    "service_name": "Graffiti Removal",
                                },
                                "offered": [],
                            }
                        ],
                        "address": "5 Center Street, Springfield",
                        "lat": 39.7860641,
                        "lon": -89.6412,
                    },
                    "offered": [],
                }
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "location_confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    },
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "location_confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "Deep hole in the right lane",
                        },
                        "offered": [],
                    },
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "description": "Deep hole in the right lane",
                            "editing": True,
                        },
                        "offered": [],
                    },
                ],
                "description": "Deep hole in the right lane",
                "editing": True,
                "address": "5 Oak Ave, Springfield",
                "lat": 39.79,
                "lon": -89.64,
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="yes", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text='Ready to send:\n1 Pothole\n2 5 Oak Ave, Springfield\n3 "Deep hole in the right lane"\nReply YES to send, 1-3 to change, or NO to drop it.',
                expects="yes_no",
            ),
        ),
        (),
        {
            "name": "confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    },
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "location_confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "Deep hole in the right lane",
                        },
                        "offered": [],
                    },
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "description": "Deep hole in the right lane",
                            "editing": True,
                        },
                        "offered": [],
                    },
                    {
                        "name": "location_confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "description": "Deep hole in the right lane",
                            "editing": True,
                            "address": "5 Oak Ave, Springfield",
                            "lat": 39.79,
                            "lon": -89.64,
                        },
                        "offered": [],
                    },
                ],
                "description": "Deep hole in the right lane",
                "editing": True,
                "address": "5 Oak Ave, Springfield",
                "lat": 39.79,
                "lon": -89.64,
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="mga ulat ko", at=datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),
        (),
        (ListReports(),),
        {
            "name": "idle",
            "draft": {"listing": True},
            "offered": [],
            "language": "tl",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "location",
            "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(
            text="", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), media=("telegram-file:AgAC1",)
        ),
        (
            Reply(text="Photo added."),
            Reply(
                text="Where is it? Send the street address (e.g. 120 Main St).", expects="location"
            ),
        ),
        (),
        {
            "name": "location",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "media": ["telegram-file:AgAC1"],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "location",
            "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(
            text="",
            at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
            location=Place(address="", lat=39.8001, lon=-89.6455),
        ),
        (Reply(text="Thanks, I have the location. Please describe the problem in a few words."),),
        (),
        {
            "name": "description",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "address": "",
                "lat": 39.8001,
                "lon": -89.6455,
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    }
                ],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "service",
            "draft": {
                "groups": [
                    "Streets & Sidewalks",
                    "Sanitation",
                    "Transportation",
                    "Parks & Forestry",
                    "Quality of Life",
                    "Water",
                ],
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    }
                ],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="2", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text="What would you like to report? Reply with a number, or describe the problem in a few words.",
                options=("Graffiti Removal", "Missed Trash Pickup", "Illegal Dumping"),
                expects="choice",
            ),
        ),
        (),
        {
            "name": "service",
            "draft": {
                "group": "Sanitation",
                "page": 0,
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    },
                    {
                        "name": "service",
                        "draft": {
                            "groups": [
                                "Streets & Sidewalks",
                                "Sanitation",
                                "Transportation",
                                "Parks & Forestry",
                                "Quality of Life",
                                "Water",
                            ]
                        },
                        "offered": [],
                    },
                ],
            },
            "offered": ["GRF-003", "TRS-004", "DMP-005"],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "service",
            "draft": {
                "group": "Sanitation",
                "page": 0,
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    },
                    {
                        "name": "service",
                        "draft": {
                            "groups": [
                                "Streets & Sidewalks",
                                "Sanitation",
                                "Transportation",
                                "Parks & Forestry",
                                "Quality of Life",
                                "Water",
                            ]
                        },
                        "offered": [],
                    },
                ],
            },
            "offered": ["GRF-003", "TRS-004", "DMP-005"],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="1", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text="Got it: Graffiti Removal. Where is it? Send the street address (e.g. 120 Main St).",
                expects="location",
            ),
        ),
        (),
        {
            "name": "location",
            "draft": {
                "service_code": "GRF-003",
                "service_name": "Graffiti Removal",
                "history": [
                    {
                        "name": "service",
                        "draft": {"page": 0},
                        "offered": [
                            "PTH-001",
                            "SLT-002",
                            "GRF-003",
                            "TRS-004",
                            "DMP-005",
                            "VEH-006",
                        ],
                    },
                    {
                        "name": "service",
                        "draft": {
                            "groups": [
                                "Streets & Sidewalks",
                                "Sanitation",
                                "Transportation",
                                "Parks & Forestry",
                                "Quality of Life",
                                "Water",
                            ]
                        },
                        "offered": [],
                    },
                    {
                        "name": "service",
                        "draft": {"group": "Sanitation", "page": 0},
                        "offered": ["GRF-003", "TRS-004", "DMP-005"],
                    },
                ],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "consent",
            "draft": {
                "service_code": "GRF-003",
                "service_name": "Graffiti Removal",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "GRF-003", "service_name": "Graffiti Removal"},
                        "offered": [],
                    },
                    {
                        "name": "location_confirm",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main St, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "tags on the wall",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
        Message(text="no", at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        (
            Reply(
                text='Ready to send:\n1 Graffiti Removal\n2 120 Main St, Springfield\n3 "tags on the wall"\nReply YES to send, 1-3 to change, or NO to drop it.',
                expects="yes_no",
            ),
        ),
        (),
        {
            "name": "confirm",
            "draft": {
                "service_code": "GRF-003",
                "service_name": "Graffiti Removal",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "GRF-003", "service_name": "Graffiti Removal"},
                        "offered": [],
                    },
                    {
                        "name": "location_confirm",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "consent",
                        "draft": {
                            "service_code": "GRF-003",
                            "service_name": "Graffiti Removal",
                            "address": "120 Main St, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "tags on the wall",
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main St, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "tags on the wall",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        SHORT,
        {
            "name": "confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "questions",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {},
                            "question": "LANE",
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main Street, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "deep hole in the right lane",
                "answers": {"LANE": "TRAVEL"},
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="4", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (Reply(text="About how wide is it? In inches. Reply with a number, or SKIP."),),
        (),
        {
            "name": "questions",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "questions",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {},
                            "question": "LANE",
                        },
                        "offered": [],
                    },
                    {
                        "name": "confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {"LANE": "TRAVEL"},
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main Street, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "deep hole in the right lane",
                "answers": {"LANE": "TRAVEL"},
                "details": True,
                "question": "WIDTH",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        SHORT,
        {
            "name": "questions",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "questions",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {},
                            "question": "LANE",
                        },
                        "offered": [],
                    },
                    {
                        "name": "confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {"LANE": "TRAVEL"},
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main Street, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "deep hole in the right lane",
                "answers": {"LANE": "TRAVEL"},
                "details": True,
                "question": "WIDTH",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
        Message(text="12 inches", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (Reply(text="When did you first notice it? Reply e.g. today 5pm or 11/20 3pm, or SKIP."),),
        (),
        {
            "name": "questions",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    },
                    {
                        "name": "description",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                        },
                        "offered": [],
                    },
                    {
                        "name": "questions",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {},
                            "question": "LANE",
                        },
                        "offered": [],
                    },
                    {
                        "name": "confirm",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {"LANE": "TRAVEL"},
                        },
                        "offered": [],
                    },
                    {
                        "name": "questions",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main Street, Springfield",
                            "lat": 39.78,
                            "lon": -89.65,
                            "description": "deep hole in the right lane",
                            "answers": {"LANE": "TRAVEL"},
                            "details": True,
                            "question": "WIDTH",
                        },
                        "offered": [],
                    },
                ],
                "address": "120 Main Street, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "deep hole in the right lane",
                "answers": {"LANE": "TRAVEL", "WIDTH": "12"},
                "details": True,
                "question": "SEEN",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": False,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
        Message(text="status abc-123", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (),
        (ListReports(),),
        {
            "name": "idle",
            "draft": {"status_number": "abc-123", "listing": "status"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "idle",
            "draft": {"status_number": "abc-123", "listing": "status"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
        ReportsListed(
            reports=(
                ReportLine(
                    number="ABC-123",
                    service_name="Pothole",
                    status="open",
                    filed_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
                ),
            )
        ),
        (),
        (LookupStatus(number="ABC-123"),),
        {
            "name": "idle",
            "draft": {"status_number": "ABC-123"},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "location",
            "draft": {
                "service_code": "4fd3b167e750846744000005",
                "service_name": "Graffiti Removal",
                "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                "contact": {"phone": "217-555-0188", "email": ""},
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4fd3b167e750846744000005",
                            "service_name": "Graffiti Removal",
                            "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                            "contact": {"phone": "217-555-0188", "email": ""},
                        },
                        "offered": [],
                    }
                ],
                "geocode_query": "110 Oak Ave",
                "listing": True,
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
        ReportsListed(
            reports=(ReportLine(number="2026-000101", service_name="Graffiti", status="closed"),)
        ),
        (
            Reply(text="Your reports:\n2026-000101 Graffiti: closed"),
            Reply(
                text="Where is it? Send the street address (e.g. 120 Main St).", expects="location"
            ),
        ),
        (),
        {
            "name": "location",
            "draft": {
                "service_code": "4fd3b167e750846744000005",
                "service_name": "Graffiti Removal",
                "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                "contact": {"phone": "217-555-0188", "email": ""},
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4fd3b167e750846744000005",
                            "service_name": "Graffiti Removal",
                            "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                            "contact": {"phone": "217-555-0188", "email": ""},
                        },
                        "offered": [],
                    }
                ],
                "geocode_query": "110 Oak Ave",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CORPUS,
        {
            "name": "location",
            "draft": {
                "service_code": "4fd3b167e750846744000005",
                "service_name": "Graffiti Removal",
                "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                "contact": {"phone": "217-555-0188", "email": ""},
                "history": [
                    {
                        "name": "location",
                        "draft": {
                            "service_code": "4fd3b167e750846744000005",
                            "service_name": "Graffiti Removal",
                            "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                            "contact": {"phone": "217-555-0188", "email": ""},
                        },
                        "offered": [],
                    }
                ],
                "geocode_query": "110 Oak Ave",
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
        TimedOut(at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (Reply(text="I've saved your Graffiti Removal report. Text us any time to finish it."),),
        (),
        {
            "name": "idle",
            "draft": {
                "held": {
                    "name": "location",
                    "draft": {
                        "service_code": "4fd3b167e750846744000005",
                        "service_name": "Graffiti Removal",
                        "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                        "contact": {"phone": "217-555-0188", "email": ""},
                        "history": [
                            {
                                "name": "location",
                                "draft": {
                                    "service_code": "4fd3b167e750846744000005",
                                    "service_name": "Graffiti Removal",
                                    "description": "there is graffiti on the wall at 110 Oak Ave, call me [phone]",
                                    "contact": {"phone": "217-555-0188", "email": ""},
                                },
                                "offered": [],
                            }
                        ],
                    },
                    "offered": [],
                }
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CONTEXT,
        {"name": "location", "draft": {"service_code": "PTH-001", "service_name": "Pothole"}},
        Message(text="120 Main St", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (),
        (Geocode(query="120 Main St"),),
        {
            "name": "location",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "geocode_query": "120 Main St",
                "history": [
                    {
                        "name": "location",
                        "draft": {"service_code": "PTH-001", "service_name": "Pothole"},
                        "offered": [],
                    }
                ],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "consent",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "address": "120 Main St",
                "lat": None,
                "lon": None,
                "description": "deep hole",
            },
            "offered": [],
        },
        Message(text="yes", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (
            Reply(
                text='Ready to send:\n1 Pothole\n2 120 Main St\n3 "deep hole"\nReply YES to send, 1-3 to change, or NO to drop it.',
                expects="yes_no",
            ),
        ),
        (),
        {
            "name": "confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "address": "120 Main St",
                "lat": None,
                "lon": None,
                "description": "deep hole",
                "history": [
                    {
                        "name": "consent",
                        "draft": {
                            "service_code": "PTH-001",
                            "service_name": "Pothole",
                            "address": "120 Main St",
                            "lat": None,
                            "lon": None,
                            "description": "deep hole",
                        },
                        "offered": [],
                    }
                ],
            },
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CONTEXT,
        {
            "name": "confirm",
            "draft": {
                "service_code": "PTH-001",
                "service_name": "Pothole",
                "address": "120 Main St, Springfield",
                "lat": 39.78,
                "lon": -89.65,
                "description": "deep hole",
            },
        },
        Message(text="yes", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (
            Reply(
                text="Thanks! Sending your report to the city now. We'll text you the request number."
            ),
        ),
        (
            FileReport(
                service_code="PTH-001",
                service_name="Pothole",
                description="deep hole",
                address="120 Main St, Springfield",
                lat=39.78,
                lon=-89.65,
                contact_ok=True,
            ),
        ),
        {
            "name": "idle",
            "draft": {},
            "offered": [],
            "language": "",
            "language_chosen": False,
            "consent": True,
        },
    ),
    Stored(
        CONTEXT,
        None,
        Message(text="hello", at=datetime(2026, 11, 21, 15, 10, tzinfo=UTC)),
        (
            Reply(
                text="Hi! What would you like to report? Reply with a number, or describe the problem in a few words. MORE for more. OTHER for all types.",
                options=(
                    "Pothole",
                    "Streetlight Out",
                    "Graffiti Removal",
                    "Missed Trash Pickup",
                    "Illegal Dumping",
                    "Abandoned Vehicle",
                ),
                expects="choice",
            ),
        ),
        (),
        {
            "name": "service",
            "draft": {"page": 0},
            "offered": ["PTH-001", "SLT-002", "GRF-003", "TRS-004", "DMP-005", "VEH-006"],
            "language": "",
            "language_chosen": False,
            "consent": None,
        },
    ),
]


def stored_json(data: dict | None) -> dict | None:
    """The state as the database gives it back."""
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{(e.state or {}).get('name')}")
def test_a_state_stored_earlier_behaves_as_it_did(example):
    turn = step(
        State.from_dict(stored_json(example.state)), example.event, context_of(example.context)
    )
    assert turn.replies == example.replies
    assert turn.actions == example.actions
    assert turn.state == State.from_dict(stored_json(example.after))


KEYS = {"name", "draft", "offered", "language", "language_chosen", "consent"}
# Every key the engine has written in a draft.
DRAFT_KEYS = {
    "service_code",
    "service_name",
    "description",
    "contact",
    "address",
    "lat",
    "lon",
    "pin",
    "photo_place",
    "media",
    "question",
    "answers",
    "details",
    "editing",
    "said",
    "page",
    "group",
    "groups",
    "geocode_query",
    "status_number",
    "listing",
    "history",
    "held",
    "back_to",
}


def written_now(draft: dict) -> dict:
    """A stored draft as this version writes it back: the same keys and values, but for an
    empty `answers` (the untyped draft kept one once the questions began; both read as no
    answers) and keys no version wrote (dropped)."""
    kept = {k: v for k, v in draft.items() if k in DRAFT_KEYS and (k != "answers" or v)}
    for key in ("held", "back_to"):
        if kept.get(key):
            kept[key] = {**kept[key], "draft": written_now(kept[key]["draft"])}
    if "history" in kept:
        kept["history"] = [{**h, "draft": written_now(h["draft"])} for h in kept["history"]]
    return kept


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{(e.state or {}).get('name')}")
def test_a_state_stored_earlier_is_stored_again_with_the_same_keys(example):
    for data in (example.state, example.after):
        if data is None or set(data) != KEYS:
            continue  # written by a version before the language keys
        assert State.from_dict(stored_json(data)).to_dict() == {
            **data,
            "draft": written_now(data["draft"]),
        }


def test_a_stored_draft_reads_as_typed_fields():
    stored = {
        "name": "location",
        "draft": {
            "service_code": "PTH-001",
            "service_name": "Pothole",
            "description": "deep hole, call [phone]",
            "contact": {"phone": "217-555-0188", "email": ""},
            "address": "120 Main St",
            "lat": None,
            "lon": None,
            "pin": {"address": "", "lat": 39.78, "lon": -89.65},
            "media": ["photo-1"],
            "answers": {"LANE": "BIKE", "KIND": ["GARB"], "WIDTH": None},
            "page": 0,
            "listing": "status",
            "status_number": "abc-123",
            "history": [{"name": "service", "draft": {"page": 0}, "offered": ["PTH-001"]}],
            "held": {"name": "confirm", "draft": {"service_code": "SLT-002"}, "offered": []},
            "back_to": {"name": "idle", "draft": {}, "offered": []},
        },
        "offered": [],
    }
    state = State.from_dict(stored)
    draft = state.draft
    assert state.name is StateName.LOCATION
    assert draft.contact == ContactDetails("217-555-0188", "")
    assert draft.place == Place("120 Main St") and draft.pin == Place("", 39.78, -89.65)
    assert draft.media == ["photo-1"] and draft.answers["KIND"] == ["GARB"]
    assert draft.page == 0 and draft.group == "" and draft.groups == []
    assert draft.listing == "status" and draft.status_number == "abc-123"
    assert draft.history == [Snapshot(StateName.SERVICE, Draft(page=0), ["PTH-001"])]
    assert draft.held == Snapshot(StateName.CONFIRM, Draft(service_code="SLT-002"))
    assert draft.back_to == State()
    assert draft.geocode_query is None and draft.question is None and not draft.editing
    written = state.to_dict()
    assert written["draft"]["back_to"] == State().to_dict()
    assert {**written, "draft": {**written["draft"], "back_to": stored["draft"]["back_to"]}} == {
        **stored,
        "language": "",
        "language_chosen": False,
        "consent": None,
    }


def test_a_state_name_this_version_does_not_know_is_kept_as_stored():
    state = State.from_dict({"name": "photo", "draft": {"x": 1}})
    assert state.name == "photo" and state.draft == Draft()
    assert state.to_dict()["name"] == "photo"


def test_a_copy_of_a_state_is_equal_and_shares_nothing_mutable():
    held = Snapshot(StateName.CONFIRM, Draft(service_code="SLT-002", media=["photo-2"]))
    draft = Draft(
        service_code="PTH-001",
        service_name="Pothole",
        description="deep hole",
        contact=ContactDetails("217-555-0188", "ana@example.com"),
        place=Place("120 Main St", 39.78, -89.65),
        pin=Place("", 39.7, -89.6),
        photo_place=Place("Elm St & 3rd St", 39.81, -89.64),
        media=["photo-1"],
        question="KIND",
        answers={"KIND": ["GARB"], "LANE": "BIKE"},
        details=True,
        editing=True,
        said="broken",
        page=0,
        group="Sanitation",
        groups=["Sanitation", "Water"],
        geocode_query="120 Main St",
        status_number="abc-123",
        listing="status",
        history=[Snapshot(StateName.SERVICE, Draft(page=0), ["PTH-001"])],
        held=held,
        back_to=State(StateName.IDLE, Draft(held=held), language="es"),
        candidates=[Place("1 Oak Ave, Springfield", 39.8, -89.6)],
        nearby_checked="PTH-001@39.78000,-89.65000",
        nearby_wait="PTH-001@39.78000,-89.65000",
        nearby=[NearbyRequest("101", "Pothole", "118 Main St", "open", OPENED, 5)],
    )
    unset = Draft()
    assert all(getattr(draft, f.name) != getattr(unset, f.name) for f in fields(Draft))
    state = State(StateName.LOCATION, draft, ["PTH-001"], "es", True, True)
    stored = state.to_dict()
    assert State.from_dict(json.loads(json.dumps(stored))) == state
    copy = state.copy()
    assert copy == state and copy.to_dict() == stored
    copy.draft.contact.phone = ""
    copy.draft.media.append("photo-3")
    copy.draft.answers["KIND"].append("RECY")
    copy.draft.groups.append("Parks")
    copy.draft.candidates.append(Place("2 Oak Ave", 39.8, -89.6))
    copy.draft.nearby.append(NearbyRequest("102", "Pothole"))
    copy.draft.history[0].offered.append("SLT-002")
    copy.draft.held.draft.media.append("photo-4")
    copy.draft.back_to.draft.held.draft.media.append("photo-5")
    copy.offered.append("SLT-002")
    assert state.to_dict() == stored
