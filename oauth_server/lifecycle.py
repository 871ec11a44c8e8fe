"""The scheduled lifecycle jobs: what keeps tokens, grants and the security log within
their company's rules and their retention, run by the workers on a schedule and all at
once by ``oauth-server lifecycle run`` (operators, tests).

A lifecycle job is a function of the current time that does whatever is due then (not only
what is new since its last run: a run missed while no worker was up is simply caught up by
the next) and returns what it did as a small JSON-able dict. Register one with ``job``::

    @lifecycle.job("security_log.retention", minute="30", hour="3")
    def _retention(now: datetime) -> dict[str, int]:
        return {"deleted": security_log.delete_expired(now)}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from oauth_server import jobs
from oauth_server.models.base import utcnow

log = logging.getLogger("oauth_server.lifecycle")

LifecycleJob = Callable[[datetime], dict[str, Any]]

#: Every lifecycle job by name, in the order ``run_all`` runs them.
JOBS: dict[str, LifecycleJob] = {}


def job(name: str, **schedule: str) -> Callable[[LifecycleJob], LifecycleJob]:
    """Register ``func`` as the lifecycle job ``name``, run by the workers on ``schedule``
    (Huey's crontab keywords, UTC) and by ``run_all``."""

    def register(func: LifecycleJob) -> LifecycleJob:
        if JOBS.get(name, func) is not func:
            raise ValueError(f"lifecycle job {name!r} is registered already")
        JOBS[name] = func

        @jobs.periodic(f"lifecycle.{name}", **schedule)
        def scheduled() -> None:
            _run(name, func, utcnow())

        return func

    return register


def run_all(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Every lifecycle job once, now, in registration order; what each did."""
    moment = now or utcnow()
    return {name: _run(name, func, moment) for name, func in JOBS.items()}


def _run(name: str, func: LifecycleJob, now: datetime) -> dict[str, Any]:
    done = func(now)
    log.info(
        "lifecycle job done", extra={"job": name, **{f"result_{k}": v for k, v in done.items()}}
    )
    return done


@job("security_log.retention", minute="30", hour="3")
def _security_log_retention(now: datetime) -> dict[str, Any]:
    """Security log rows past ``SECURITY_LOG_RETENTION_DAYS``, in bounded batches."""
    from oauth_server.services import security_log

    return {"deleted": security_log.delete_expired(now)}


@job("personal_tokens.expired_by_policy", minute="10")
def _personal_tokens_expired_by_policy(now: datetime) -> dict[str, Any]:
    """``personal_token.expired`` once per token found past its company's maximum."""
    from oauth_server.services import token_policy

    return {"stamped": token_policy.stamp_expired(now)}


@job("personal_tokens.reminders", minute="20")
def _personal_tokens_reminders(now: datetime) -> dict[str, Any]:
    """E-mails 7 days and 1 day before a personal token expires."""
    from oauth_server.services import token_policy

    return {"reminded": token_policy.send_reminders(now)}


@job("personal_tokens.revoke_unused", minute="40")
def _personal_tokens_revoke_unused(now: datetime) -> dict[str, Any]:
    """ "Revoke tokens unused for N days", company by company."""
    from oauth_server.services import token_policy

    return {"revoked": token_policy.revoke_unused(now)}


@job("purge", minute="45", hour="3")
def _purge(now: datetime) -> dict[str, Any]:
    """Codes, pairs, grants and personal tokens ended past ``PURGE_RETENTION_DAYS``."""
    from oauth_server.services import purge

    return purge.purge(now)
