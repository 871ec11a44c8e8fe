"""A transaction PostgreSQL rolls back to settle a conflict (a deadlock, a serialization
failure) is sent again, a bounded number of times; one still left is a 409, not the 503
of an outage, and nothing of the request was kept.

The conflict is PostgreSQL's own error: the claim of the refresh token is preceded, on the
same connection, by a statement that fails with SQLSTATE 40P01, as a deadlock would end it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from oauth_server.extensions import db
from oauth_server.models import OAuthToken
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import rows

pytestmark = pytest.mark.postgres

DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$"


@contextmanager
def deadlocks(times: int) -> Iterator[list[int]]:
    """The next ``times`` refresh-token claims end in a deadlock; yields the count so far."""
    seen = [0]

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE oauth_tokens SET refresh_used_at") and seen[0] < times:
            seen[0] += 1
            cursor.execute(DEADLOCK)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_a_refresh_that_meets_a_deadlock_is_sent_again_and_succeeds(
    client, partner, workspace, caplog
):
    first = issue(client, partner, workspace.admin.email)

    with caplog.at_level(logging.WARNING), deadlocks(times=2) as seen:
        answer = refresh(client, partner, first["refresh_token"])

    assert seen[0] == 2
    assert answer.status_code == 200, answer.get_json()
    assert me_status(client, answer.get_json()["access_token"]) == 200
    retried = [
        r for r in caplog.records if r.getMessage() == "transaction retried after a conflict"
    ]
    assert [r.sqlstate for r in retried] == ["40P01", "40P01"]
    assert not [r for r in caplog.records if r.getMessage() == "database unavailable"]


def test_a_conflict_that_outlasts_the_retries_is_a_409_and_spends_nothing(
    client, partner, workspace, caplog
):
    first = issue(client, partner, workspace.admin.email)

    with caplog.at_level(logging.WARNING), deadlocks(times=3):
        answer = refresh(client, partner, first["refresh_token"])

    body = oauth_error(answer, "temporarily_unavailable", status=409)
    assert "conflicted" in body["error_description"]
    assert answer.headers["Retry-After"] == "1"
    assert [r for r in caplog.records if r.getMessage() == "database conflict"]
    assert not [r for r in caplog.records if r.getMessage() == "database unavailable"]
    # Rolled back whole: the refresh token is unspent, and the client's retry works.
    [pair] = rows(OAuthToken)
    assert pair.refresh_used_at is None and pair.revoked_at is None
    again = refresh(client, partner, first["refresh_token"])
    assert again.status_code == 200, again.get_json()
