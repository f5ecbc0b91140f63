"""Running the jobs: the rq worker and the periodic scheduler.

Imports only rq, Redis and the settings, so a worker is listening a fraction of a second after
it starts; the jobs' own modules load with the first job (the forking worker loads them once,
before its first fork, so each job's work-horse inherits them). Migrations are the release step
(`intake311 migrate`), never the worker's.
"""

from __future__ import annotations

import importlib

from rq import SimpleWorker, Worker
from rq.cron import CronScheduler

from bot.queue import KINDS, get_queue, get_redis, queue_name
from bot.settings import get_settings

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


class ForkingWorker(_QuickToStop, Worker):
    """rq's worker (a work-horse forked per job), with the jobs and the sentence model loaded
    once before the forks.

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
        importlib.import_module("bot.jobs")
        if not self.warmed:
            importlib.import_module("bot.understanding").warm()
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
        if job.func_name == "bot.jobs.run_turn" and _overdue(job, ran, 0) and job.args:
            from bot.jobs.turns import overran

            conversation_id = job.args[0]
            overran(conversation_id)
            # Its holder is dead: the retry need not wait for the lock to lapse.
            get_redis().delete(f"intake311:lock:conversation:{conversation_id}")


def _overdue(job, seconds: float, grace: float) -> bool:
    """Whether a job that has run `seconds` is more than `grace` past its timeout."""
    timeout = job.timeout
    return timeout is not None and timeout > 0 and seconds > timeout + grace


class InProcessWorker(_QuickToStop, SimpleWorker):
    """rq's worker that runs each job in the worker's own process (no fork)."""


class BurstWorker(InProcessWorker):
    """Runs what is queued now, in this process, and returns: no command listener to stop."""

    listens_for_commands = False


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
    """Queue the status check, the reconciler, idle conversations' end and the retention
    purge, forever."""
    from bot import jobs

    settings = get_settings()
    cron = CronScheduler(connection=get_redis())
    # A city's whole list of open requests can take longer than rq's default 180 s.
    cron.register(
        jobs.track, queue_name("city"), interval=settings.track_interval, job_timeout=3600
    )
    cron.register(
        jobs.reconcile, queue_name(), interval=settings.reconcile_interval, job_timeout=600
    )
    cron.register(jobs.close_idle, queue_name(), interval=60, job_timeout=600)
    # RETENTION_DAYS, and the last step of an erasure that waited for a reply (bot.retention).
    cron.register(jobs.purge, queue_name(), interval=PURGE_INTERVAL, job_timeout=600)
    cron.start()
