"""Committing a change that a concurrent writer may have made impossible."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from oauth_server.errors import Conflict
from oauth_server.extensions import db


def commit_or_conflict(conflict: Conflict | Callable[[], Conflict]) -> None:
    """Commit; a unique constraint lost to a concurrent writer is the same ``Conflict`` that
    the checks before would have raised (``conflict``, or what it returns once asked after
    the rollback)."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise (conflict if isinstance(conflict, Conflict) else conflict()) from exc
