""" "Last used" stamps of tokens and grants, written at most once per resolution."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import update

from oauth_server.extensions import db


def unused_before(rows: Any, before: Any) -> ColumnElement[bool]:
    """Not used since ``before``: last used before it, or never used and made before it.
    ``rows``: a model or a table's columns with ``last_used_at`` and ``created_at``."""
    unused: ColumnElement[bool] = func.coalesce(rows.last_used_at, rows.created_at) < before
    return unused


def record_use(model: Any, row_id: int, last_used_at: datetime | None, now: datetime) -> None:
    """Stamp the ``last_used_at`` of row ``row_id`` of ``model`` (read as ``last_used_at``)
    unless it is younger than LAST_USED_RESOLUTION seconds.

    Most API calls find a recent stamp and write nothing; the conditional UPDATE keeps
    concurrent requests from writing the same stamp twice.
    """
    resolution = timedelta(seconds=current_app.config["LAST_USED_RESOLUTION"])
    if last_used_at is not None and now - last_used_at < resolution:
        return
    db.session.execute(
        update(model)
        .where(
            model.id == row_id,
            or_(model.last_used_at.is_(None), model.last_used_at < now - resolution),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
