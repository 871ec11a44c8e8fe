"""``?limit=`` keyset paging and the ``_results``/``_pagination`` envelope."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import cast

from flask import Response
from flask import current_app
from flask import request
from sqlalchemy import Select

from oauth_server import ids
from oauth_server.api import errors
from oauth_server.api.schemas import RowDumper
from oauth_server.extensions import db
from oauth_server.services import keyset
from oauth_server.urls import external_url

# A list's rows are written by a RowDumper (plain rows, the whole page at once) or one by
# one by a function of an ORM object.
Serializer = RowDumper | Callable[[Any], dict[str, Any]]

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def _int_arg(name: str, low: int, high: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    value = ids.whole_number(raw)
    if value is None:
        raise errors.validation({name: "must be a whole number"})
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise errors.validation({name: f"must be {bound}"})
    return value


def requested_limit() -> int:
    """The request's ``limit``: 1 to MAX_LIMIT, DEFAULT_LIMIT when not sent."""
    return _int_arg("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT


def envelope(
    items: list[dict[str, Any]], cursor: int | str | None, *, limit: int, **endpoint_args: Any
) -> Response:
    """``items`` and the link to the next page when there is a ``cursor`` (a row id, or
    the token inventory's ``pt_12``); an endpoint argument of None is left out."""
    next_url = _next_url(cursor, limit, endpoint_args)
    data = {"_results": items, "_pagination": {"next": next_url}}
    return cast(Response, current_app.json.response(data))


def _next_url(cursor: int | str | None, limit: int, endpoint_args: dict[str, Any]) -> str | None:
    if cursor is None:
        return None
    # The URL map leaves out the arguments that are None.
    return external_url(request.endpoint or "", limit=limit, page_token=cursor, **endpoint_args)


def _window() -> tuple[int, int | None]:
    """The request's ``limit`` and ``page_token`` (the id the page starts below)."""
    return requested_limit(), _int_arg("page_token", 1, None)


def _envelope(
    rows: Sequence[Any], limit: int, serialize: Serializer, endpoint_args: dict[str, Any]
) -> Response:
    """``limit`` of ``rows`` (one more was asked for, to know of a next page) and the
    link to that next page."""
    rows, cursor = keyset.cut(rows, limit)
    if isinstance(serialize, RowDumper):
        return current_app.response_class(
            serialize.page(rows, _next_url(cursor, limit, endpoint_args)),
            mimetype=current_app.json.mimetype,  # type: ignore[attr-defined]
        )
    return envelope([serialize(row) for row in rows], cursor, limit=limit, **endpoint_args)


def page(
    query: Select[Any], key: tuple[Any, Any], serialize: Serializer, **endpoint_args: Any
) -> Response:
    """Run ``query`` newest first, ``limit`` rows after the ``page_token`` cursor.

    ``key`` is the index the list walks, as its two columns: the one ``query`` holds to
    one value (the company's; the conversation's, for messages) and the id, the cursor.
    The order names both, so that the index gives it (services/keyset.py): on PostgreSQL
    the query's condition on the first column must be a range (``keyset.in_company``),
    which keeps that column in the order.
    """
    limit, cursor = _window()
    query = keyset.newest_below(query, key, limit=limit, before=cursor)
    return _envelope(list(db.session.scalars(query)), limit, serialize, endpoint_args)


def prepared_page(
    statement: Select[Any], params: dict[str, Any], serialize: RowDumper, **endpoint_args: Any
) -> Response:
    """``page`` for a statement built once (``keyset.prepared_newest_below``), already in
    order, that leaves the page's own values to bind (``keyset.prepared_values``)."""
    limit, cursor = _window()
    values = keyset.prepared_values(limit=limit, before=cursor)
    # all(): the driver's fetchall, where iterating the result asks it for each row.
    rows = db.session.execute(statement, {**params, **values})
    return _envelope(rows.all(), limit, serialize, endpoint_args)
