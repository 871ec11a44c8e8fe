"""On PostgreSQL, API reads and access-token revocations run in autocommit mode (no BEGIN
and ROLLBACK round trips), whether a statement goes through the ORM session or through
the bearer lookup's own connection; every other request keeps its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from oauth_server.extensions import db
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_team

pytestmark = pytest.mark.postgres


@contextmanager
def autocommit_of_each_statement() -> Iterator[list[tuple[str, bool]]]:
    """(verb, whether the driver's connection was in autocommit) of each statement sent."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(
            (statement.split(None, 1)[0].upper(), conn.connection.dbapi_connection.autocommit)
        )

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_an_api_read_runs_every_statement_without_a_transaction(app, client):
    app.config["LAST_USED_RESOLUTION"] = 0  # the "last used" UPDATE is sent too
    company = make_company()
    _token, value = make_personal_token(company, "shared")
    db.session.commit()
    db.session.remove()

    with autocommit_of_each_statement() as seen:
        assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
        listed = client.get("/api/v1/conversations?limit=50", headers=bearer(value))
        assert listed.status_code == 200
    verbs = [verb for verb, _ in seen]
    # The lookup and the stamp of each call, and the list's own query.
    assert verbs.count("SELECT") == 3 and verbs.count("UPDATE") == 2, seen
    assert all(autocommit for _, autocommit in seen), seen


def test_an_api_write_keeps_its_transaction(app, client):
    company = make_company()
    team_id = make_team(company).id
    _token, value = make_personal_token(company, "shared")
    db.session.commit()
    db.session.remove()

    with autocommit_of_each_statement() as seen:
        answer = client.post(
            "/api/v1/conversations",
            json={"subject": "Hello", "team_id": team_id},
            headers=bearer(value),
        )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    writes = [autocommit for verb, autocommit in seen if verb == "INSERT"]
    assert writes and not any(writes), seen
