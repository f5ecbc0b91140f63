"""Waits for staff after the review: whether staff were in is kept on the row when it is
flagged (the engine's own reading), so out-of-hours flags never crowd out the waits due, a
change of HANDOFF_HOURS does not judge old flags again, and the idle sweep finds the waits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.handoff import agent_reply, take_over
from bot.jobs import turn_handoff
from bot.models import Conversation, Message
from bot.settings import get_settings
from bot.timeutil import utcnow
from conversations import texts
from tests.conftest import run_jobs
from tests.test_end_to_end import Phone
from tests.test_handoff_end_to_end import conversation, phone  # noqa: F401  (phone: the fixture)

NEVER_IN = "Mon 00:00-00:01"  # staff are (almost) never in


def _flagged() -> dict[int, bool | None]:
    with session_scope() as session:
        rows = session.exec(select(Conversation)).all()
        return {c.id: c.handoff_staff_in for c in rows if c.handoff == "waiting"}


def _age_flags(minutes: int) -> None:
    with session_scope() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.handoff == "waiting")
            .values(handoff_at=utcnow() - timedelta(minutes=minutes))
        )


def test_out_of_hours_flags_never_crowd_out_a_wait_due(phone, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HANDOFF_HOURS", NEVER_IN)
    get_settings.cache_clear()
    for n in range(3):  # more than a batch of flags raised outside staff hours
        Phone(phone.client, phone.twilio_api, f"+1555010{n:04d}").text("agent")
    monkeypatch.setenv("HANDOFF_HOURS", "")
    get_settings.cache_clear()
    phone.text("agent")  # in hours
    monkeypatch.setattr(turn_handoff, "BATCH", 2)
    _age_flags(get_settings().handoff_wait_minutes * 2)
    flagged = _flagged()
    assert sorted(flagged.values()) == [False, False, False, True]
    [due] = [found for found, staff_in in flagged.items() if staff_in]
    assert turn_handoff.waits_due(get_settings()) == [due]


def test_a_change_of_hours_does_not_judge_old_flags_again(phone, monkeypatch):  # noqa: F811
    phone.text("hi")
    phone.text("agent")  # staff in: the bot is quiet for the wait
    monkeypatch.setenv("HANDOFF_HOURS", NEVER_IN)
    get_settings.cache_clear()
    assert phone.text("hello?") == []  # still waiting for staff, as when it was flagged


def test_waits_end_with_the_idle_time_out_off(phone, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CONVERSATION_IDLE_MINUTES", "0")
    get_settings.cache_clear()
    phone.text("hi")
    phone.text("agent")
    _age_flags(get_settings().handoff_wait_minutes + 1)
    jobs.close_idle()
    run_jobs()
    [sorry, _back] = phone.inbox()
    assert sorry == texts.HANDOFF_NO_ANSWER.format(city="Springfield")


def test_quiet_waits_are_not_queued_for_the_time_out(phone, monkeypatch):  # noqa: F811
    phone.text("hi")
    phone.text("agent")
    with session_scope() as session:
        session.execute(update(Conversation).values(updated_at=utcnow() - timedelta(days=1)))
    assert jobs.close_idle() == 0  # a person is about to have it: not the time-out's


def test_an_emergency_while_quiet_gets_the_911_prompt(phone):  # noqa: F811
    phone.text("hi")
    phone.text("agent")
    assert phone.text("hello?") == []  # waiting for staff: quiet
    [urgent] = phone.text("there is a fire in my kitchen")
    assert "911" in urgent
    take_over(conversation().id, "ana")
    run_jobs()
    phone.inbox()
    [urgent] = phone.text("now there is smoke everywhere")
    assert "911" in urgent
    with session_scope() as session:  # stored in the conversation: the agent reads it too
        said = session.exec(select(Message.text).where(Message.direction == "out")).all()
    assert sum("911" in text for text in said) == 2


def test_restart_ends_a_wait_with_no_time_limit(phone, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HANDOFF_WAIT_MINUTES", "0")  # they wait until staff act
    get_settings.cache_clear()
    phone.text("hi")
    phone.text("agent")
    assert phone.text("hello?") == []
    assert phone.text("RESTART") == [texts.CANCELLED]
    assert conversation().handoff is None
    assert "1 Pothole in Street" in phone.text("hi")[0]  # the bot answers again


def test_restart_does_not_end_what_a_person_has(phone):  # noqa: F811
    phone.text("hi")
    take_over(conversation().id, "ana")
    run_jobs()
    phone.inbox()
    assert phone.text("RESTART") == []  # the agent answers it
    assert conversation().handoff == "agent"


def _age_agent(hours: int) -> None:
    then = utcnow() - timedelta(hours=hours)
    with session_scope() as session:
        session.execute(update(Conversation).values(handoff_at=then))
        session.execute(update(Message).values(created_at=then))


def test_an_agent_gone_quiet_hands_back_to_the_bot(phone):  # noqa: F811
    phone.text("hi")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    run_jobs()
    agent_reply(conversation_id, "Looking into it", "ana")
    run_jobs()
    phone.inbox()
    idle = get_settings().handoff_agent_idle_hours
    _age_agent(idle - 1)
    jobs.close_idle()
    assert run_jobs() == 0 and conversation().handoff == "agent"  # not long enough
    _age_agent(idle + 1)
    jobs.close_idle()
    run_jobs()
    [back] = phone.inbox()
    assert back.startswith(texts.HANDOFF_BACK)
    assert conversation().handoff is None
    assert "1 Pothole in Street" in phone.text("hi")[0]


def test_an_agent_who_wrote_lately_keeps_it(phone):  # noqa: F811
    phone.text("hi")
    conversation_id = conversation().id
    take_over(conversation_id, "ana")
    run_jobs()
    _age_agent(get_settings().handoff_agent_idle_hours + 1)
    agent_reply(conversation_id, "Still here", "ana")  # a fresh message
    run_jobs()
    jobs.close_idle()
    run_jobs()
    assert conversation().handoff == "agent"
