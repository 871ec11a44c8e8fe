"""A background job: what to run, and how far it got (jobs/)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """One job, from its enqueueing to its end: the record that makes it run once.

    The queue (Redis or SQLite, through Huey) carries only the id. A worker runs a job
    after claiming its row (``jobs.runner.claim``), so a message delivered twice runs it
    once; a row left running by a dead worker, or queued with its message lost, is queued
    again by the sweep. ``args`` are emptied once the job is done.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_due_at", "state", "due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    kind: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it may run: its enqueueing, or the end of its retry delay.
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # While running: the end of the running worker's lease.
    claimed_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.state}>"
