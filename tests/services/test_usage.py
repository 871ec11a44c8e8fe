"""Authenticating a token is one query, and "last used" is not a write per call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from tests.conftest import bearer
from tests.conftest import sql_sent
from tests.factories import make_company
from tests.factories import make_personal_token


@contextmanager
def statements() -> Iterator[list[str]]:
    """The verbs of the statements sent inside the block: SELECT, UPDATE..."""
    verbs: list[str] = []
    with sql_sent() as sent:
        yield verbs
    verbs.extend(statement.split(None, 1)[0].upper() for statement, _ in sent)


def test_a_second_call_within_the_resolution_writes_nothing(app, client):
    app.config["LAST_USED_RESOLUTION"] = 60
    company = make_company()
    token, value = make_personal_token(company, "shared")
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    first = db.session.get(PersonalToken, token.id)
    db.session.refresh(first)
    assert first.last_used_at is not None
    stamp = first.last_used_at

    with statements() as seen:
        assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    assert "UPDATE" not in seen
    # Token, company and creator come back together: one SELECT authenticates the call.
    assert seen.count("SELECT") == 1, seen
    db.session.refresh(first)
    assert first.last_used_at == stamp


def test_the_stamp_moves_once_the_resolution_has_passed(app, client):
    app.config["LAST_USED_RESOLUTION"] = 0
    company = make_company()
    token, value = make_personal_token(company, "shared")
    client.get("/api/v1/me", headers=bearer(value))
    row = db.session.get(PersonalToken, token.id)
    db.session.refresh(row)
    stamp = row.last_used_at
    with statements() as seen:
        client.get("/api/v1/me", headers=bearer(value))
    assert "UPDATE" in seen
    db.session.refresh(row)
    assert row.last_used_at > stamp
