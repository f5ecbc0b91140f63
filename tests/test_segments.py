"""SMS segment counting, and every prompt the engine can produce kept within its budget."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import (
    Context,
    Geocoded,
    Message,
    Nearby,
    NearbyRequest,
    Place,
    Reply,
    State,
    StatusFound,
    texts,
)
from conversations.notices import (
    report_delayed,
    report_filed,
    report_rejected,
    report_saved,
    status_changed,
)
from conversations.plaintext import render
from conversations.segments import is_gsm7, segments
from tests.test_conversations_catalogue import ASKING_CONTEXT, AT, CATALOGUE, CONTEXT, Chat


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # extension characters count two septets
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        ("a" * 152 + "{" + "a" * 10, 2),  # an escape pair is not split across parts
        ("a" * 152 + "{" + "a" * 152, 3),
        ("é" * 160, 1),  # accented letters of the basic table stay GSM-7
        ("ç" * 70, 1),  # lowercase c-cedilla is not in GSM-7: UCS-2
        ("ç" * 71, 2),
        ("ç" * 134, 2),
        ("ç" * 135, 3),
        ("\u201cquoted\u201d" + "a" * 62, 1),  # curly quotes force UCS-2
        ("\u201cquoted\u201d" + "a" * 63, 2),
        ("\U0001f44d" * 35, 1),  # an emoji is two UTF-16 units
        ("\U0001f44d" * 36, 2),
        ("a" * 66 + "\U0001f44d" + "a" * 66, 3),  # a surrogate pair is not split
    ],
)
def test_segments(text, count):
    assert segments(text) == count


@pytest.mark.parametrize(
    ("text", "gsm"),
    [
        ("Hello, 120 Main St!", True),
        ("caf\u00e9 \u00a35 \u20ac", True),
        ("{[~]}|^\\", True),
        ("\u201cquote\u201d", False),
        ("em\u2014dash", False),
        ("\U0001f44d", False),
        ("ç", False),
    ],
)
def test_is_gsm7(text, gsm):
    assert is_gsm7(text) == gsm


LONG_ADDRESS = (
    "1200, West Martin Luther King Junior Boulevard, Near North Side, Springfield, "
    "Sangamon County, Illinois, 62701, United States"
)
MENU_TEXTS = {texts.HELP}
SUMMARY_START = texts.CONFIRM.split("\n")[0]


def all_prompts() -> list[tuple[Reply, int]]:
    """Walk the dialogue through every branch, collecting each reply with its budget."""
    collected: list[Reply] = []
    wide = Context(services=CATALOGUE, city="Springfield-on-the-Long-River-Name")

    def run(*steps, context=None, consent: bool | None = False):
        chat = Chat(context or CONTEXT, State(consent=consent))
        for event in steps:
            turn = chat.send(event) if isinstance(event, str) else chat.feed(event)
            collected.extend(turn.replies)

    found = Geocoded("120 Main St", (Place(LONG_ADDRESS, 39.8, -89.6),))
    long_text = "The hole is deep and getting bigger every day, cars swerve around it. " * 20
    run(
        "hello",
        "MORE",
        "MORE",
        "99",
        "zzzz",
        "street",
        "1",
        "help",
        "",
        "120 Main St",
        found,
        "maybe",
        "no",
        "120 Main St",
        found,
        "yes",
        "",
        long_text,
        "what",
        "help",
        "yes",
    )
    run(
        "hi",
        "2",
        "120 Main St",
        Geocoded("120 Main St", ()),
        "status",
        "status 2026-000123",
        StatusFound("2026-000123", "In progress", "x " * 200, "Pothole"),
        "status 1",
        StatusFound("1", None),
        "status 2",
        StatusFound("2", failed=True),
        "status 2026-000124",
        StatusFound("2026-000124", own=True),
        "cancel",
        context=wide,
    )
    run("big pothole outside 120 Main St", Geocoded("120 Main St", failed=True), "no")
    run("pothole", "120 Main St", Geocoded("120 Main St", (Place("120 Main St"),)), "ok")
    run("pothole", "help")
    run("hello", context=Context(services=()))
    # a pin read back by a long address; open requests nearby offered, asked again, followed
    run("pothole", Message("", AT, location=Place(LONG_ADDRESS, 39.8, -89.6)))
    nearby = tuple(
        NearbyRequest(f"2026-00012{n}", "Pothole", LONG_ADDRESS, "In progress - crew", AT)
        for n in range(3)
    )
    checking = replace(CONTEXT, nearby_off=frozenset())
    offer = Nearby("PTH-001", 39.8, -89.6, nearby)
    run("pothole", "120 Main St", found, "yes", long_text, offer, "9", "1", context=checking)
    # the service's questions: every datatype, SKIP refused, bad answers, HELP and STATUS
    run(
        "pothole",
        "120 Main St",
        found,
        "yes",
        long_text,
        "skip",
        "9",
        "bike",
        "wide",
        "help",
        "12",
        "status 5",
        StatusFound("5", "Open"),
        "whenever",
        "yesterday 5pm",
        "yes",
        context=ASKING_CONTEXT,
    )
    run(
        "trash",
        "120 Main St",
        Geocoded("120 Main St", failed=True),
        "x",
        "1 9",
        "1 3",
        "skip",
        "soon",
        "today",
        "maybe",
        "yes",
        context=ASKING_CONTEXT,
    )
    run(
        "abandoned car",
        "120 Main St",
        Geocoded("120 Main St", ()),
        "120 Main St",
        Geocoded("120 Main St", failed=True),
        "parked here for weeks",
        "",
        "skip",
        "blue ford",
        "skip",
        "ages",
        "3",
        long_text,
        "yes",
        context=ASKING_CONTEXT,
    )
    run(
        "fallen tree at 120 Main St",
        Geocoded("120 Main St", failed=True),
        "skip",
        "8",
        "1",
        "help",
        long_text,
        "no",
        context=ASKING_CONTEXT,
    )
    # The default, shorter flow for a new resident: a sure address led in before the next
    # question, or (long) straight to the summary; optional questions offered there (4, out of
    # range 5); the first summary asking whether the city may contact them.
    short = replace(ASKING_CONTEXT, ask_optional=frozenset())
    sure = Geocoded("120 Main St", (Place(LONG_ADDRESS, 39.8, -89.6, exact=True),))
    run(
        "pothole",
        "120 Main St",
        Geocoded("120 Main St", (Place("120 Main Street, Springfield", 39.8, -89.6, exact=True),)),
        long_text,
        "1",
        "5",
        "maybe",
        "4",
        "wide",
        "skip",
        "skip",
        "private",
        context=short,
        consent=None,
    )
    run("noise from a party every night at 120 Main St", sure, "2", context=short, consent=None)
    # Where a photo was taken, offered as the location (its name long, or none).
    taken = Place(LONG_ADDRESS, 39.8, -89.6)
    run(Message("", AT, media=("photo-1",), photo_location=taken), "pothole", "maybe", "yes")
    run("pothole", Message("", AT, media=("photo-1",), photo_location=replace(taken, address="")))
    return [(reply, budget_of(reply)) for reply in collected]


def budget_of(reply: Reply) -> int:
    """The segments an English reply may take: two for lists, help and the summary, else one."""
    two = reply.options or reply.text in MENU_TEXTS or reply.text.startswith(SUMMARY_START)
    return 2 if two else 1


def test_walk_covers_every_kind_of_prompt():
    seen = {reply.text.split(".")[0] for reply, _ in all_prompts()}
    for text in (
        texts.SHORTLIST,
        texts.ASK_LOCATION,
        texts.ASK_YES_NO,
        texts.SENDING,
        texts.CANCELLED,
        texts.CATALOGUE_DOWN,
        texts.STATUS_WHICH,
        texts.STATUS_UNAVAILABLE,
        texts.ASK_DESCRIPTION,
        texts.ADDRESS_UNCHECKED,
    ):
        assert text.split(".")[0] in seen, text
    everything = "\n".join(render(reply) for reply, _ in all_prompts())
    for text in (
        texts.ANSWER_NEEDED,
        texts.BAD_NUMBER,
        texts.BAD_DATETIME,
        texts.BAD_CHOICE.format(count=6),
        texts.BAD_CHOICES.format(count=4),
        "Where is the pothole?",
        "What was not collected?",
        "When was it due",
        "Make and color",
        "License plate",
        "How many days",
        "Anything else",
        "Is the fallen tree",
        "Please tell us roughly",
        "or SKIP.",
        "Or reply SKIP.",
        texts.ADDRESS_TAKEN.split("{")[0],
        texts.CONFIRM_HOW_DETAILS,
        texts.CONFIRM_CONSENT,
        texts.PHOTO_PLACE.split("{")[0],
        texts.PHOTO_PLACE_PLAIN,
    ):
        assert text in everything, text


def test_every_prompt_fits_its_budget_and_is_gsm7():
    for reply, budget in all_prompts():
        text = render(reply)
        assert is_gsm7(text), text
        assert segments(text) <= budget, (segments(text), text)


def test_notices_fit_one_segment():
    for text in (
        report_filed("2026-000123", "Missed Trash Pickup"),
        report_delayed(),
        report_saved(),
        report_rejected("The location is outside the service area of this city " * 3),
        status_changed(
            "2026-000123", "Closed", "The crew repaired the pothole. " * 10, "Missed Trash Pickup"
        ),
    ):
        assert is_gsm7(text), text
        assert segments(text) == 1, text


def test_every_text_template_is_gsm7():
    strings = [
        value for name, value in vars(texts).items() if name.isupper() and isinstance(value, str)
    ]
    assert len(strings) > 20
    assert all(is_gsm7(value) for value in strings)


def test_a_cut_value_does_not_get_a_second_full_stop():
    texts_seen = [render(reply) for reply, _ in all_prompts()]
    cut_ones = [text for text in texts_seen if "..." in text]
    assert cut_ones, "the walk should include values cut to fit"
    assert not any("...." in text for text in cut_ones)


def test_a_cut_address_in_the_found_lead_does_not_get_a_second_full_stop():
    chat = Chat(replace(ASKING_CONTEXT, ask_optional=frozenset()), State(consent=False))
    chat.send("pothole")
    chat.send("120 Main St")
    sure = Geocoded("120 Main St", (Place(LONG_ADDRESS, 39.8, -89.6, exact=True),))
    lead = render(chat.feed(sure).replies[0])
    assert lead.startswith("Found: 1200, West Martin Luther King") and "..." in lead
    assert "...." not in lead


def test_a_menu_of_long_service_names_is_cut_to_two_segments():
    from conversations import Service
    from conversations.prompts import menu

    services = [
        Service(str(n), f"Very long service name number {n} with extra words here")
        for n in range(6)
    ]
    reply = menu(services, 0)
    assert segments(render(reply)) == 2
    assert reply.options[0].startswith("Very long") and reply.options[0].endswith("...")
