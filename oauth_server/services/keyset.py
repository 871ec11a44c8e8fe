"""Newest-first pages of a company's rows on an index (company_id, id).

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


def in_company(model: Any, company_id: int) -> ColumnElement[bool]:
    """``model.company_id`` is ``company_id``, written so that the index serves the order."""
    column = model.company_id
    if db.engine.dialect.name == "postgresql":
        return column.between(company_id, company_id)  # type: ignore[no-any-return]
    return column == company_id  # type: ignore[no-any-return]


def newest_first(model: Any) -> tuple[Any, Any]:
    """The ORDER BY that goes with ``in_company``."""
    return model.company_id.desc(), model.id.desc()
