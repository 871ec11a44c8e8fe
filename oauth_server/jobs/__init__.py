"""Background jobs: work that must not run in a request, run by ``oauth-server worker``.

For a caller::

    from oauth_server import jobs

    @jobs.handler("reminders.send")          # in a module create_app imports
    def send_reminder(job: Job) -> None:     # job.id, job.args, job.attempts
        ...

    jobs.enqueue("reminders.send", teammate_id=7)   # then commit: it is queued on commit

    @jobs.periodic("purge", minute="0", hour="3")   # Huey's crontab, UTC
    def purge() -> None: ...

``enqueue`` adds a row to the caller's transaction; the job reaches the queue when that
transaction commits and never if it rolls back. Enqueueing needs no worker and does not
wait for one. A handler runs in an app context of the worker's app, once per job (see
``runner``): it raises to fail, and is retried with growing delays, then marked failed
(at once for a ``DomainError``); ``@jobs.handler("kind", retry=schedule)`` gives a kind
its own schedule. ``enqueue_many`` adds many jobs of a kind in one INSERT. A handler
that writes to the database need not commit: its writes are committed with the job's
``done``, in one transaction.
"""

from __future__ import annotations

from oauth_server.jobs.registry import handler
from oauth_server.jobs.registry import periodic
from oauth_server.jobs.runner import enqueue
from oauth_server.jobs.runner import enqueue_many
from oauth_server.jobs.runner import failed_jobs
from oauth_server.jobs.runner import run_pending

__all__ = ["enqueue", "enqueue_many", "failed_jobs", "handler", "periodic", "run_pending"]
