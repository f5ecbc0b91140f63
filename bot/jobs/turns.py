"""run_turn: a conversation's unread messages, one at a time, through the engine.

A turn holds the conversation's row only while it steps the engine and stores what came of it;
nothing goes over the network while the row is held or any transaction is open. When the
engine asks for something only the network can answer (an address looked up, a request's
status asked of the city), the turn stores it as the conversation's follow-up
(`turn_actions.Followup`) and commits; the worker then performs it and answers it in a turn of
its own, before the conversation's next message. A shared pin is named and the catalogue read
(or fetched) before the turn that needs them.

A turn runs within its job's timeout (JOB_TIMEOUT, at most half of the LOCK_TIMEOUT of the lock
it holds). One that overruns it, stopped by rq or its work-horse killed (bot.worker), has the
work it was on released for one more try, then set aside for staff (`overran`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError
from rq.timeouts import JobTimeoutException
from sqlalchemy import delete, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, select

from bot import logs, metrics, queue, report_history
from bot.catalog import load_services
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.forget import erase_contact, finish_erasing
from bot.jobs import public_replies, turn_handoff
from bot.jobs.common import city_client, locked, store_reply
from bot.jobs.turn_actions import (
    ANSWERABLE,
    Followup,
    list_reports,
    new_report,
    perform,
    record_follows,
    with_own,
)
from bot.jobs.turn_forget import forget_turn
from bot.jobs.turn_state import (
    _message_event,
    _stale_tap,
    _switches_messages,
    engine_context,
    for_channel,
    keep_state,
    resident_state,
)
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Report,
    ReportState,
)
from bot.payloads import InboundPayload
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import Context, FileReport, Reply, State, StatusFound, step, texts
from conversations import Message as MessageEvent
from conversations.engine import stale_tap
from conversations.types import ListReports

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 10
# Turns a message (or its follow-up) may overrun its job's timeout in: the first and one retry;
# then it is a dead letter (failed, "TurnTimeout": `intake311 failures`).
TURN_TRIES = 2
# Messages one turn (job) takes; more waiting go to the back of the queue (fair to others).
MESSAGES_PER_TURN = 1
TURN_TIMEOUT = "TurnTimeout"

Jobs = list[tuple[str, int]]


def run_turn(conversation_id: int) -> int:
    """Handle the conversation's next unprocessed message (and its follow-ups, and any
    follow-up left before it); return how many messages were handled (0 or 1). When more
    messages wait, the turn goes to the back of the queue (`queue.enqueue_turn`): a resident
    sending many texts at once has them answered one per turn while others' turns come round."""
    settings = get_settings()
    queue.turn_started(conversation_id)
    with metrics.turn_seconds.time(), locked(f"conversation:{conversation_id}"):
        try:
            return _drain(conversation_id, settings)
        except JobTimeoutException:
            overran(conversation_id)  # still holding the lock: nobody else is on its work
            return 0


def overran(conversation_id: int) -> None:
    """The conversation's turn ran past its job's timeout: rq stopped it (in this job) or
    killed its work-horse (bot.worker, from the worker's side); nothing of it was committed.

    The work it was on, the conversation's follow-up or else its oldest pending message, has
    one attempt counted on that message (`Message.attempts`): the first overrun releases it to
    a retry, queued now; the second sets it aside for staff (failed, "TurnTimeout"; a staff
    retry gives it TURN_TRIES again), and the messages behind it flow.
    """
    given_up = None
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return
        stored = conversation.followup if isinstance(conversation.followup, dict) else None
        message = None
        if stored is not None and isinstance(stored.get("message_id"), int):
            message = session.get(Message, stored["message_id"])
        if message is None:
            stored, message = None, _oldest_pending(session, conversation_id)
        if message is None:
            return
        message.attempts += 1
        message.updated_at = utcnow()
        message_id, attempts = message.id, message.attempts
        if attempts >= TURN_TRIES:
            message.status, message.error_code = MessageStatus.FAILED, TURN_TIMEOUT
            if stored is not None:
                conversation.followup = None
            given_up = message_id
    if given_up is not None:
        log.error(
            "message %s overran its turn %s times; set aside as failed (intake311 failures)",
            message_id,
            attempts,
        )
    else:
        log.warning("message %s overran its turn (JOB_TIMEOUT); released for one retry", message_id)
    queue.enqueue("bot.jobs.run_turn", conversation_id)  # its retry, or the messages behind it


class _HandledElsewhere(Exception):
    """Another worker's turn for this message or follow-up committed first (its lock lapsed)."""


def _drain(conversation_id: int, settings: Settings) -> int:
    """Take the conversation's work in order: a waiting follow-up first (its message came
    before every pending one), then the oldest pending message and its follow-ups, until none
    is left or MESSAGES_PER_TURN messages were taken (the next turn is then queued); return how
    many messages were handled."""
    handled = taken = 0
    last = None
    channel = _channel_of(conversation_id)
    while (work := _next_work(conversation_id)) is not None:
        key = work.token if isinstance(work, Followup) else work.id
        if key == last:
            # The same work again: it did not move (a bug, or a race we cannot win). Leave it
            # to the next job rather than spin.
            log.error("conversation %s: its next work did not move; stopping", conversation_id)
            break
        last = key
        if isinstance(work, Message):
            if taken >= MESSAGES_PER_TURN:
                queue.enqueue_turn(conversation_id)  # the rest wait their turn in line
                break
            taken += 1
        context = for_channel(_context(settings), channel)
        if isinstance(work, Followup):
            jobs = _follow_up(conversation_id, work, context, settings)
        else:
            jobs = _handle_next(conversation_id, work, context, settings)
            handled += jobs is not None
        for job, job_id in jobs or ():
            queue.enqueue(job, job_id, at_front=job == "bot.jobs.deliver")  # replies go first
    return handled


def _channel_of(conversation_id: int) -> str:
    """The channel of the conversation's resident (SMS when the conversation is gone)."""
    with session_scope() as session:
        found = session.exec(
            select(Contact.channel)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Conversation.id == conversation_id)
        ).first()
    return found or "sms"


def _next_work(conversation_id: int) -> Followup | Message | None:
    """What the conversation has waiting, read in a short transaction: its follow-up, or else
    its oldest pending message; None when neither."""
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        if conversation.followup is not None:
            try:
                return Followup.from_dict(conversation.followup)
            except ValueError:
                # Unreadable (written by another version?): it would block the resident for
                # good. Drop it and set its message aside for staff.
                log.exception("conversation %s: unreadable follow-up dropped", conversation_id)
                stored = conversation.followup
                if isinstance(stored, dict):
                    _fail(session, stored.get("message_id"), "UnreadableFollowup")
                conversation.followup = None
        return _oldest_pending(session, conversation_id)


def _context(settings: Settings) -> Context:
    # No transaction is open while the city is asked for a catalogue the cache lacks; the
    # client is this process's, made only if the city is asked.
    services = load_services(
        lambda: city_client(settings), settings.open311_endpoint, settings.catalog_ttl
    )
    return engine_context(services, settings)


def _hold(session: Session, conversation_id: int, token: str | None = None) -> bool:
    """Hold the conversation's row for this transaction, provided its follow-up is the one with
    `token` (None: provided it has none), and clear that follow-up.

    The first statement of a turn, and a write, so that it holds on both databases: PostgreSQL
    locks the row until the commit and SQLite begins its single write transaction (it ignores
    SELECT ... FOR UPDATE), so what the turn reads next is current. False when the conversation
    has a different follow-up (or is gone): a lapsed worker's follow-up is not answered twice,
    and no message is taken while a follow-up waits.
    """
    expected = (
        Conversation.followup.is_(None)
        if token is None
        else Conversation.followup["token"].as_string() == token
    )
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, expected)
        .values(followup=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _handle_next(
    conversation_id: int, message: Message, context: Context, settings: Settings
) -> Jobs | None:
    """Handle `message`, read as the oldest pending one; the jobs it queues, or None when it is
    no longer next (another worker handled it, or stored a follow-up that comes first).

    A shared pin is named (reverse geocoded) first, with no transaction open. The turn is then
    one transaction that holds the conversation's row, so turns of one resident never
    interleave, and it commits only if it is the one to mark the message processed: a worker
    whose Redis lock lapsed cannot answer a message twice. A message that fails is set aside,
    so the messages behind it still flow.
    """
    message_id = message.id
    started, outcome, failure = time.perf_counter(), "error", None
    try:
        event = _message_event(message, settings)
        with session_scope() as session, session.no_autoflush:
            if not _hold(session, conversation_id):
                outcome = "not_next"
                return None
            message = _oldest_pending(session, conversation_id)
            if message is None or message.id != message_id:
                outcome = "not_next"
                return None
            conversation = session.get(Conversation, conversation_id)
            jobs, erase = _handle(session, conversation, message, event, context)
            if not _mark(session, message_id, "processed"):
                raise _HandledElsewhere
            if erase:  # the resident's data is erased: this message goes too
                session.execute(delete(Message).where(Message.id == message_id))
                finish_erasing(session, conversation.contact_id)
        outcome = "answered"
        return jobs
    except _HandledElsewhere:
        outcome = "elsewhere"  # another worker answered it (its lock lapsed): dropped here
        return []
    except JobTimeoutException:
        outcome = "timeout"
        raise  # not the message's fault alone: run_turn releases it for one retry
    except (OperationalError, InterfaceError, RedisError) as exc:
        # The database or Redis failed, not the message: it stays pending for the next job
        # (the reconciler queues one), rather than being set aside.
        outcome = f"unavailable ({type(exc).__name__})"
        raise
    except Exception as exc:
        # Only the id is logged: the exception may carry the resident's words.
        outcome, failure = "failed", exc
        with session_scope() as session:
            _mark(session, message_id, "failed", error=type(exc).__name__)
        return []
    finally:
        _log_turn(conversation_id, message_id, "message", outcome, started, failure)


def _log_turn(
    conversation_id: int,
    message_id: int | None,
    kind: str,
    outcome: str,
    started: float,
    failure: BaseException | None = None,
) -> None:
    """A turn's one log line: ids, what it did, how long (never the resident's words)."""
    quiet = outcome in ("answered", "not_next")
    log.log(
        logging.INFO if quiet else logging.WARNING if failure is None else logging.ERROR,
        "turn of conversation %s on %s %s: %s",
        conversation_id,
        kind,
        message_id,
        outcome,
        extra=logs.fields(
            event="turn",
            conversation=conversation_id,
            message=message_id,
            kind=kind,
            outcome=outcome,
            ms=round((time.perf_counter() - started) * 1000, 1),
            # The type and where, never the message: it may carry the resident's words.
            **({"exc": logs.failure(failure)} if failure else {}),
        ),
    )


def _follow_up(
    conversation_id: int,
    followup: Followup,
    context: Context,
    settings: Settings,
) -> Jobs:
    """Perform the follow-up's network actions with no transaction open, then answer them in a
    transaction that holds the conversation's row; the jobs it queues.

    The answer is applied only by the turn that clears this very follow-up (its token): a
    worker whose lock lapsed while it waited for the city drops its late answer. A database or
    Redis failure leaves the follow-up for the next job; a crash sets its message aside.
    """
    started, outcome, failure = time.perf_counter(), "error", None
    try:
        answers = perform(followup, lambda: city_client(settings), settings)
        with session_scope() as session, session.no_autoflush:
            if not _hold(session, conversation_id, followup.token):
                raise _HandledElsewhere
            conversation = session.get(Conversation, conversation_id)
            contact = session.get(Contact, conversation.contact_id)
            answers = [
                with_own(session, contact.id, a) if isinstance(a, StatusFound) else a
                for a in answers
            ]
            stepped = _run_engine(
                session,
                contact.id,
                resident_state(conversation, contact),
                None,
                followup.actions,
                answers,
                followup.steps,
                context,
            )
            keep_state(conversation, contact, stepped.state)
            conversation.followup = stepped.followup(followup.message_id)
            record_follows(session, contact.id, stepped.actions)
            turn_handoff.flag(session, conversation, stepped.actions, context)
            replies = stepped.replies
            if turn_handoff.quiet(conversation, settings, utcnow()):
                replies = []  # a person took it meanwhile: the answer kept, the bot quiet
            jobs = _store(session, conversation, replies, stepped.reports(conversation))
        outcome = "answered"
        return jobs
    except _HandledElsewhere:
        outcome = "elsewhere"  # another worker answered it: this answer is dropped
        return []
    except JobTimeoutException:
        outcome = "timeout"
        raise  # run_turn releases the follow-up for one retry
    except (OperationalError, InterfaceError, RedisError) as exc:
        outcome = f"unavailable ({type(exc).__name__})"
        raise  # the follow-up stays stored: the next job (or the reconciler's) performs it
    except Exception as exc:
        outcome, failure = "failed", exc  # set aside
        with session_scope() as session:
            if _hold(session, conversation_id, followup.token):
                _fail(session, followup.message_id, type(exc).__name__)
        return []
    finally:
        _log_turn(conversation_id, followup.message_id, "followup", outcome, started, failure)


def _oldest_pending(session: Session, conversation_id: int) -> Message | None:
    return session.exec(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.IN,
            Message.status == MessageStatus.PENDING,
        )
        .order_by(Message.id)
    ).first()


def _mark(session: Session, message_id: int, status: str, error: str | None = None) -> bool:
    """Move an inbound message out of pending; False if it already was."""
    values = {"status": status, "updated_at": utcnow()}
    if error:
        values["error_code"] = error[:32]
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.PENDING)
        .values(**values)
    )
    return result.rowcount == 1


def _fail(session: Session, message_id: object, error: str) -> None:
    """Set aside an inbound message already processed whose follow-up could not be answered."""
    if isinstance(message_id, int):
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.direction == Direction.IN)
            .values(status=MessageStatus.FAILED, error_code=error[:32], updated_at=utcnow())
        )


def _handle(
    session: Session,
    conversation: Conversation,
    message: Message,
    event: MessageEvent,
    context: Context,
) -> tuple[Jobs, bool]:
    """The turn for one message: its jobs, and whether the message is to be erased once it is
    marked processed (the resident's data was just erased, or only their opt-out is kept)."""
    contact = session.get(Contact, conversation.contact_id)
    if contact.address_key is None:  # forgotten (DELETE MY DATA): what was queued goes too
        return [], True
    switched = _switches_messages(contact, conversation, message.text)
    forgetting = (
        None
        if switched or contact.opted_out
        else forget_turn(session, conversation, contact, message.text, context)
    )
    erase = False
    public_post = None
    if forgetting is not None:
        replies, reports, erase = list(forgetting.replies), [], forgetting.erased
        if erase:
            turn_handoff.clear(conversation)
    elif switched or contact.opted_out:
        replies, reports = [], []
        if contact.opted_out:  # nobody may write to them, staff neither
            turn_handoff.clear(conversation)
        if switched == "out" and not channel_for(contact.channel).abilities.carrier_keywords:
            # Channels without carrier keywords confirm the opt-out themselves, once.
            say = context.language(contact.language or "")
            replies = [Reply(say(texts.OPTED_OUT))]
        if contact.opted_out:  # STOP keeps only the opt-out (bot.forget)
            erase_contact(session, contact, keep_opt_out=True)
            erase = True
    elif held := turn_handoff.while_quiet(session, conversation, contact, message, context):
        # A person has the conversation (or is about to): stored for them, the bot says nothing
        # but the 911 prompt to an emergency (which staff see in the transcript too).
        replies, reports = held.replies, []
    elif _stale_tap(session, contact.id, InboundPayload.from_dict(message.payload).reply_to):
        replies = list(stale_tap(resident_state(conversation, contact), context).replies)
        reports = []
    else:
        stepped = _run_engine(
            session, contact.id, resident_state(conversation, contact), event, (), (), 0, context
        )
        keep_state(conversation, contact, stepped.state)
        conversation.followup = stepped.followup(message.id)
        record_follows(session, contact.id, stepped.actions)
        turn_handoff.flag(session, conversation, stepped.actions, context)
        replies, reports = stepped.replies, stepped.reports(conversation)
        public_post = public_replies.public_post_of(message)
    # After an erasure the one reply left (the confirmation) is sent although opted out.
    notice = "out" if erase and replies else switched
    stored = _store(session, conversation, replies, reports, notice, always=switched == "out")
    if public_post:  # a public mention of the city: answered in public, the rest privately
        say = context.language(contact.language or "")
        invited = public_replies.invite(session, conversation, public_post, say)
        if invited is not None:
            stored.append(("bot.jobs.deliver", invited.id))
    return stored, erase


def _store(
    session: Session,
    conversation: Conversation,
    replies: list[Reply],
    reports: list[Report],
    switched: str | None = None,
    always: bool = False,
) -> Jobs:
    """Store the turn's replies (pending outbound messages) and reports; the jobs to queue
    after the commit. `switched` "out" marks them as sent to a resident opted out (an
    opt-out's or an erasure's confirmation); `always`, sent even past the reply limit."""
    conversation.updated_at = utcnow()
    session.add_all(reports)
    # Every reply counts against the reply limit; an opt-out's confirmation (STOP's) is sent
    # even past it (carrier rules), an erasure's is not (DELETE MY DATA, then YES, over and
    # over must not buy a fresh allowance).
    outgoing = [
        store_reply(session, conversation, reply, always=always, opted_out=switched == "out")
        for reply in replies
    ]
    session.flush()
    for report in reports:
        report_history.record(session, report.id, "created", ReportState.PENDING)
    return [("bot.jobs.deliver", m.id) for m in outgoing] + [
        ("bot.jobs.submit", r.id) for r in reports
    ]


@dataclass
class _Stepped:
    """Where the engine got to in one transaction."""

    state: State
    replies: list[Reply]
    actions: list  # to carry out after the engine is done (FileReport, FollowRequest)
    waiting: tuple  # actions left to answer: the first needs the network
    steps: int  # engine steps taken for the message so far

    def followup(self, message_id: int) -> dict | None:
        """The follow-up to store on the conversation (None: nothing left to answer)."""
        if not self.waiting:
            return None
        return Followup(message_id, self.waiting, self.steps).to_dict()

    def reports(self, conversation: Conversation) -> list[Report]:
        return [new_report(conversation, a) for a in self.actions if isinstance(a, FileReport)]


def _run_engine(
    session: Session,
    contact_id: int,
    state: State,
    event,
    waiting,
    answers,
    steps: int,
    context: Context,
) -> _Stepped:
    """Step the engine from `event` (None: from the answers to the `waiting` actions, the first
    of which are answered by `answers`) through every answer the turn can give itself
    (ListReports, from the database). It stops at the first action that needs the network,
    left waiting with the actions asked after it, or after MAX_EVENTS_PER_MESSAGE steps for
    the message (what is left then is dropped)."""
    waiting, answers = list(waiting), list(answers)
    replies: list[Reply] = []
    actions = []
    while steps < MAX_EVENTS_PER_MESSAGE:
        if event is None:
            if not waiting:
                break
            event = answers[0] if answers else None
            if event is None and isinstance(waiting[0], ListReports):
                event = list_reports(session, contact_id)
            if event is None:
                break  # it needs the network: a follow-up
            waiting.pop(0)
            if answers:
                answers.pop(0)
        turn = step(state, event, context)
        steps += 1
        event = None
        state = turn.state
        replies.extend(turn.replies)
        for action in turn.actions:
            (waiting if isinstance(action, ANSWERABLE) else actions).append(action)
    left = tuple(waiting) if steps < MAX_EVENTS_PER_MESSAGE else ()
    return _Stepped(state, replies, actions, left, steps)
