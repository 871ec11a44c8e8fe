"""SQL statements per request, counted in this process with Flask's test client.

The app is the one the server runs, built with the server's settings on the same
database; a SQLAlchemy event listener records every statement a request sends. It tells
how far a route is from the issue's "one indexed query per request".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

_SPACE = re.compile(r"\s+")


@dataclass
class Statements:
    route: str
    status: int
    sql: list[str]

    def lines(self, width: int = 110) -> list[str]:
        out = [f"{self.route}: {len(self.sql)} SQL statements (status {self.status})"]
        for i, statement in enumerate(self.sql, 1):
            out.append(f"    {i:2}. {_shorten(statement, width)}")
        return out


def _shorten(statement: str, width: int) -> str:
    text = _SPACE.sub(" ", statement).strip()
    # SELECT a.x, a.y, ... FROM: the column list tells nothing here.
    text = re.sub(r"^SELECT (.{40}).*? FROM ", r"SELECT \1... FROM ", text)
    return text if len(text) <= width else text[: width - 3] + "..."


def count(app: Any, route: str, send: Callable[[Any], Any]) -> Statements:
    """Run ``send(client)`` once and return the statements it caused."""
    from oauth_server.extensions import db

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        # A fresh app context: its own ``g`` and database session, as in a worker.
        with app.app_context():
            response = send(app.test_client())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return Statements(route, response.status_code, seen)
