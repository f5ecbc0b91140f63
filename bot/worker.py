"""Running the jobs: the rq worker and the periodic scheduler."""

from __future__ import annotations

from rq import SimpleWorker, Worker
from rq.cron import CronScheduler

from bot import jobs
from bot.queue import KINDS, get_queue, get_redis, queue_name
from bot.settings import get_settings


def run_worker(burst: bool = False, simple: bool = False, kinds: tuple[str, ...] = KINDS) -> bool:
    """Work the queues of `kinds` (first ones first), with rq's scheduler for delayed retries.

    rq forks a child per job (a job that crashes the interpreter leaves the worker up);
    `simple` runs jobs in the worker itself, faster where each job is short.
    """
    queues = [get_queue(kind) for kind in kinds]
    worker = (SimpleWorker if simple else Worker)(queues, connection=queues[0].connection)
    return worker.work(burst=burst, with_scheduler=True)


def run_cron() -> None:
    """Queue the status check, the reconciler and idle conversations' end, forever."""
    settings = get_settings()
    cron = CronScheduler(connection=get_redis())
    # A city's whole list of open requests can take longer than rq's default 180 s.
    cron.register(jobs.track, queue_name("city"), interval=settings.track_interval,
                  job_timeout=3600)
    cron.register(jobs.reconcile, queue_name(), interval=settings.reconcile_interval,
                  job_timeout=600)
    cron.register(jobs.close_idle, queue_name(), interval=60, job_timeout=600)
    cron.start()
