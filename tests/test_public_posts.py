"""Public posts and polled channels, through a channel written here (a town crier).

A resident who mentions the city in public is answered in public with nothing of theirs (an
invitation to go on privately, later the request number alone) while the report goes on in
private messages; a channel without a webhook is polled by the cron's job, its cursor kept and
a replayed event stored once. The X and Mastodon channels keep this contract (their own tests).
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.channels import registry
from bot.channels.base import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Abilities,
    Channel,
    Inbound,
    Outgoing,
    Polled,
    PollError,
)
from bot.db import session_scope
from bot.jobs.polling import cursor_key, poll_channels
from bot.models import Message, Report
from bot.payloads import InboundPayload, OutboundPayload
from bot.queue import get_redis
from bot.settings import Settings
from conversations import notices, texts
from tests.conftest import run_jobs
from tests.test_end_to_end import returning_resident, set_city_status

ADDRESS = "crier:ada"
WORDS = "there is a big pothole outside 120 Main St, two feet wide"


class Crier(Channel):
    """A town crier: polled for what residents cry out, in public or in private."""

    name = "crier"
    scheme = "crier"
    abilities = Abilities(
        OPT_OUT_WORDS, OPT_IN_WORDS, text_budget=500, budget_unit="characters", public_posts=True
    )

    def __init__(self) -> None:
        self.heard: list[tuple[str, Inbound]] = []  # (id, event) the square holds, oldest first
        self.polls_asked: list[str | None] = []
        self.said: list[Outgoing] = []
        self.down = False
        self.refusal: PollError | None = None  # raised by the next polls when set

    def cry(self, text: str, public: bool = False) -> str:
        post = f"{len(self.heard) + 1}"
        payload = InboundPayload(public_post=post if public else None)
        self.heard.append((post, Inbound(self.name, ADDRESS, f"in:{post}", text, payload)))
        return post

    def poll_every(self, settings: Settings) -> float | None:
        return 10.0

    def poll(self, settings: Settings, cursor: str | None) -> Polled:
        self.polls_asked.append(cursor)
        if self.refusal is not None:
            raise self.refusal
        if self.down:
            raise PollError("the square is closed")
        since = int(cursor or 0)
        new = [(post, event) for post, event in self.heard if int(post) > since]
        return Polled([event for _, event in new], new[-1][0] if new else None)

    def send(self, out: Outgoing, settings: Settings) -> str:
        self.said.append(out)
        return f"out:{out.message_id}"

    def public(self) -> list[Outgoing]:
        return [out for out in self.said if out.payload.public_reply_to]

    def private(self) -> list[Outgoing]:
        return [out for out in self.said if not out.payload.public_reply_to]


@pytest.fixture
def crier(monkeypatch):
    channel = Crier()
    monkeypatch.setitem(registry.CHANNELS, channel.name, channel)
    return channel


def returning() -> None:
    """A resident who answered the contact question before."""
    returning_resident(ADDRESS, "crier")


def poll(crier: Crier) -> int:
    """One tick of the cron's poll job (the channel's interval waived), then the jobs."""
    get_redis().delete("intake311:poll:crier:due")
    found = poll_channels()
    run_jobs()
    return found


def test_a_public_post_is_answered_in_public_with_nothing_of_the_residents(sqlite_env, crier):
    returning()
    post = crier.cry(WORDS, public=True)
    assert poll(crier) == 1
    [invite] = crier.public()
    assert invite.payload.public_reply_to == post
    assert invite.text == notices.public_invite()
    assert invite.address == ADDRESS
    assert "Main" not in invite.text and "pothole" not in invite.text.lower()
    [question] = crier.private()  # the conversation itself goes privately
    assert question.text.startswith("Found: 120 Main Street, Springfield.")


def test_a_report_from_a_public_post_gets_its_number_in_public_and_its_updates_in_private(
    env, crier
):
    returning()
    post = crier.cry(WORDS, public=True)
    poll(crier)
    crier.cry("1")
    poll(crier)
    crier.cry("YES")
    poll(crier)
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
    number = report.service_request_id
    assert report.state == "submitted" and number

    invite, filed = crier.public()
    assert filed.payload.public_reply_to == post
    assert filed.text == notices.public_filed(number) and number in filed.text
    assert "Pothole" not in filed.text and "Main" not in filed.text
    told = [out for out in crier.private() if out.payload.notice == "filed"]
    assert len(told) == 1 and number in told[0].text

    set_city_status(number, "closed", "Filled the pothole.")
    from bot.jobs import track

    track()
    run_jobs()
    [update] = [out for out in crier.said if out.payload.notice == "status"]
    assert not update.payload.public_reply_to and "Filled the pothole." in update.text
    assert len(crier.public()) == 2  # status updates never go in public


def test_a_private_report_gets_no_public_reply(sqlite_env, crier):
    returning()
    for words in (WORDS, "1", "YES"):
        crier.cry(words)
        poll(crier)
    assert crier.public() == []
    assert any(out.payload.notice == "filed" for out in crier.said)


def test_a_report_after_one_from_a_public_post_is_not_answered_in_public(sqlite_env, crier):
    returning()
    for words, public in ((WORDS, True), ("1", False), ("YES", False)):
        crier.cry(words, public)
        poll(crier)
    for words in (WORDS, "1", "YES"):
        crier.cry(words)
        poll(crier)
    with session_scope() as session:
        assert len(session.exec(select(Report)).all()) == 2
    assert len(crier.public()) == 2  # the first report's invitation and number only


def test_the_cursor_is_kept_and_a_replayed_event_is_stored_once(sqlite_env, crier):
    returning()
    crier.cry("hi")
    assert poll(crier) == 1
    assert get_redis().get(cursor_key("crier")) == b"1"
    assert poll(crier) == 0
    assert crier.polls_asked == [None, "1"]

    get_redis().delete(cursor_key("crier"))  # a lost cursor: the newest page again
    assert poll(crier) == 1
    with session_scope() as session:
        inbound = session.exec(select(Message).where(Message.direction == "in")).all()
        assert len(inbound) == 1


def test_a_channel_is_polled_once_per_interval_and_a_failed_poll_keeps_the_cursor(
    sqlite_env, crier, caplog
):
    crier.cry("hi")
    assert poll_channels() == 1
    assert poll_channels() == 0 and crier.polls_asked == [None]  # not due yet
    crier.down = True
    crier.cry("anyone?")
    assert poll(crier) == 0
    assert "crier poll failed (will retry in 20 s): the square is closed" in caplog.text
    assert get_redis().get(cursor_key("crier")) == b"1"
    crier.down = False
    assert poll(crier) == 1


def due_in() -> float:
    """Seconds until the crier may be polled again."""
    return get_redis().pttl("intake311:poll:crier:due") / 1000


def test_a_failing_channel_is_polled_ever_less_often_until_it_answers(sqlite_env, crier):
    crier.down = True
    waits = []
    for _ in range(4):
        get_redis().delete("intake311:poll:crier:due")
        assert poll_channels() == 0
        waits.append(due_in())
    # its 10 s interval, doubled after each failure (less the half second the tick allows)
    assert all(want - 1 < wait <= want for wait, want in zip(waits, [20, 40, 80, 160], strict=True))
    for _ in range(6):
        get_redis().delete("intake311:poll:crier:due")
        poll_channels()
    assert 250 < due_in() <= 300  # at most five minutes
    crier.down = False
    crier.cry("hi")
    assert poll(crier) == 1
    assert due_in() <= 10  # answered: its interval again
    crier.down = True
    get_redis().delete("intake311:poll:crier:due")
    poll_channels()
    assert 19 < due_in() <= 20  # a new run of failures starts over


def test_a_rate_limited_channel_waits_for_the_reset_it_was_given(sqlite_env, crier):
    crier.refusal = PollError("too many requests", retryable=True, retry_after=300)
    assert poll_channels() == 0
    assert 295 < due_in() <= 300
    for _ in range(5):
        assert poll_channels() == 0
    assert len(crier.polls_asked) == 1


def test_a_refused_poll_pauses_for_minutes_and_is_logged_once(sqlite_env, crier, caplog):
    import logging

    crier.refusal = PollError("the crier's licence was revoked", retryable=False)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            get_redis().delete("intake311:poll:crier:due")
            assert poll_channels() == 0
    assert 590 < due_in() <= 600
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "crier poll refused (needs staff): the crier's licence was revoked"
    ]
    crier.refusal = None
    crier.cry("hi")
    assert poll(crier) == 1  # put right: polled again, and a later refusal logged again
    crier.refusal = PollError("revoked again", retryable=False)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert poll(crier) == 0
    assert "crier poll refused (needs staff): revoked again" in caplog.text


def test_the_poll_job_has_a_short_timeout_on_the_residents_queue(monkeypatch):
    """A poll ends within its job's minute (Mastodon's within 30 s) and backs off after a
    failure: it may share the residents' workers without holding one for long."""
    from bot import worker
    from bot.queue import queue_name

    registered = {}

    class Cron:
        def __init__(self, *args, **kwargs):
            pass

        def register(self, func, queue_name, **kwargs):
            registered[func.__name__] = (queue_name, kwargs)

        def start(self):
            pass

    monkeypatch.setattr(worker, "CronScheduler", Cron)
    worker.run_cron()
    name, kwargs = registered["poll_channels"]
    assert name == queue_name("residents")
    assert kwargs["job_timeout"] <= 60


def test_an_event_the_bounds_refuse_is_skipped_and_the_cursor_moves_on(sqlite_env, crier, caplog):
    secret = "crier:ada\x00 at 5 Elm St"
    bad = Inbound(crier.name, secret, "in:1", "pothole at 5 Elm St", InboundPayload())
    crier.heard.append(("1", bad))
    crier.cry("hi")
    assert poll(crier) == 2
    with session_scope() as session:
        assert [m.text for m in session.exec(select(Message))][:1] == ["hi"]
    assert get_redis().get(cursor_key("crier")) == b"2"
    assert "crier poll: a Inbound refused (MalformedInbound): skipped" in caplog.text
    assert "Elm" not in caplog.text


def test_an_event_the_database_refuses_is_skipped_but_an_outage_keeps_the_cursor(
    sqlite_env, crier, caplog, monkeypatch
):
    from sqlalchemy.exc import DataError, OperationalError

    from bot.jobs import polling

    real = polling.accept
    failure: list[Exception] = []

    def accept(event):
        if failure and event.text == "first":
            raise failure[0]
        return real(event)

    monkeypatch.setattr(polling, "accept", accept)
    crier.cry("first")
    crier.cry("second")
    failure.append(OperationalError("INSERT", {"text": "first"}, Exception("server closed")))
    with pytest.raises(OperationalError):
        poll(crier)
    assert get_redis().get(cursor_key("crier")) is None  # read again once the database is back
    failure[0] = DataError("INSERT", {"text": "5 Elm St"}, Exception("value too long"))
    assert poll(crier) == 2
    assert get_redis().get(cursor_key("crier")) == b"2"
    with session_scope() as session:
        assert [m.text for m in session.exec(select(Message))][:1] == ["second"]
    assert "crier poll: a Inbound the database refused (DataError): skipped" in caplog.text
    assert "Elm" not in caplog.text


def test_public_words_hold_no_placeholder_but_the_number():
    assert "{" not in texts.PUBLIC_INVITE
    assert notices.public_filed("2026-00042").count("2026-00042") == 1


def test_a_public_reply_is_stored_and_read_back():
    payload = OutboundPayload(public_reply_to="1234")
    assert OutboundPayload.from_dict(payload.to_dict()).public_reply_to == "1234"
    assert InboundPayload.from_dict(InboundPayload(public_post="9").to_dict()).public_post == "9"
    assert "public_post" not in InboundPayload().to_dict()


def test_a_second_public_post_within_a_day_is_taken_privately_unanswered_in_public(
    sqlite_env, crier
):
    """A resident's reply in the thread mentions the city again: one invitation is enough."""
    returning()
    crier.cry(WORDS, public=True)
    poll(crier)
    crier.cry("1", public=True)
    poll(crier)
    assert len(crier.public()) == 1
    [summary] = [out for out in crier.private() if out.text.startswith("Ready to send:")]
    assert summary.address == ADDRESS


def test_the_number_goes_only_under_the_post_we_invited(sqlite_env, crier):
    """A later public post (a reply in the thread, an unrelated mention, a forged event) is
    never told the number: only the post the bot itself answered with its invitation."""
    returning()
    first = crier.cry(WORDS, public=True)
    poll(crier)
    crier.cry("1", public=True)  # within the day: taken privately, not invited
    poll(crier)
    crier.cry("YES")
    poll(crier)
    invite, filed = crier.public()
    assert invite.payload.public_reply_to == first == filed.payload.public_reply_to
