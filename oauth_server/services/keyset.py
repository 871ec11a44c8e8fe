"""Newest-first pages of a company's rows on an index (company_id, id) (and of a
conversation's messages on (conversation_id, id)).

On PostgreSQL, ``company_id = c ORDER BY id DESC LIMIT n`` may walk the primary key
backwards, expecting to meet the company's rows soon, and read most of the table when they
are the oldest (a company's 100,000 oldest of 1,000,000 tokens: 200-500 ms a page, not
0.1 ms). An equality makes company_id a constant that the planner drops from the ORDER BY;
a range (``BETWEEN c AND c``) keeps it there, and only the index (company_id, id) gives
that order. SQLite keeps the equality: it has no such trouble, and after a range on
company_id it could not seek the index to the cursor's id.

Every such list pages the same way, here: ordered on the index, newest first, below the
cursor (the id a page starts below), one row more than the page to know of a next one;
``cut`` keeps the page and gives the next page's cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import TypeVar
from typing import cast

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import bindparam

from oauth_server import ids
from oauth_server.extensions import db

Rows = TypeVar("Rows", bound=Sequence[Any])


def within(column: Any, value: Any, *, dialect: str | None = None) -> ColumnElement[bool]:
    """``column`` is ``value`` (a number or a bind parameter), written so that an index
    (column, id) serves the order, for ``dialect`` (the app's database by default)."""
    if (dialect or db.engine.dialect.name) == "postgresql":
        return column.between(value, value)  # type: ignore[no-any-return]
    return column == value  # type: ignore[no-any-return]


def in_company(model: Any, company_id: int) -> ColumnElement[bool]:
    """``within`` for a company's rows, on the index (company_id, id)."""
    return within(model.company_id, company_id)


def company_key(model: Any) -> tuple[Any, Any]:
    """The index a company's list walks, as its two columns (company_id, id): the key
    that goes with ``in_company``."""
    return model.company_id, model.id


def newest_below(
    query: Select[Any], key: tuple[Any, Any], *, limit: int, before: int | None
) -> Select[Any]:
    """``query`` newest first, ``limit`` + 1 rows below the cursor ``before`` (if any).

    ``key`` is the index the list walks, as its two columns: the one ``query`` holds to
    one value (with ``within``) and the id, the cursor. The order names both, so that
    the index gives it.
    """
    within_column, id_column = key
    query = query.order_by(within_column.desc(), id_column.desc()).limit(limit + 1)
    bound = ids.below(before)
    if bound is not None:
        query = query.where(id_column < bound)
    return query


def prepared_newest_below(query: Select[Any], key: tuple[Any, Any]) -> Select[Any]:
    """``newest_below`` for a statement built once: the page's size (its LIMIT,
    ``page_size``) and the highest id it may return (``page_last``) are left to bind,
    with the values of ``prepared_values``."""
    within_column, id_column = key
    return (
        query.where(id_column <= bindparam("page_last"))
        .order_by(within_column.desc(), id_column.desc())
        .limit(bindparam("page_size"))
    )


def prepared_values(*, limit: int, before: int | None) -> dict[str, int]:
    """The values ``prepared_newest_below`` leaves to bind, for ``limit`` rows below the
    cursor ``before`` (if any), and one more."""
    bound = ids.below(before)
    return {"page_size": limit + 1, "page_last": bound - 1 if bound is not None else ids.ID_MAX}


def cut(rows: Rows, limit: int) -> tuple[Rows, int | None]:
    """The page of ``rows`` (asked for with one more than ``limit``) and the cursor of
    the next page: the id of its last row, or None when this page is the last."""
    if len(rows) <= limit:
        return rows, None
    page = cast(Rows, rows[:limit])
    return page, page[-1].id
