"""Enqueueing, claiming and running jobs; the sweep that recovers lost ones.

The guarantee, per job: it runs to success at most once, and at least once unless it fails
for good. A worker claims the job's row before running it (one conditional UPDATE: queued
or retrying and due, or running past its lease), so a message delivered twice, or queued
twice by the sweep, runs nothing twice; a finished job's row says ``done`` and is never
claimed again. What no record can settle: a worker that dies after the job's effect left
this process (an SMTP server said 250) and before ``done`` was committed leaves a job that
runs again once its lease ends. A handler gets the job's id to make that repeat
recognizable (mail.py sends both copies with one Message-ID).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import current_app
from huey.exceptions import RetryTask
from sqlalchemy import and_
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from oauth_server import clock
from oauth_server import logs
from oauth_server.errors import DomainError
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.jobs import queue
from oauth_server.jobs import registry
from oauth_server.models.jobs import Job
from oauth_server.models.jobs import JobState

log = logging.getLogger("oauth_server.jobs")

_PENDING = "oauth_server.jobs.pending"  # Session.info: ids to queue when it commits
SWEEP_BATCH = 500
ERROR_MAX = 500


# --- enqueueing ---------------------------------------------------------------------------


def enqueue(kind: str, /, **args: Any) -> str:
    """Add a job of ``kind`` to the current transaction; queued when it commits. Its id."""
    if kind not in registry.HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    json.dumps(args)  # stored as JSON: refuse now what could not be stored
    job = Job(id=uuid.uuid4().hex, kind=kind, args=args, state=JobState.QUEUED)
    job.created_at = job.due_at = clock.now()
    db.session.add(job)
    db.session.info.setdefault(_PENDING, []).append(job.id)
    return job.id


def enqueue_many(kind: str, /, args: list[dict[str, Any]]) -> list[str]:
    """``enqueue`` for many jobs of one kind: one multi-row INSERT, not an ORM object each,
    and one queue message for the lot on commit (``queue.push_many``). Their ids."""
    if kind not in registry.HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    if not args:
        return []
    json.dumps(args)
    now = clock.now()
    ids = [uuid.uuid4().hex for _ in args]
    rows = [
        {
            "id": job_id,
            "kind": kind,
            "args": one,
            "state": JobState.QUEUED,
            "attempts": 0,
            "created_at": now,
            "due_at": now,
        }
        for job_id, one in zip(ids, args, strict=True)
    ]
    db.session.execute(insert(Job), rows)
    db.session.info.setdefault(_PENDING, []).extend(ids)
    return ids


@event.listens_for(Session, "after_commit")
def _queue_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if len(pending) > queue.PUSH_INLINE_MAX:
        try:
            queue.push_many(pending)
        except Exception:  # the queue is down: the rows stay queued, the sweep retries
            log.warning("jobs not queued, the sweep will queue them", extra={"count": len(pending)})
        return
    for job_id in pending:
        try:
            queue.push(job_id)
        except Exception:  # the queue is down: the row stays queued, the sweep retries
            log.warning("job not queued, the sweep will queue it", extra={"job_id": job_id})


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)


# --- running ------------------------------------------------------------------------------


def claim(job_id: str, now: datetime | None = None) -> Job | None:
    """Take the job to run it, or None when it is not this worker's to run (done, failed,
    not due yet, or running under another worker's lease)."""
    now = now or clock.now()
    lease = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    claimed = db.session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                and_(Job.state.in_((JobState.QUEUED, JobState.RETRYING)), Job.due_at <= now),
                and_(Job.state == JobState.RUNNING, Job.claimed_until < now),
            ),
        )
        .values(state=JobState.RUNNING, attempts=Job.attempts + 1, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(Job, job_id, populate_existing=True)


def run(job_id: str) -> None:
    """Run the job of this id once (the queue's one task; in an app context)."""
    job = claim(job_id)
    if job is None:
        state = db.session.scalar(select(Job.state).where(Job.id == job_id))
        log.info("job not run", extra={"job_id": job_id, "state": state or "unknown"})
        return
    ids = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
    handle = registry.HANDLERS.get(job.kind)
    try:
        if handle is None:
            raise NotFound(f"no handler for job kind {job.kind!r}")
        handle(job)
    except Exception as error:
        db.session.rollback()
        due = _failed(job_id, error)
        if due is not None:  # Huey keeps the retry in its schedule (UTC, naive)
            raise RetryTask(eta=due.astimezone(UTC).replace(tzinfo=None)) from None
        return
    db.session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(state=JobState.DONE, args={}, claimed_until=None, finished_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("job done", extra=ids)


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after ``attempts`` failed ones, doubling; None past
    JOB_RETRIES (the schedule of a kind without its own)."""
    if attempts > current_app.config["JOB_RETRIES"]:
        return None
    base = float(current_app.config["JOB_RETRY_DELAY"])
    return base * 2.0 ** max(attempts - 1, 0)


def _failed(job_id: str, error: Exception) -> datetime | None:
    """Record a failed attempt; when the next one is due, or None: failed for good."""
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None
    message = logs.redact(f"{type(error).__name__}: {error}")[:ERROR_MAX]
    job.last_error = message
    job.claimed_until = None
    ids = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "error": message}
    # A broken rule (DomainError: an e-mail that would carry a secret, a missing handler)
    # fails the same way every time: no retry. Anything else may pass on another try.
    permanent = isinstance(error, DomainError)
    delay = None if permanent else registry.RETRIES.get(job.kind, retry_delay)(job.attempts)
    if delay is None:
        job.state = JobState.FAILED
        job.finished_at = clock.now()
        db.session.commit()
        log.error("job failed", extra=ids)
        return None
    job.state = JobState.RETRYING
    # Whole seconds: Huey's schedule keeps no fraction, and the retry's message must not
    # arrive before the row says it is due.
    due = clock.now() + timedelta(seconds=delay)
    job.due_at = due.replace(microsecond=0) + timedelta(seconds=1 if due.microsecond else 0)
    db.session.commit()
    log.warning("job will be retried", extra={**ids, "delay": delay})
    return job.due_at


# --- recovering ---------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Queue again the jobs whose message was lost; how many.

    Running past its lease: its worker died (SIGKILL, a crash, a lost machine). Queued or
    retrying and due for JOB_STALE_SECONDS: its message never reached the queue, or a
    worker took it and died before claiming. A job queued twice still runs once (``claim``).
    """
    now = now or clock.now()
    stale = now - timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    lost = list(
        db.session.scalars(
            select(Job.id)
            .where(
                or_(
                    and_(Job.state == JobState.RUNNING, Job.claimed_until < now),
                    and_(Job.state.in_((JobState.QUEUED, JobState.RETRYING)), Job.due_at < stale),
                )
            )
            .order_by(Job.due_at)
            .limit(SWEEP_BATCH)
        )
    )
    if not lost:
        return 0
    # Abandoned runs become queued (claimable now); stale ones are due from now on, so the
    # next sweep leaves them to this new message for JOB_STALE_SECONDS.
    db.session.execute(
        update(Job)
        .where(Job.id.in_(lost), Job.state == JobState.RUNNING, Job.claimed_until < now)
        .values(state=JobState.QUEUED, claimed_until=None, due_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Job)
        .where(Job.id.in_(lost), Job.state.in_((JobState.QUEUED, JobState.RETRYING)))
        .values(due_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    for job_id in lost:
        queue.push(job_id)
    log.warning("lost jobs queued again", extra={"count": len(lost)})
    return len(lost)


# --- looking ------------------------------------------------------------------------------


def failed_jobs(limit: int = 100) -> list[dict[str, Any]]:
    """The jobs that failed for good, newest first (``oauth-server worker --failed``)."""
    rows = db.session.scalars(
        select(Job)
        .where(Job.state == JobState.FAILED)
        .order_by(Job.finished_at.desc())
        .limit(limit)
    )
    return [
        {
            "id": job.id,
            "kind": job.kind,
            "attempts": job.attempts,
            "error": job.last_error,
            "created_at": job.created_at.isoformat(),
            "failed_at": job.finished_at.isoformat() if job.finished_at else None,
        }
        for job in rows
    ]


def run_pending(limit: int = 1000) -> int:
    """Run, in this process, the jobs waiting in the queue now; how many messages were
    taken. For tests and scripts: what a worker would do, without one (retries, which wait
    in the queue's schedule, are left there)."""
    q = queue.queue()
    taken = 0
    while taken < limit:
        task = q.huey.dequeue()
        if task is None:
            break
        taken += 1
        q.huey.execute(task)
    return taken
