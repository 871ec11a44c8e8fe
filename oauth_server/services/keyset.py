"""Newest-first pages of a company's rows on an index (company_id, id) (and of a
conversation's messages on (conversation_id, id)).

On PostgreSQL, ``company_id = c ORDER BY id DESC LIMIT n`` may walk the primary key
backwards, expecting to meet the company's rows soon, and read most of the table when they
are the oldest (a company's 100,000 oldest of 1,000,000 tokens: 200-500 ms a page, not
0.1 ms). An equality makes company_id a constant that the planner drops from the ORDER BY;
a range (``BETWEEN c AND c``) keeps it there, and only the index (company_id, id) gives
that order. SQLite keeps the equality: it has no such trouble, and after a range on
company_id it could not seek the index to the cursor's id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from oauth_server.extensions import db


def within(column: Any, value: Any, *, dialect: str | None = None) -> ColumnElement[bool]:
    """``column`` is ``value`` (a number or a bind parameter), written so that an index
    (column, id) serves the order, for ``dialect`` (the app's database by default)."""
    if (dialect or db.engine.dialect.name) == "postgresql":
        return column.between(value, value)  # type: ignore[no-any-return]
    return column == value  # type: ignore[no-any-return]


def in_company(model: Any, company_id: int) -> ColumnElement[bool]:
    """``within`` for a company's rows, on the index (company_id, id)."""
    return within(model.company_id, company_id)


def newest_first(model: Any) -> tuple[Any, Any]:
    """The ORDER BY that goes with ``in_company``."""
    return model.company_id.desc(), model.id.desc()
