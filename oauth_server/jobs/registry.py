"""What a job kind runs, and the periodic jobs: filled at import by the modules defining them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oauth_server.models.jobs import Job

Handler = Callable[["Job"], None]
# Seconds before the next try after ``attempts`` failed ones, or None: give up.
RetrySchedule = Callable[[int], "float | None"]

HANDLERS: dict[str, Handler] = {}
RETRIES: dict[str, RetrySchedule] = {}
PERIODIC: dict[str, Periodic] = {}


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[[], None]
    schedule: dict[str, str]  # huey.crontab's keywords: minute, hour, day, month, day_of_week


def handler(kind: str, *, retry: RetrySchedule | None = None) -> Callable[[Handler], Handler]:
    """Register ``func`` as what runs a job of ``kind``; ``retry``, a schedule of its own
    instead of JOB_RETRY_DELAY and JOB_RETRIES."""

    def register(func: Handler) -> Handler:
        if HANDLERS.get(kind, func) is not func:
            raise ValueError(f"job kind {kind!r} has a handler already")
        HANDLERS[kind] = func
        if retry is not None:
            RETRIES[kind] = retry
        return func

    return register


def periodic(name: str, **schedule: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Run ``func`` on a crontab schedule (UTC) in the workers, in an app context.

    Periodic runs are not recorded as jobs: a run missed while no worker was up is skipped,
    so the function should do whatever is due, not only what is new since the last run.
    """

    def register(func: Callable[[], None]) -> Callable[[], None]:
        PERIODIC[name] = Periodic(name, func, dict(schedule))
        return func

    return register
