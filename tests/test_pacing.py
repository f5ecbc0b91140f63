"""Outbound pacing (bot.pacing): a sender's bucket spreads a burst, status notices ride their own
lane and leave replies a token, a provider's 429 costs no attempt, and nothing is lost."""

from __future__ import annotations

import time

import pytest
from rq import Queue

from bot import jobs, pacing, queue
from bot.db import session_scope
from bot.models import Contact, Conversation, Direction, Message
from bot.payloads import OutboundPayload
from bot.personal_data import address_key
from bot.settings import get_settings
from bot.worker import run_burst
from tests.conftest import run_jobs
from tests.test_jobs import _age


@pytest.fixture
def paced(env, monkeypatch, twilio_api, redis_conn):
    """SMS paced at 2 messages a second (a bucket of 2: one for notices, one kept for replies),
    with a worker that has sent once already (its first job loads the jobs' modules)."""
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "2")
    get_settings.cache_clear()
    queue.enqueue("bot.jobs.deliver", _outbound(1, first=999)[0])
    run_burst()
    twilio_api.config["SENT"].clear()
    redis_conn.delete(*redis_conn.keys(f"{pacing.PREFIX}:*"))
    return twilio_api


def _sms_bucket() -> tuple[pacing.Bucket, ...]:
    return pacing.buckets_for("sms", "tel:+15550000000", get_settings())


def _outbound(count: int, first: int = 0, notice: bool = True) -> list[int]:
    """`count` pending texts, one to each of as many residents: status notices (as a status
    check stores them), or replies."""
    ids = []
    with session_scope() as session:
        for n in range(first, first + count):
            address = f"tel:+1555010{n:04d}"
            contact = Contact(address=address, address_key=address_key(address), channel="sms")
            session.add(contact)
            session.flush()
            conversation = Conversation(contact_id=contact.id)
            session.add(conversation)
            session.flush()
            message = Message(
                conversation_id=conversation.id,
                contact_id=contact.id,
                channel="sms",
                direction=Direction.OUT,
                text=f"Your request {n} is closed.",
                payload=OutboundPayload(status_notice=notice).to_dict(),
            )
            session.add(message)
            session.flush()
            ids.append(message.id)
    return ids


def _rows(ids: list[int]) -> list[Message]:
    with session_scope() as session:
        return [session.get(Message, i) for i in ids]


def _drain(ids: list[int], rounds: int = 200) -> list[Message]:
    """Run the jobs, the due ones early as rq's scheduler would, until every text is sent."""
    for _ in range(rounds):
        rows = _rows(ids)
        if all(m.status == "sent" for m in rows):
            break
        time.sleep(0.05)
        run_jobs(include_delayed=True)
    return _rows(ids)


def _scheduled(kind: str) -> int:
    return len(queue.get_queue(kind).scheduled_job_registry.get_job_ids())


def test_a_burst_beyond_the_bucket_is_refused_and_told_when(env, monkeypatch):
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "2")
    get_settings.cache_clear()
    buckets = _sms_bucket()
    [bucket] = buckets
    assert (bucket.capacity, bucket.reserve) == (2.0, 1.0)
    now = 1_000_000.0
    waits = [pacing.take(buckets, now=now) for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]  # the bucket's two tokens
    assert all(0 < w <= 0.5 + 1e-6 for w in waits[2:])  # the next one is due in 1/2 s
    # Over one second of a controlled clock, at most the bucket plus the rate is taken.
    taken = sum(
        pacing.take(buckets, now=now + step / 100) == 0.0 for step in range(100) for _ in range(3)
    )
    assert taken <= 2 + 2


def test_notices_leave_replies_their_reserve(env, monkeypatch):
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "2")
    get_settings.cache_clear()
    buckets, now = _sms_bucket(), 2_000_000.0
    assert pacing.take(buckets, "notices", now=now) == 0.0
    assert pacing.take(buckets, "notices", now=now) > 0  # one token left: it is the replies'
    assert pacing.take(buckets, "residents", now=now) == 0.0


def test_refused_notices_get_places_in_line_one_interval_apart(env, monkeypatch):
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "2")
    get_settings.cache_clear()
    buckets, now = _sms_bucket(), 3_000_000.0
    pacing.take(buckets, "notices", now=now)
    places = [pacing.take(buckets, "notices", now=now) for _ in range(20)]
    gaps = [round(b - a, 6) for a, b in zip(places, places[1:], strict=False)]
    assert gaps == [0.5] * 19  # spread over the rate, not all asking again at once


def test_a_status_checks_deliveries_ride_the_notices_lane(env, monkeypatch):
    class Track:
        func_name = "bot.jobs.tracking.track"

    monkeypatch.setattr(queue, "get_current_job", lambda: Track())
    assert queue.kind_for("bot.jobs.deliver") == "notices"
    assert queue.kind_for("bot.jobs.run_turn") == "residents"
    monkeypatch.setattr(queue, "get_current_job", lambda: None)
    assert queue.kind_for("bot.jobs.deliver") == "residents"


def _slow(monkeypatch) -> None:
    """One send every 5 s: no token comes back while the test runs, however slow the machine."""
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "0.2")
    get_settings.cache_clear()


def test_a_burst_of_notices_is_spread_and_none_is_lost(paced, monkeypatch):
    _slow(monkeypatch)
    ids = _outbound(8)
    for i in ids:
        queue.enqueue("bot.jobs.deliver", i, kind="notices")
    run_burst()
    waiting = [m for m in _rows(ids) if m.status == "pending"]
    assert len(waiting) == 7 and all(m.next_attempt_at and m.attempts == 0 for m in waiting)
    assert _scheduled("notices") == 7 and _scheduled("residents") == 0  # lane kept
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "4")
    get_settings.cache_clear()
    paced.config["RATE"] = (4, 5)  # Twilio's view: 4 a second, and one of slack for the wire
    rows = _drain(ids)
    assert [m.status for m in rows] == ["sent"] * 8
    assert all(m.attempts == 1 for m in rows)
    sent = paced.config["SENT"]
    assert len({s["sid"] for s in sent}) == len(sent) == 8  # each once
    assert paced.config["REFUSED_FOR_RATE"] == 0
    times = sorted(s["at"] for s in sent)
    most = max(sum(t <= at < t + 1 for at in times) for t in times)
    assert most <= 4 + 4  # a full bucket and a second of the rate, at most


def test_a_reply_overtakes_a_backlog_of_notices(paced, monkeypatch):
    _slow(monkeypatch)
    notices = _outbound(5)
    [reply] = _outbound(1, first=100, notice=False)
    for i in notices:
        queue.enqueue("bot.jobs.deliver", i, kind="notices")
    queue.enqueue("bot.jobs.deliver", reply)
    # The notices' lane first, as if its workers were idle: still the reply's token is left.
    run_burst(kinds=("notices",))
    assert [m.status for m in _rows(notices)].count("sent") == 1
    run_burst(kinds=("residents",))
    [row] = _rows([reply])
    assert row.status == "sent"
    sent_to = [s["form"]["To"][0] for s in paced.config["SENT"]]
    assert sent_to[-1] == "+15550100100"


def test_a_workers_queues_serve_replies_before_notices(paced, redis_conn):
    notices = _outbound(3)
    [reply] = _outbound(1, first=100, notice=False)
    for i in notices:
        queue.enqueue("bot.jobs.deliver", i, kind="notices")
    queue.enqueue("bot.jobs.deliver", reply)
    run_burst()  # every lane, residents first
    sent_to = [s["form"]["To"][0] for s in paced.config["SENT"]]
    assert sent_to[0] == "+15550100100"


def test_a_providers_429_reschedules_without_spending_an_attempt(paced, redis_conn):
    [notice] = _outbound(1)
    paced.config["FAIL_NEXT"] = [429]
    queue.enqueue("bot.jobs.deliver", notice, kind="notices")
    run_burst()
    [row] = _rows([notice])
    assert (row.status, row.attempts, row.error_code) == ("pending", 0, "20429")
    assert row.next_attempt_at is not None
    assert _scheduled("notices") == 1
    # Every sender's bucket waits what Twilio asked (1 s), replies included.
    assert pacing.take(_sms_bucket(), "residents") > 0
    [row] = _drain([notice])
    assert (row.status, row.attempts) == ("sent", 1)
    assert not [path for method, path in paced.config["REQUESTS"] if method == "GET"]  # no look-up
    assert len(paced.config["SENT"]) == 1


def test_a_429_never_gives_up(paced, redis_conn, monkeypatch):
    monkeypatch.setenv("SEND_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    [notice] = _outbound(1)
    paced.config["FAIL_NEXT"] = [429, 429]
    for _ in range(2):
        jobs.deliver(notice)
        [row] = _rows([notice])
        assert (row.status, row.attempts) == ("pending", 0)
        redis_conn.delete(*redis_conn.keys(f"{pacing.PREFIX}:*"))  # the provider's wait, over
    jobs.deliver(notice)
    assert _rows([notice])[0].status == "sent"


def test_the_reconciler_requeues_a_paced_notice_redis_lost(paced, redis_conn, monkeypatch):
    _slow(monkeypatch)
    ids = _outbound(3)
    for i in ids:
        queue.enqueue("bot.jobs.deliver", i, kind="notices")
    run_burst()
    assert [m.status for m in _rows(ids)].count("pending") == 2
    redis_conn.flushdb()  # the scheduled jobs (and the buckets) are gone
    assert jobs.reconcile() == 0  # not yet: their rows say when they are due
    _age(Message, direction="out", status="pending")
    assert jobs.reconcile() == 2
    # Back on their own lane, behind residents' replies, not on the replies' queue.
    assert queue.get_queue("notices").count == 2 and queue.get_queue("residents").count == 0
    monkeypatch.setenv("SMS_SENDS_PER_SECOND", "4")
    get_settings.cache_clear()
    assert [m.status for m in _drain(ids)] == ["sent"] * 3
    assert len(paced.config["SENT"]) == 3


def test_an_unpaced_channel_takes_no_token(env):
    assert pacing.buckets_for("webchat", "webchat:abc", get_settings()) == ()
    assert pacing.take(()) == 0.0


def test_telegram_is_paced_per_bot_and_per_chat(env, monkeypatch):
    monkeypatch.setenv("TELEGRAM_SENDS_PER_SECOND", "30")
    monkeypatch.setenv("TELEGRAM_CHAT_SENDS_PER_SECOND", "1")
    get_settings.cache_clear()
    one = pacing.buckets_for("telegram", "telegram:1", get_settings())
    other = pacing.buckets_for("telegram", "telegram:2", get_settings())
    assert one[0] == other[0] and one[1] != other[1]
    assert "telegram:1" not in one[1].key  # a chat is named by its keyed hash
    now = 4_000_000.0
    assert [pacing.take(one, now=now) for _ in range(3)][:2] == [0.0, 0.0]
    assert pacing.take(one, now=now) > 0  # this chat's bucket is empty
    assert pacing.take(other, now=now) == 0.0  # another chat's is not


def test_unused_queue_kind_is_refused(env):
    with pytest.raises(ValueError):
        queue.queue_name("elsewhere")
    assert isinstance(queue.get_queue("notices"), Queue)
    assert queue.queue_name("notices").endswith("-notices")
