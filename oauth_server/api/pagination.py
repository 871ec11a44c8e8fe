"""``?limit=`` keyset paging and the ``_results``/``_pagination`` envelope."""

from __future__ import annotations

from typing import Any

from flask import request
from flask import url_for
from sqlalchemy import Select

from oauth_server.api import errors
from oauth_server.extensions import db

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def _int_arg(name: str, low: int, high: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise errors.validation({name: "must be a whole number"})
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise errors.validation({name: f"must be {bound}"})
    return value


def page(
    query: Select[Any], id_column: Any, serialize: Any, **endpoint_args: Any
) -> dict[str, Any]:
    """Run ``query`` newest first, ``limit`` rows after the ``page_token`` cursor."""
    limit = _int_arg("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = _int_arg("page_token", 1, None)
    query = query.order_by(id_column.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(id_column < cursor)
    rows = list(db.session.scalars(query))
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_url = url_for(
            request.endpoint or "",
            _external=True,
            limit=limit,
            page_token=rows[-1].id,
            **endpoint_args,
        )
    return {"_results": [serialize(row) for row in rows], "_pagination": {"next": next_url}}
