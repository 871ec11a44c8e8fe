"""``oauth-server worker`` as a real process: delivery, retries, and a SIGKILL mid-queue.

On the SQLite queue (a file of this test's own) and on Redis (a queue name of this test's
own); Redis tests skip when no Redis answers (TEST_REDIS_URL, or 127.0.0.1:6379), except
under CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from oauth_server import mail
from oauth_server.extensions import db
from oauth_server.models import Job
from oauth_server.models import JobState
from tests.mailbox import SmtpServer
from tests.processes import REPO
from tests.processes import Process
from tests.processes import clean_env
from tests.processes import free_port
from tests.processes import redis_server_url

BIN = str(Path(sys.executable).parent / "oauth-server")


@pytest.fixture(params=["sqlite", "redis"])
def storage(request: pytest.FixtureRequest, app: Flask, job_queue: dict[str, Any]) -> Iterator[str]:
    """The queue's storage; with Redis, the app enqueues there too, under this test's name."""
    if request.param == "redis":
        # As tests/production: database 15 of the test Redis.
        app.config["REDIS_URL"] = redis_server_url() + "/15"
    yield request.param
    if request.param == "redis":
        import redis

        conn = redis.Redis.from_url(app.config["REDIS_URL"])
        for key in conn.scan_iter(f"huey.*{job_queue['JOB_QUEUE_NAME']}*"):
            conn.delete(key)


class Worker:
    """``oauth-server worker`` processes over this test's database and queue."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.process = Process("worker", [BIN, "worker", "--workers", "1"], env, "", log)

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def start(self) -> Worker:
        self.process.launch()
        return self

    def kill(self) -> None:
        assert self.process.proc is not None
        self.process.proc.kill()

    def wait(self, timeout: float = 30) -> int:
        assert self.process.proc is not None
        return self.process.proc.wait(timeout)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.process.log_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass  # a traceback line
        return lines


@pytest.fixture
def worker_env(
    app: Flask, database_url: str, storage: str, job_queue: dict[str, Any], tmp_path: Path
) -> dict[str, str]:
    env = clean_env()
    env.update(
        DATABASE_URL=database_url,
        OAUTH_SERVER_INSTANCE=str(tmp_path),  # the queue's file: job_queue's JOB_QUEUE_FILE
        SECRET_KEY="test-secret-key",
        TOKEN_ENCRYPTION_KEY=app.config["TOKEN_ENCRYPTION_KEY"],
        JOB_QUEUE_NAME=job_queue["JOB_QUEUE_NAME"],
        JOB_LEASE_SECONDS="2",
        JOB_SWEEP_SECONDS="0.5",
        LOG_LEVEL="INFO",
    )
    assert job_queue["JOB_QUEUE_FILE"] == str(tmp_path / "jobs.sqlite3")
    if storage == "redis":
        env["REDIS_URL"] = app.config["REDIS_URL"]
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.process.stop()


def _states(job_ids: list[str]) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.execute(select(Job.id, Job.state).where(Job.id.in_(job_ids))).all()
    db.session.rollback()
    return {job_id: state for job_id, state in rows}


def _wait_until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _queue_emails(count: int) -> list[str]:
    job_ids = [
        mail.send_later("test", to=f"person{i}@acme.test", company_name="Acme", note=f"#{i}")
        for i in range(count)
    ]
    db.session.commit()
    return job_ids


@pytest.mark.parametrize("killed", ["before sending", "after the server took it"])
def test_a_worker_killed_mid_queue_and_restarted_delivers_each_email_once_per_job(
    app: Flask,
    smtp_server: SmtpServer,
    worker_env: dict[str, str],
    workers: list[Worker],
    tmp_path: Path,
    killed: str,
) -> None:
    """SIGKILL while the worker is in the SMTP exchange of the 5th of 12 e-mails.

    Before sending (at MAIL FROM): every e-mail arrives exactly once. After the server
    took the 5th (its DATA received, its 250 not yet read by the worker): nothing tells the
    worker it was sent, so it is sent again, with the same Message-ID; no other e-mail is.
    """
    worker_env.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=str(smtp_server.port))
    app.config.update(smtp_server.config())
    job_ids = _queue_emails(12)
    box = smtp_server.mailbox
    kill_at = 5
    killed_once = threading.Event()

    def kill(count: int) -> None:
        if count == kill_at and not killed_once.is_set():
            killed_once.set()
            os.kill(first.pid, signal.SIGKILL)

    if killed == "before sending":
        box.on_mail = kill
    else:
        box.on_data = kill
    first = Worker(worker_env, tmp_path / "worker-1.log").start()
    workers.append(first)
    assert first.wait() == -signal.SIGKILL
    delivered_before = len(box.received)
    assert delivered_before == (kill_at - 1 if killed == "before sending" else kill_at)
    states = _states(job_ids)
    assert list(states.values()).count(JobState.RUNNING) == 1  # the one cut short
    assert list(states.values()).count(JobState.QUEUED) == 12 - kill_at

    second = Worker(worker_env, tmp_path / "worker-2.log").start()
    workers.append(second)
    _wait_until(lambda: set(_states(job_ids).values()) == {JobState.DONE})
    time.sleep(1.5)  # three more sweeps: nothing else may arrive

    message_ids = [received.message_id for received in box.received]
    expected = {f"<{job_id}@localhost>" for job_id in job_ids}
    assert set(message_ids) == expected
    fifth = f"<{job_ids[kill_at - 1]}@localhost>"
    if killed == "before sending":
        assert len(message_ids) == 12
    else:
        assert len(message_ids) == 13 and message_ids.count(fifth) == 2
    assert all(message_ids.count(m) == 1 for m in expected - {fifth})
    assert [line for line in second.log_lines() if line["message"] == "lost jobs queued again"]


def test_a_failing_email_is_retried_with_growing_delays_then_listed_as_failed(
    app: Flask, worker_env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    """No SMTP server listens: two retries, one then two seconds later, then failed."""
    worker_env.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=str(free_port()), JOB_RETRIES="2", JOB_RETRY_DELAY="1"
    )
    [job_id] = _queue_emails(1)
    worker = Worker(worker_env, tmp_path / "worker.log").start()
    workers.append(worker)

    _wait_until(lambda: _states([job_id]) == {job_id: JobState.FAILED})

    lines = [line for line in worker.log_lines() if line.get("job_id") == job_id]
    retried = [line for line in lines if line["message"] == "job will be retried"]
    assert [(line["attempt"], line["delay"]) for line in retried] == [(1, 1.0), (2, 2.0)]
    [failed] = [line for line in lines if line["message"] == "job failed"]
    assert failed["level"] == "ERROR" and failed["attempt"] == 3
    assert "ConnectionRefusedError" in failed["error"]
    sent_at = [
        line["time"] for line in lines if line["message"] in {"job will be retried", "job failed"}
    ]
    assert sent_at == sorted(sent_at)

    listed = subprocess.run(
        [BIN, "worker", "--failed"], env=worker_env, cwd=REPO, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["failed"]
    assert (entry["id"], entry["kind"], entry["attempts"]) == (job_id, "mail.send", 3)

    worker.process.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert worker.wait() == 0
    assert worker.log_lines()[-1]["message"] == "worker stopped"


def test_a_worker_sends_what_was_queued_before_it_started_and_stops_on_sigint(
    app: Flask,
    smtp_server: SmtpServer,
    worker_env: dict[str, str],
    workers: list[Worker],
    tmp_path: Path,
) -> None:
    worker_env.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=str(smtp_server.port))
    job_ids = _queue_emails(3)
    worker = Worker(worker_env, tmp_path / "worker.log").start()
    workers.append(worker)

    received = smtp_server.mailbox.wait_for(3)
    assert sorted(r.recipients[0] for r in received) == [f"person{i}@acme.test" for i in range(3)]
    for message in received:
        assert "Acme" in message.part("text/plain") and "Acme" in message.part("text/html")
    _wait_until(lambda: set(_states(job_ids).values()) == {JobState.DONE})
    worker.process.proc.send_signal(signal.SIGINT)  # type: ignore[union-attr]
    assert worker.wait() == 0
    assert uuid.UUID(job_ids[0])
