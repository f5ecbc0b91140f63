"""Human handoff in the engine: AGENT in every language, two messages not understood in a
row, staff in or out (Context.handoff), and no handoff at all ("off")."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from bot.languages import load_languages
from bot.settings import Settings
from conversations import HandOff, State, texts
from conversations.engine import handed_back, no_answer, taken_over
from conversations.fitting import MOST
from conversations.segments import segments
from tests.test_conversations_catalogue import CONTEXT, Chat

LANGUAGES = load_languages()
BASE = replace(CONTEXT, city="Springfield", languages=LANGUAGES)
OPEN = replace(BASE, handoff="open")
CLOSED = replace(BASE, handoff="closed", handoff_hours="Mon-Fri 08:00-17:00")
OFF = replace(BASE, handoff="off")

AGENT = {
    "en": ["AGENT", "agent", "Human", "talk to someone", "operator", "a real person"],
    "es": ["agente", "hablar con una persona", "Persona", "operador"],
    "tl": ["ahente", "tao", "makausap ang tao", "kinatawan"],
    "vi": ["nhân viên", "gặp nhân viên", "nguoi that", "tổng đài viên"],
    "zh": ["人工", "转人工", "人工客服", "真人"],
}


def resident(context, code: str = "en") -> Chat:
    return Chat(context, State(language="" if code == "en" else code, consent=False))


def handoffs(turn) -> list[HandOff]:
    return [action for action in turn.actions if isinstance(action, HandOff)]


@pytest.mark.parametrize("code", sorted(AGENT))
def test_agent_in_every_language_passes_the_resident_to_a_person(code):
    say = LANGUAGES.get(code) or LANGUAGES["en"]
    for word in AGENT[code]:
        chat = resident(OPEN, code)
        chat.send("hello")
        turn = chat.send(word)
        assert handoffs(turn) == [HandOff("asked")], (code, word)
        [reply] = turn.replies
        assert reply.text == say(texts.HANDOFF_OPEN).format(city="Springfield"), (code, word)
        assert turn.state.name == "service"  # the report is kept for when the bot is back


def test_agent_outside_hours_says_when_and_carries_on_flagged():
    chat = resident(CLOSED)
    chat.send("hello")
    turn = chat.send("agent")
    assert handoffs(turn) == [HandOff("asked")]  # flagged for staff to see when they are in
    assert turn.replies[0].text.startswith("Our staff are not in now (hours: Mon-Fri 08:00-17:00)")
    assert turn.replies[-1].options  # the menu asked again: the bot goes on
    custom = replace(CLOSED, handoff_closed_text="Staff answer weekdays 8 to 5.")
    chat = resident(custom)
    assert chat.send("human").replies[0].text == "Staff answer weekdays 8 to 5."


def test_with_handoff_off_agent_is_told_no_person_can_take_over():
    chat = resident(OFF)
    chat.send("hello")
    turn = chat.send("agent")
    assert handoffs(turn) == []
    assert turn.replies[0].text == texts.HANDOFF_OFF
    assert turn.state.name == "service"


def test_two_messages_not_understood_in_a_row_hand_off():
    chat = resident(OPEN)
    chat.send("hello")
    first = chat.send("zzzz")
    assert handoffs(first) == [] and first.state.unclear == 1
    assert first.replies[0].text.startswith(texts.MENU_AGAIN)
    second = chat.send("99")
    assert handoffs(second) == [HandOff("not_understood")]
    [reply] = second.replies
    assert reply.text == texts.HANDOFF_UNCLEAR + " " + texts.HANDOFF_OPEN.format(city="Springfield")
    assert second.state.unclear == 0  # counted afresh


def test_one_not_understood_then_one_understood_resets_the_count():
    chat = resident(OPEN)
    chat.send("hello")
    assert chat.send("zzzz").state.unclear == 1
    understood = chat.send("1")  # a service picked from the menu
    assert understood.state.unclear == 0 and understood.state.name == "location"
    chat.send("120 Main St")  # looked up: no event answered here, the question stands
    assert handoffs(chat.send("qqqq")) == []  # one not understood again, not two in a row


def test_a_bad_answer_to_a_yes_no_question_counts_too():
    chat = resident(OPEN)
    chat.send("hello")
    chat.send("zzzz")
    assert handoffs(chat.send("HELP")) == []  # a command is understood: the count restarts
    chat.send("zzzz")
    assert handoffs(chat.send("xxxx")) == [HandOff("not_understood")]


def test_not_understood_outside_hours_is_flagged_and_the_question_stands():
    chat = resident(CLOSED)
    chat.send("hello")
    chat.send("zzzz")
    turn = chat.send("qqqq")
    assert handoffs(turn) == [HandOff("not_understood")]
    assert turn.replies[0].text.startswith(texts.MENU_AGAIN)  # no word of staff: not asked


def test_not_understood_with_handoff_off_never_hands_off():
    chat = resident(OFF)
    chat.send("hello")
    for text in ("zzzz", "qqqq", "xxxx"):
        assert handoffs(chat.send(text)) == []
    assert chat.state.unclear == 2  # counted, capped


def test_taken_over_and_handed_back_in_the_residents_language():
    chat = resident(OPEN, "es")
    chat.send("hola")
    chat.send("1")
    state = chat.state
    es = LANGUAGES["es"]
    assert taken_over(state, OPEN).text == es(texts.HANDOFF_TAKEN).format(city="Springfield")
    back = handed_back(state, OPEN)
    assert back.replies[0].text.startswith(es(texts.HANDOFF_BACK))
    said = "\n".join(reply.text for reply in back.replies)
    assert es(texts.ASK_LOCATION) in said  # the pending question asked again
    assert back.state.name == "location"
    idle = handed_back(State(language="es"), OPEN)
    assert [r.text for r in idle.replies] == [es(texts.HANDOFF_BACK_IDLE)]
    late = no_answer(state, OPEN)
    assert late.replies[0].text == es(texts.HANDOFF_NO_ANSWER).format(city="Springfield")
    assert late.replies[1].text.startswith(es(texts.HANDOFF_BACK))


def test_the_count_is_stored_only_when_set():
    assert "unclear" not in State().to_dict()
    assert State.from_dict({**State().to_dict(), "unclear": 1}).unclear == 1


def test_many_hours_in_a_long_language_fit_the_most_a_reply_takes():
    hours = "Mon-Fri 08:00-12:00; Mon-Fri 13:00-17:00; Sat 09:00-12:00; Sun 10:00-12:00"
    chat = resident(replace(CLOSED, handoff_hours=hours), "vi")
    chat.send("xin chào")
    told = chat.send("nhân viên").replies[0].text
    assert segments(told) <= MOST
    long = replace(CLOSED, handoff_closed_text="Nhân viên của chúng tôi làm việc. " * 10)
    told = resident(long).send("human").replies[0].text
    assert segments(told) <= MOST


def test_a_closed_text_over_the_limit_is_refused_at_start():
    with pytest.raises(
        ValidationError, match="HANDOFF_CLOSED_TEXT takes 4 SMS segments: at most 3"
    ):
        Settings(handoff_closed_text="x" * 500)
    assert Settings(handoff_closed_text="Staff answer weekdays.").handoff_closed_text
