"""Transactions the database rolled back to settle a conflict, told apart from outages.

PostgreSQL ends a transaction with SQLSTATE class 40 when it cannot let it finish beside
another one: a deadlock (40P01) or a serialization failure (40001). The database is up;
sending the same work again is the remedy. The token endpoint's statements take their
locks in one order (grant, then tokens) so that no deadlock arises between them; a
conflict with some other writer (an admin's bulk change, say) is retried here a bounded
number of times, and one still left is a 409, never the 503 of an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from oauth_server.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

#: SQLSTATEs of a transaction rolled back because of another one.
CONFLICT_STATES = frozenset({"40001", "40P01"})
ATTEMPTS = 3


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the driver reported for ``error`` (psycopg), if any."""
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and sqlstate(error) in CONFLICT_STATES


def retrying(work: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run ``work`` (one transaction, committed inside) again after a conflict, at most
    ``attempts`` times in all; the last conflict propagates (answered 409 by the app).

    The rollback undoes the whole transaction, so ``work`` starts over from nothing.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if not is_conflict(error) or attempt == attempts:
                raise
            db.session.rollback()
            log.warning(
                "transaction retried after a conflict",
                extra={"sqlstate": sqlstate(error), "attempt": attempt},
            )
    raise AssertionError("unreachable")  # pragma: no cover
