"""The job queue in this process: once per job, retries with growing delays, the sweep."""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask import current_app
from sqlalchemy import select

from oauth_server import jobs
from oauth_server.extensions import db
from oauth_server.jobs import queue
from oauth_server.jobs import registry
from oauth_server.jobs import runner
from oauth_server.models import Job
from oauth_server.models import JobState
from tests.conftest import Clock
from tests.processes import free_port

RUNS: list[dict[str, Any]] = []
FAILURES = {"left": 0}


@jobs.handler("test.record")
def _record(job: Job) -> None:
    assert current_app  # in an app context
    RUNS.append({"id": job.id, **job.args})


def _failing(job: Job, error: Exception) -> None:
    """Record the attempt; raise ``error`` while ``FAILURES["left"]`` lasts."""
    RUNS.append({"id": job.id, "attempt": job.attempts})
    if FAILURES["left"]:
        FAILURES["left"] -= 1
        raise error


@jobs.handler("test.flaky")
def _flaky(job: Job) -> None:
    _failing(job, ConnectionError("smtp.example.test said no"))


@jobs.handler("test.missing_key")
def _missing_key(job: Job) -> None:
    _failing(job, KeyError("a bug of the handler's, or data not there yet"))


@pytest.fixture(autouse=True)
def _fresh(job_queue: dict[str, Any]) -> None:
    RUNS.clear()
    FAILURES["left"] = 0


def _job(job_id: str) -> Job:
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def _run_retries(clock: Clock) -> None:
    """Run what waits in the queue's schedule, moving the clock to when it is due."""
    huey = queue.queue().huey
    for task in huey.read_schedule(datetime(2100, 1, 1)):  # taken off the schedule
        clock.set(task.eta.replace(tzinfo=UTC) + timedelta(seconds=0.001))
        huey.execute(task, timestamp=task.eta + timedelta(seconds=0.001))


def test_a_job_runs_once_however_often_its_message_is_delivered(app: Flask) -> None:
    job_id = jobs.enqueue("test.record", n=1)
    db.session.commit()
    queue.push(job_id)  # a second message for the same job: a redelivery
    queue.push(job_id)

    assert jobs.run_pending() == 3

    assert RUNS == [{"id": job_id, "n": 1}]
    job = _job(job_id)
    assert (job.state, job.attempts, job.args) == (JobState.DONE, 1, {})


def test_a_failing_job_is_retried_with_growing_delays_then_fails_visibly(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app.config.update(JOB_RETRIES=3, JOB_RETRY_DELAY=10)
    FAILURES["left"] = 99
    job_id = jobs.enqueue("test.flaky")
    db.session.commit()

    delays = []
    with caplog.at_level(logging.INFO, logger="oauth_server.jobs"):
        jobs.run_pending()
        for _ in range(3):
            job = _job(job_id)
            assert job.state == JobState.RETRYING
            [task] = queue.queue().huey.scheduled()
            assert task.eta.replace(tzinfo=UTC) == job.due_at
            delays.append((job.due_at - clock.now()).total_seconds())
            _run_retries(clock)

    # Doubling, rounded up to a whole second (Huey's schedule keeps whole seconds).
    assert all(
        wanted - 1 < delay <= wanted + 1 for wanted, delay in zip([10, 20, 40], delays, strict=True)
    ), delays
    assert [run["attempt"] for run in RUNS] == [1, 2, 3, 4]
    job = _job(job_id)
    assert job.state == JobState.FAILED and job.finished_at is not None
    assert job.last_error == "ConnectionError: smtp.example.test said no"
    assert queue.queue().huey.scheduled() == []
    [failed] = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert failed.levelno == logging.ERROR and failed.job_id == job_id  # type: ignore[attr-defined]
    assert len([r for r in caplog.records if r.getMessage() == "job will be retried"]) == 3
    assert [entry["id"] for entry in jobs.failed_jobs()] == [job_id]


def test_a_job_that_fails_then_succeeds_is_done(app: Flask, clock: Clock) -> None:
    app.config.update(JOB_RETRIES=3, JOB_RETRY_DELAY=5)
    FAILURES["left"] = 1
    job_id = jobs.enqueue("test.flaky")
    db.session.commit()

    jobs.run_pending()
    _run_retries(clock)

    job = _job(job_id)
    assert (job.state, job.attempts, job.last_error) == (
        JobState.DONE,
        2,
        "ConnectionError: smtp.example.test said no",
    )
    assert jobs.failed_jobs() == []


def test_a_handler_raising_a_key_error_is_retried_like_any_failure(
    app: Flask, clock: Clock
) -> None:
    app.config.update(JOB_RETRIES=3, JOB_RETRY_DELAY=5)
    FAILURES["left"] = 1
    job_id = jobs.enqueue("test.missing_key")
    db.session.commit()

    jobs.run_pending()
    assert _job(job_id).state == JobState.RETRYING
    _run_retries(clock)

    assert [run["attempt"] for run in RUNS] == [1, 2]
    assert _job(job_id).state == JobState.DONE


def test_a_job_whose_kind_has_no_handler_fails_at_once(app: Flask) -> None:
    job_id = jobs.enqueue("test.record", n=1)
    db.session.commit()
    handler = registry.HANDLERS.pop("test.record")
    try:
        jobs.run_pending()
    finally:
        registry.HANDLERS["test.record"] = handler

    job = _job(job_id)
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.last_error == "NotFound: no handler for job kind 'test.record'"
    assert queue.queue().huey.scheduled() == []


def test_a_retry_is_not_run_before_its_delay(app: Flask, clock: Clock) -> None:
    app.config.update(JOB_RETRIES=3, JOB_RETRY_DELAY=60)
    FAILURES["left"] = 1
    job_id = jobs.enqueue("test.flaky")
    db.session.commit()
    jobs.run_pending()

    queue.push(job_id)  # an early duplicate message
    jobs.run_pending()

    assert len(RUNS) == 1 and _job(job_id).state == JobState.RETRYING


def test_the_sweep_queues_again_a_job_whose_worker_died(app: Flask, clock: Clock) -> None:
    app.config.update(JOB_LEASE_SECONDS=60)
    job_id = jobs.enqueue("test.record", n=2)
    db.session.commit()
    queue.queue().huey.flush()  # the message a dying worker took with it
    assert runner.claim(job_id) is not None  # ... after claiming the job

    assert runner.sweep() == 0  # its lease runs
    clock.advance(61)
    assert runner.sweep() == 1

    jobs.run_pending()
    assert RUNS == [{"id": job_id, "n": 2}]
    assert (_job(job_id).state, _job(job_id).attempts) == (JobState.DONE, 2)


def test_the_sweep_queues_a_job_whose_message_never_reached_the_queue(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app.config.update(JOB_STALE_SECONDS=600, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="oauth_server.jobs"):
        job_id = jobs.enqueue("test.record", n=3)
        db.session.commit()  # Redis is down: the commit stands, the row is queued
    assert [r.getMessage() for r in caplog.records] == ["job not queued, the sweep will queue it"]
    assert _job(job_id).state == JobState.QUEUED
    app.config.update(REDIS_URL=None)  # back up

    clock.advance(599)
    assert runner.sweep() == 0
    clock.advance(2)
    assert runner.sweep() == 1
    jobs.run_pending()

    assert RUNS == [{"id": job_id, "n": 3}]
    assert runner.sweep() == 0


def test_a_periodic_job_runs_in_an_app_context(app: Flask) -> None:
    seen = []
    jobs.periodic("test-every-minute", minute="*")(lambda: seen.append(current_app.name))
    try:
        app.config["JOB_QUEUE_NAME"] += "_periodic"  # a queue made after the registration
        huey = queue.queue().huey
        [task] = huey.read_periodic(datetime(2026, 12, 5, 8, 0))
        huey.execute(task)
    finally:
        del registry.PERIODIC["test-every-minute"]
    assert seen == [app.name]


def test_an_unknown_kind_cannot_be_queued(app: Flask) -> None:
    with pytest.raises(ValueError):
        jobs.enqueue("test.nothing")
    with pytest.raises(TypeError):
        jobs.enqueue("test.record", when=datetime.now(UTC))  # not JSON
    db.session.commit()
    assert db.session.scalars(select(Job)).all() == []
