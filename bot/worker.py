"""Running the jobs: the rq workers and the periodic scheduler.

`intake311 worker --processes N` (the Procfile's) is a `Pool`: N workers that run each job in
their own process (no fork per job), forked from a supervisor that loaded everything the jobs
use first, and watched by it: a worker whose job outlives its timeout (stuck in C code, out of
reach of rq's alarm) is killed and replaced, and its turn released for one retry (`Pool`).

The command itself imports only rq, Redis and the settings, so a worker is listening a fraction
of a second after it starts; the jobs' own modules load with the first job, or in the pool's
supervisor before it forks. Migrations are the release step (`intake311 migrate`), never the
worker's.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import time
from multiprocessing.sharedctypes import RawArray

from rq import SimpleWorker, Worker
from rq.cron import CronScheduler

from bot import metrics_dir
from bot.queue import KINDS, get_queue, get_redis, queue_name
from bot.settings import get_settings

log = logging.getLogger(__name__)

PURGE_INTERVAL = 600  # bot.retention.PURGE_INTERVAL (not imported: the worker starts light)

# How long rq's command listener (the pubsub thread) waits for a message before it looks at
# its stop flag. rq asks for 60 s; redis-py 8 joins that thread when a worker stops, so every
# worker (and every burst run) would take a minute to quit. 1 s keeps `rq` commands working.
PUBSUB_WAIT = 1.0


class _QuickToStop:
    """A worker whose command listener stops within PUBSUB_WAIT, with any redis-py."""

    listens_for_commands = True

    def subscribe(self) -> None:
        if not self.listens_for_commands:
            return
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_WAIT, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class _Traced:
    """A worker that runs each job under the trace id it was queued with (bot.trace), or a new
    one (a job cron or a person queued), and clears it after: whatever the job logs and queues
    carries it."""

    def perform_job(self, job, queue):
        from bot import trace  # light: the worker starts before the jobs' modules load

        with trace.bound(trace.sane((job.meta or {}).get(trace.META_KEY))):
            return super().perform_job(job, queue)


class ForkingWorker(_Traced, _QuickToStop, Worker):
    """rq's worker (a work-horse forked per job), with the jobs and what they use loaded once
    before the forks (`warm`).

    A job that outlives its timeout is stopped in its work-horse by rq (an exception at the
    next Python instruction); a work-horse stuck in C code never sees it. rq kills such a
    work-horse only 60 s past the timeout; this worker looks every `job_monitoring_interval`
    and kills it `hard_kill_after` seconds past it, so a job is gone within JOB_TIMEOUT + 15 s,
    inside the lock it holds (LOCK_TIMEOUT is at least twice JOB_TIMEOUT: keep it 30 s or more
    with forking workers). A turn whose work-horse was killed so has its work released for one
    retry, then set aside (bot.jobs.turns.overran).
    """

    warmed = False
    hard_kill_after = 10.0

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", 5)
        super().__init__(*args, **kwargs)

    def execute_job(self, job, queue):
        if not self.warmed:
            warm()
            self.warmed = True
        return super().execute_job(job, queue)

    def maintain_heartbeats(self, job):
        if _overdue(job, self.current_job_working_time, self.hard_kill_after):
            self.log.warning(
                "job %s outlived its timeout of %ss; killing its work-horse", job.id, job.timeout
            )
            self.kill_horse()
        super().maintain_heartbeats(job)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        ran = (
            (job.ended_at - job.started_at).total_seconds()
            if job.started_at and job.ended_at
            else 0
        )
        _release_overrun(job.func_name, job.args, ran, job.timeout or 0)


def _overdue(job, seconds: float, grace: float) -> bool:
    """Whether a job that has run `seconds` is more than `grace` past its timeout."""
    timeout = job.timeout
    return timeout is not None and timeout > 0 and seconds > timeout + grace


class InProcessWorker(_Traced, _QuickToStop, SimpleWorker):
    """rq's worker that runs each job in the worker's own process (no fork)."""


class BurstWorker(InProcessWorker):
    """Runs what is queued now, in this process, and returns: no command listener to stop."""

    listens_for_commands = False


def _release_overrun(func_name: str, args: tuple | list, ran: float, timeout: float) -> None:
    """A worker running the job died: if it was a turn past its timeout, release its work for
    one retry (then set it aside: bot.jobs.turns.overran) and free its dead holder's lock."""
    if func_name != "bot.jobs.run_turn" or not args or not (0 < timeout < ran):
        return
    from bot.jobs.turns import overran

    conversation_id = args[0]
    overran(conversation_id)
    # Its holder is dead: the retry need not wait for the lock to lapse.
    get_redis().delete(f"intake311:lock:conversation:{conversation_id}")


# What a pooled worker posts for its supervisor (a RawArray of doubles shared across the fork).
_STARTED, _TIMEOUT, _TURN = 0, 1, 2


class PooledWorker(InProcessWorker):
    """A worker of a `Pool`: runs jobs in its own process, and posts on its `board` which job
    it runs and since when, for the supervisor's watchdog."""

    board: list[float] = [0.0, 0.0, -1.0]

    def execute_job(self, job, queue):
        board = self.board
        board[_TIMEOUT] = float(job.timeout) if job.timeout and job.timeout > 0 else 0.0
        board[_TURN] = (
            float(job.args[0]) if job.func_name == "bot.jobs.run_turn" and job.args else -1.0
        )
        board[_STARTED] = time.monotonic()  # last: the watchdog reads it first
        try:
            return super().execute_job(job, queue)
        finally:
            board[_STARTED] = 0.0


class _Slot:
    """One of the pool's workers: its process and its board."""

    def __init__(self) -> None:
        self.board = RawArray("d", [0.0, 0.0, -1.0])
        self.pid = 0
        self.started = 0.0  # when its process was started (time.monotonic())
        self.failures = 0  # deaths in a row soon after a start (backoff)


class Pool:
    """`processes` in-process rq workers on the queues of `kinds`, forked from this process
    once the jobs and what they use are loaded, and supervised.

    Each job runs in a worker's own process, so no job pays a fork or an import. A job that
    outlives its timeout is stopped by rq's alarm in its worker (a turn then releases its
    work: bot.jobs.turns.overran); one stuck in C code never sees the alarm, so the
    supervisor looks every `check_every` seconds and kills its worker `hard_kill_after`
    seconds past the timeout, inside the lock the job holds (JOB_TIMEOUT is at most half of
    LOCK_TIMEOUT), releases the turn for one retry as above, and starts a new worker. A worker
    that dies any other way is replaced too; its work is queued again by the reconciler.
    SIGTERM or SIGINT stops every worker after its current job (rq's warm shutdown).
    """

    check_every = 1.0
    hard_kill_after = 10.0

    def __init__(self, kinds: tuple[str, ...] = KINDS, processes: int = 2, burst: bool = False):
        self.kinds, self.burst = kinds, burst
        self.slots = [_Slot() for _ in range(max(1, processes))]
        self.stopping = False

    def run(self) -> None:
        """Start the workers and watch them until they stop (all of them, in burst: the
        queues are empty)."""
        warm()
        previous = {
            signum: signal.signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for slot in self.slots:
                self._start(slot)
            while any(slot.pid for slot in self.slots):
                self._reap()
                self._watch()
                time.sleep(self.check_every)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _stop(self, signum, _frame) -> None:
        self.stopping = True
        for slot in self.slots:
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)

    def _start(self, slot: _Slot) -> None:
        slot.board[_STARTED] = 0.0
        slot.started = time.monotonic()
        # A SIGTERM between the fork and the child's own handlers would run the supervisor's
        # _stop in the child, or miss a worker whose pid is not yet known: it waits for both.
        stops = {signal.SIGTERM, signal.SIGINT}
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        pid = os.fork()
        if pid:
            slot.pid = pid
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            return
        code = 1
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())  # rq's timeout is SIGALRM
            queues = [get_queue(kind) for kind in self.kinds]  # this process's own Redis
            worker = PooledWorker(queues, connection=queues[0].connection)
            worker.board = slot.board
            worker.work(burst=self.burst, with_scheduler=True)
            code = 0
        except BaseException:  # noqa: BLE001 - the supervisor starts another
            log.exception("a pooled worker failed")
        finally:
            os._exit(code)

    def _reap(self) -> None:
        """Replace the workers that died (in burst, only those that died in a job)."""
        for slot in self.slots:
            if not slot.pid:
                continue
            try:
                pid, status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = slot.pid, 0
            if not pid:
                continue
            slot.pid = 0
            metrics_dir.mark_dead(pid)
            started = slot.board[_STARTED]
            if self.burst and not started:
                continue  # done (or unable to start): a burst replaces only the killed
            if started:  # it died in a job
                ran = time.monotonic() - started
                turn = int(slot.board[_TURN])
                log.warning("a pooled worker died in a job it ran for %.1f s (%s)", ran, status)
                if turn >= 0:
                    _release_overrun("bot.jobs.run_turn", (turn,), ran, slot.board[_TIMEOUT])
            if self.stopping:
                continue
            slot.failures = slot.failures + 1 if time.monotonic() - slot.started < 5 else 0
            if slot.failures:
                time.sleep(min(5.0, 0.5 * slot.failures))  # a worker that cannot start
                if self.stopping:
                    continue  # told to stop while it waited
            self._start(slot)

    def _watch(self) -> None:
        """Kill the workers whose job is `hard_kill_after` seconds past its timeout."""
        now = time.monotonic()
        for slot in self.slots:
            started, timeout = slot.board[_STARTED], slot.board[_TIMEOUT]
            if slot.pid and started and timeout and now - started > timeout + self.hard_kill_after:
                log.warning(
                    "a pooled worker's job outlived its timeout of %ss; killing the worker",
                    timeout,
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGKILL)


def warm() -> None:
    """Load what jobs use, once, before workers fork: the jobs' modules, the sentence model,
    the language catalogues, the city's synonyms, Twilio's REST API, the database's driver
    and the TLS context (no connection is opened: each worker opens its own)."""
    from sqlalchemy.engine import make_url

    from bot.channels import sms
    from bot.city_synonyms import load_synonyms
    from bot.db import normalise_url
    from bot.languages import load_languages
    from bot.tls import tls_context

    importlib.import_module("bot.jobs")
    importlib.import_module("bot.understanding").warm()
    settings = get_settings()
    load_languages(settings.locale_dir or None)
    load_synonyms(settings.synonyms_file)
    sms.warm(settings)
    if not settings.database_url.startswith("sqlite"):  # (normalise_url makes SQLite's folder)
        make_url(normalise_url(settings.database_url)).get_dialect()  # loaded lazily otherwise
    tls_context()


def run_pool(processes: int, burst: bool = False, kinds: tuple[str, ...] = KINDS) -> None:
    """Work the queues of `kinds` with `processes` supervised in-process workers (`Pool`)."""
    Pool(kinds, processes, burst=burst).run()


def run_worker(burst: bool = False, simple: bool = False, kinds: tuple[str, ...] = KINDS) -> bool:
    """Work the queues of `kinds` (first ones first), with rq's scheduler for delayed retries.

    rq forks a child per job (a job that crashes the interpreter leaves the worker up);
    `simple` runs jobs in the worker itself, faster where each job is short.
    """
    queues = [get_queue(kind) for kind in kinds]
    worker = (InProcessWorker if simple else ForkingWorker)(queues, connection=queues[0].connection)
    return worker.work(burst=burst, with_scheduler=True)


def run_burst(kinds: tuple[str, ...] = KINDS) -> bool:
    """Run the jobs queued now on `kinds` in this process, then return."""
    queues = [get_queue(kind) for kind in kinds]
    return BurstWorker(queues, connection=queues[0].connection).work(burst=True)


def run_cron() -> None:
    """Queue the status check, the listing of the city's open requests, the reconciler, idle
    conversations' end, the retention purge and the polls of channels without webhooks,
    forever."""
    from bot import jobs
    from bot.jobs.open_requests import REFRESH_JOB_TIMEOUT
    from bot.jobs.polling import POLL_JOB_TIMEOUT, POLL_TICK

    settings = get_settings()
    cron = CronScheduler(connection=get_redis())
    # A city's whole list of open requests can take longer than rq's default 180 s.
    cron.register(
        jobs.track, queue_name("city"), interval=settings.track_interval, job_timeout=3600
    )
    # The city's open requests, for the nearby look-up before a report (off with "*").
    if "*" not in settings.duplicates_off():
        cron.register(
            jobs.refresh_open_requests,
            queue_name("city"),
            interval=settings.duplicate_refresh_seconds,
            job_timeout=REFRESH_JOB_TIMEOUT,
        )
    cron.register(
        jobs.reconcile, queue_name(), interval=settings.reconcile_interval, job_timeout=600
    )
    cron.register(jobs.close_idle, queue_name(), interval=60, job_timeout=600)
    # RETENTION_DAYS, and the last step of an erasure that waited for a reply (bot.retention).
    cron.register(jobs.purge, queue_name(), interval=PURGE_INTERVAL, job_timeout=600)
    # Channels without a webhook for what they need (Mastodon's mentions), each when it is due:
    # on the residents' queue, so a poll ends within POLL_JOB_TIMEOUT and backs off after a
    # failure (bot.jobs.polling) rather than hold a resident's worker.
    cron.register(
        jobs.poll_channels, queue_name(), interval=POLL_TICK, job_timeout=POLL_JOB_TIMEOUT
    )
    cron.start()
