"""The staff side after the review: hand back waits for a resident's turn in progress (the
conversation's lock) and asks the question of the state that turn left; what the resident is
told on take over and hand back goes as staff's words (Messenger's HUMAN_AGENT after 24 h)."""

from __future__ import annotations

import threading

from sqlalchemy import update
from sqlmodel import select

from bot import handoff
from bot.db import session_scope
from bot.handoff import hand_back, take_over
from bot.jobs.common import redis_lock
from bot.models import Conversation, Message
from bot.payloads import OutboundPayload
from conversations import texts
from tests.conftest import run_jobs
from tests.test_handoff_end_to_end import conversation, phone  # noqa: F401  (phone: the fixture)


def test_hand_back_waits_for_a_turn_and_asks_what_it_left(phone, monkeypatch):  # noqa: F811
    phone.text("hi")
    menu_state = conversation().state  # the service menu
    phone.text("1")  # "Where is it?"
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    run_jobs()
    phone.inbox()

    ready = threading.Event()
    real_context_for = handoff.context_for

    def context_for(*args, **kwargs):
        found = real_context_for(*args, **kwargs)
        ready.set()  # hand_back is about to read the conversation
        return found

    monkeypatch.setattr(handoff, "context_for", context_for)
    turn = redis_lock(f"conversation:{conversation_id}")
    assert turn.acquire(blocking=True)  # a resident's turn in progress
    errors: list[BaseException] = []

    def back() -> None:
        try:
            hand_back(conversation_id, "ana")
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=back)
    worker.start()
    assert ready.wait(60)
    with session_scope() as session:  # the turn commits a new state (back at the menu)
        session.execute(update(Conversation).values(state=menu_state))
    turn.release()
    worker.join(60)
    assert not errors
    run_jobs()
    told = " ".join(phone.inbox())
    assert "1 Pothole in Street" in told and "Where is it?" not in told
    assert conversation().state["name"] == menu_state["name"]


def test_take_over_and_hand_back_texts_are_staffs(phone):  # noqa: F811
    phone.text("hi")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    hand_back(conversation_id, "ana")
    with session_scope() as session:
        sent = session.exec(
            select(Message).where(Message.direction == "out").order_by(Message.id)
        ).all()
    told = [m for m in sent if m.text.startswith((texts.HANDOFF_TAKEN[:8], texts.HANDOFF_BACK))]
    assert len(told) >= 2
    assert all(OutboundPayload.from_dict(m.payload).agent for m in told)
