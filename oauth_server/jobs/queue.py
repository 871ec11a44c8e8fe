"""The Huey queue of an app: in Redis when REDIS_URL is set, else in a SQLite file.

Huey carries job ids and timing only (when to run, retry delays, periodic schedules);
what a job is and how far it got is its ``jobs`` row (models/jobs.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import current_app
from huey import Huey
from huey import RedisHuey
from huey import SqliteHuey
from huey import crontab
from huey.api import TaskWrapper

from oauth_server.jobs import registry

log = logging.getLogger(__name__)

TASK_NAME = "run_job"
BATCH_TASK_NAME = "push_jobs"
# Up to this many jobs committed at once are queued one message each; more are queued by
# one message whose task queues the rest (in the worker, not in the request).
PUSH_INLINE_MAX = 20


@dataclass(frozen=True)
class Queue:
    huey: Huey
    run_job: TaskWrapper  # the one task: run the job of this id
    push_jobs: TaskWrapper  # queue run_job for each of these ids


def queue(app: Flask | None = None) -> Queue:
    """The app's queue, as its config names it now (tests give each test its own)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    key = (config.get("REDIS_URL"), config["JOB_QUEUE_NAME"], config["JOB_QUEUE_FILE"])
    queues: dict[tuple[Any, ...], Queue] = app.extensions.setdefault("jobs", {})
    if key not in queues:
        queues[key] = _make(app)
    return queues[key]


def describe(app: Flask) -> str:
    """Where the queue is, for a log line: never the Redis URL, which may hold a password."""
    if app.config.get("REDIS_URL"):
        return f"redis, queue {app.config['JOB_QUEUE_NAME']}"
    return f"sqlite {app.config['JOB_QUEUE_FILE']}, queue {app.config['JOB_QUEUE_NAME']}"


def _make(app: Flask) -> Queue:
    config = app.config
    huey: Huey
    if config.get("REDIS_URL"):
        from redis import ConnectionPool

        # A Redis that hangs must not hang a request that enqueues: fail fast (the job's
        # row is committed; the sweep queues it again). Longer than the consumer's 1 s
        # blocking read.
        pool = ConnectionPool.from_url(
            config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        huey = RedisHuey(config["JOB_QUEUE_NAME"], connection_pool=pool, results=False)
    else:
        huey = SqliteHuey(
            config["JOB_QUEUE_NAME"], filename=config["JOB_QUEUE_FILE"], results=False
        )

    def run_job(job_id: str) -> None:
        from oauth_server.jobs import runner

        with app.app_context():
            runner.run(job_id)

    wrapper = huey.task(name=TASK_NAME)(run_job)

    def push_jobs(job_ids: list[str]) -> None:
        for job_id in job_ids:
            wrapper(job_id)

    batch = huey.task(name=BATCH_TASK_NAME)(push_jobs)
    for entry in registry.PERIODIC.values():
        huey.periodic_task(crontab(**entry.schedule), name=f"periodic.{entry.name}")(
            _in_app(app, entry.func)
        )
    return Queue(huey, wrapper, batch)


def _in_app(app: Flask, func: Any) -> Any:
    def run() -> None:
        with app.app_context():
            func()

    return run


def push(job_id: str, *, delay: float | None = None, app: Flask | None = None) -> None:
    """Put a message for ``job_id`` on the queue, to run now or after ``delay`` seconds."""
    q = queue(app)
    if delay:
        q.run_job.schedule(args=(job_id,), delay=delay)
    else:
        q.run_job(job_id)


def push_many(job_ids: list[str], *, app: Flask | None = None) -> None:
    """Queue these jobs to run now by one message per thousand, whose task (in a worker)
    queues each: a bulk revocation's request does not wait for a thousand queue writes."""
    q = queue(app)
    for start in range(0, len(job_ids), 1000):
        q.push_jobs(job_ids[start : start + 1000])
