"""``oauth-server worker``: the Huey consumer, and a thread that sweeps for lost jobs."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from oauth_server.jobs import queue
from oauth_server.jobs import runner

log = logging.getLogger("oauth_server.jobs")


def run(app: Flask, *, workers: int = 2) -> None:
    """Run jobs until SIGTERM or SIGINT.

    SIGTERM (``docker stop``, ``make run`` ending) lets running jobs finish for up to
    ``shutdown_timeout`` seconds; SIGINT stops at once. Either way nothing queued is lost:
    a job cut short is still ``running`` in its row, and the sweep queues it again once its
    lease is over.
    """
    q = queue.queue(app)
    consumer = q.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=True,
        initial_delay=0.1,
        max_delay=1.0,  # an idle SQLite queue is looked at every second at most
        graceful_signal="TERM",
        shutdown_timeout=20,
        check_worker_health=True,
    )
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep, args=(app, stop), name="sweeper", daemon=True)
    log.info("worker started", extra={"queue": queue.describe(app), "workers": workers})
    sweeper.start()
    try:
        consumer.run()
    finally:
        stop.set()
        sweeper.join(5)
    log.info("worker stopped")


def _sweep(app: Flask, stop: threading.Event) -> None:
    interval = float(app.config["JOB_SWEEP_SECONDS"])
    while not stop.is_set():
        try:
            with app.app_context():
                runner.sweep()
        except Exception:
            log.exception("job sweep failed")
        stop.wait(interval)
