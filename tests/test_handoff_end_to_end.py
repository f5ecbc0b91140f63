"""Human handoff end to end: a resident texts through the signed Twilio webhook, the real
worker runs the turns, staff act through bot.handoff, and every text the resident gets is read
from the Twilio stand-in (what the provider was asked to send)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot import audit, jobs
from bot.db import session_scope
from bot.handoff import HandoffError, agent_reply, hand_back, take_over
from bot.models import Contact, Conversation, Message, StaffAction
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone
from webhooks import create_app

PASSED = texts.HANDOFF_OPEN.format(city="Springfield")
TAKEN = texts.HANDOFF_TAKEN.format(city="Springfield")


@pytest.fixture
def phone(env, twilio_api, monkeypatch):
    monkeypatch.setenv("HANDOFF_HOURS", "")  # staff always in
    get_settings.cache_clear()
    audit.acting_as(audit.Staff("console:ana"))
    yield Phone(create_app({"TESTING": True}).test_client(), twilio_api)
    audit.acting_as(None)


def conversation() -> Conversation:
    with session_scope() as session:
        return session.exec(select(Conversation)).one()


def inbound_pending() -> int:
    with session_scope() as session:
        return len(
            session.exec(
                select(Message).where(Message.direction == "in", Message.status == "pending")
            ).all()
        )


def test_agent_take_over_reply_and_hand_back(phone):
    [menu] = phone.text("hi")
    assert "1 Pothole in Street" in menu
    [where] = phone.text("1")
    assert "Where is it?" in where

    assert phone.text("AGENT") == [PASSED]
    flagged = conversation()
    assert (flagged.handoff, flagged.handoff_reason) == ("waiting", "asked")
    assert phone.text("hello? anyone there") == []  # waiting in hours: the bot is quiet

    take_over(flagged.id, "ana")
    run_jobs()
    assert phone.inbox() == [TAKEN]
    taken = conversation()
    assert (taken.handoff, taken.handoff_by) == ("agent", "ana")

    assert phone.text("the hole is huge, by the school") == []  # the bot stays quiet
    assert inbound_pending() == 0  # stored and processed, for staff to read

    message_id = agent_reply(taken.id, "Thanks, a crew is on its way today.", "ana")
    run_jobs()
    assert phone.inbox() == ["Thanks, a crew is on its way today."]
    with session_scope() as session:
        sent = session.get(Message, message_id)
        assert sent.external_id and sent.status in ("sent", "delivered")
        assert sent.payload.get("agent") is True

    hand_back(taken.id, "ana")
    run_jobs()
    [back] = phone.inbox()
    assert back.startswith(texts.HANDOFF_BACK) and "Where is it?" in back  # the report kept
    assert conversation().handoff is None
    [found] = phone.text("120 main st")  # the bot answers again, where the report was
    assert found.startswith("Found: 120 Main Street, Springfield.")

    with session_scope() as session:
        actions = session.exec(select(StaffAction).order_by(StaffAction.id)).all()
        assert [a.action for a in actions] == ["handoff.take", "handoff.reply", "handoff.back"]
        assert {a.actor for a in actions} == {"console:ana"}
    with pytest.raises(HandoffError, match="not with a person"):
        agent_reply(taken.id, "too late", "ana")


def test_not_understood_twice_is_handed_off(phone):
    phone.text("hi")
    [again] = phone.text("99")  # no such number on the menu
    assert again.startswith("Please reply with a number")
    [passed] = phone.text("98")
    assert passed == texts.HANDOFF_UNCLEAR + " " + PASSED
    flagged = conversation()
    assert (flagged.handoff, flagged.handoff_reason) == ("waiting", "not_understood")


def test_stop_during_handoff_still_opts_out(phone):
    phone.text("hi")
    phone.text("agent")
    take_over(conversation().id, "ana")
    run_jobs()
    phone.inbox()
    assert phone.text("STOP") == []  # Twilio confirms the opt-out itself
    with session_scope() as session:
        contact = session.exec(select(Contact)).one()
        assert contact.opted_out
    assert conversation().handoff is None  # nobody may write to them now
    with pytest.raises(HandoffError, match="opted out"):
        agent_reply(conversation().id, "hello?", "ana")
    with pytest.raises(HandoffError, match="opted out"):
        take_over(conversation().id, "ana")


def test_two_agents_taking_at_once_one_wins(phone):
    phone.text("hi")
    phone.text("agent")
    conversation_id = conversation().id
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def take(staff: str) -> None:
        start.wait()
        try:
            take_over(conversation_id, staff)
            outcomes[staff] = "took"
        except HandoffError as refused:
            outcomes[staff] = str(refused)

    threads = [threading.Thread(target=take, args=(name,)) for name in ("ana", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values())[-1] == "took"
    assert list(outcomes.values()).count("took") == 1
    winner = next(name for name, outcome in outcomes.items() if outcome == "took")
    loser = next(name for name in outcomes if name != winner)
    assert outcomes[loser] == f"already taken by {winner}"
    assert conversation().handoff_by == winner
    run_jobs()
    assert phone.inbox() == [TAKEN]  # told once


def test_a_wait_nobody_answers_goes_back_to_the_bot(phone):
    phone.text("hi")
    phone.text("agent")
    wait = get_settings().handoff_wait_minutes
    with session_scope() as session:
        session.execute(
            update(Conversation).values(handoff_at=utcnow() - timedelta(minutes=wait + 1))
        )
    assert phone.text("hello?") != []  # past the wait: the bot answers again
    jobs.close_idle()
    run_jobs()
    [sorry, back] = phone.inbox()
    assert sorry == texts.HANDOFF_NO_ANSWER.format(city="Springfield")
    assert back.startswith(texts.HANDOFF_BACK)
    assert conversation().handoff is None


def test_outside_hours_agent_is_told_and_the_bot_carries_on(phone, monkeypatch):
    monkeypatch.setenv("HANDOFF_HOURS", "Mon 00:00-00:01")  # staff are (almost) never in
    monkeypatch.setenv("HANDOFF_CLOSED_TEXT", "Our team answers on Mondays.")
    get_settings.cache_clear()
    phone.text("hi")
    told = phone.text("agent")
    assert told[0] == "Our team answers on Mondays." and "1 Pothole in Street" in told[-1]
    assert conversation().handoff == "waiting"  # staff see it when they are in
    [where] = phone.text("1")
    assert "Where is it?" in where  # the bot is not quiet
    jobs.close_idle()
    assert run_jobs() == 0  # flagged outside hours: no wait to end


def test_with_handoff_off_agent_gets_a_phone_number(phone, monkeypatch):
    monkeypatch.setenv("HANDOFF_HOURS", "off")
    get_settings.cache_clear()
    phone.text("hi")
    told = phone.text("agent")
    assert told[0] == texts.HANDOFF_OFF and "1 Pothole in Street" in told[-1]  # goes on
    assert conversation().handoff is None


def test_take_over_and_hand_back_refuse_what_they_cannot_do(phone):
    phone.text("hi")
    conversation_id = conversation().id
    with pytest.raises(HandoffError, match="not with a person"):
        hand_back(conversation_id, "ana")
    with pytest.raises(HandoffError, match="not with a person"):
        agent_reply(conversation_id, "hi", "ana")
    take_over(conversation_id, "ana")  # staff may take any conversation
    with pytest.raises(HandoffError, match="already taken by ana"):
        take_over(conversation_id, "ben")
    with pytest.raises(HandoffError, match="empty"):
        agent_reply(conversation_id, "   ", "ana")
    with pytest.raises(HandoffError, match="no such conversation"):
        take_over(conversation_id + 1000, "ana")


def test_delete_my_data_during_handoff_still_works(phone):
    phone.text("hi")
    phone.text("agent")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    run_jobs()
    phone.inbox()
    [asked] = phone.text("DELETE MY DATA")  # read before the handoff keeps the bot quiet
    assert asked == texts.FORGET_ASK
    [done] = phone.text("YES")
    assert done.startswith("Deleted:")
    with pytest.raises(HandoffError):
        agent_reply(conversation_id, "hello?", "ana")


def test_only_the_agent_holding_it_replies(phone):
    phone.text("hi")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    with pytest.raises(HandoffError, match="held by ana"):
        agent_reply(conversation_id, "I am not ana", "ben")
    with session_scope() as session:
        sent = session.exec(select(Message).where(Message.text == "I am not ana")).all()
        assert sent == []
    assert agent_reply(conversation_id, "ana here", "ana") > 0


def test_only_the_holder_or_an_admin_hands_back(phone):
    phone.text("hi")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    with pytest.raises(HandoffError, match="held by ana"):
        hand_back(conversation_id, "ben")
    assert conversation().handoff_by == "ana"
    hand_back(conversation_id, "root", admin=True)
    assert conversation().handoff is None
    with session_scope() as session:
        back = session.exec(select(StaffAction).where(StaffAction.action == "handoff.back")).one()
        assert back.detail == "root; held by ana"


def test_any_agent_hands_back_a_waiting_conversation(phone):
    phone.text("hi")
    phone.text("agent")
    hand_back(conversation().id, "ben")
    assert conversation().handoff is None
    with session_scope() as session:
        back = session.exec(select(StaffAction).where(StaffAction.action == "handoff.back")).one()
        assert back.detail == "ben; was waiting"
