"""SCIM's list pages: offset and count (RFC 7644 §3.4.2.4), with the total of matches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select

from oauth_server.extensions import db


def page(
    query: Select[Any], condition: ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of ``query`` under ``condition`` and the total number of matches."""
    if condition is not None:
        query = query.where(condition)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(db.session.scalars(query.offset(offset).limit(limit))) if limit else []
    return rows, int(total or 0)


def every_row(query: Select[Any]) -> list[Any]:
    """Every row of ``query``: for a filter only Python can evaluate."""
    return list(db.session.scalars(query))
