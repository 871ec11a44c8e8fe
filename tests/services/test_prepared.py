"""The bearer lookups sent straight to the driver (oauth_server/prepared.py) answer as
SQLAlchemy's own execution would: the same row values, the same error answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.services.principals import PERSONAL_LOOKUP
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token


def test_a_row_reads_as_sqlalchemy_reads_it(app):
    company = make_company(teams_feature=True)
    _token, value = make_personal_token(company, "shared")
    digest = tokens.lookup_hash(value)

    ours = PERSONAL_LOOKUP.first(db.session.connection(), digest=digest)
    theirs = db.session.execute(PERSONAL_LOOKUP.statement, {"digest": digest}).one()

    assert tuple(ours) == tuple(theirs)
    assert ours._fields == tuple(theirs._fields)
    # Through the columns' types: aware datetimes and booleans, not the driver's text and 0/1.
    assert isinstance(ours.created_at, datetime) and ours.created_at.tzinfo is not None
    assert ours.teams_feature is True


def test_an_unknown_token_finds_no_row(app):
    assert PERSONAL_LOOKUP.first(db.session.connection(), digest="0" * 64) is None


@contextmanager
def lookup_failing() -> Iterator[None]:
    """The lookup's statement fails in the driver, as on a database that lost a table."""
    db.session.execute(text("ALTER TABLE security_policies RENAME TO security_policies_gone"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE security_policies_gone RENAME TO security_policies"))
        db.session.commit()


def test_a_driver_error_is_the_error_sqlalchemy_would_raise(app):
    digest = tokens.lookup_hash(make_personal_token(make_company(), "shared")[1])
    with lookup_failing():
        with pytest.raises(DBAPIError) as ours:
            PERSONAL_LOOKUP.first(db.session.connection(), digest=digest)
        db.session.rollback()
        with pytest.raises(DBAPIError) as theirs:
            db.session.execute(PERSONAL_LOOKUP.statement, {"digest": digest})
        db.session.rollback()
    assert type(ours.value) is type(theirs.value)
    assert type(ours.value.orig) is type(theirs.value.orig)
    assert digest not in str(ours.value)  # parameters stay out of messages, and logs


@pytest.mark.sqlite
def test_a_database_error_on_the_bearer_lookup_is_a_503_in_the_api_format(app, client):
    """SQLite's error for the missing table is an OperationalError, the class of a database
    that went away; PostgreSQL's real outages are tests/production/test_postgres_restart.py."""
    _token, value = make_personal_token(make_company(), "shared")
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    with lookup_failing():
        response = client.get("/api/v1/me", headers=bearer(value))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["_error"]["status"] == 503
    answer = response.get_data(as_text=True)
    assert "Traceback" not in answer and value not in answer
    # The server serves again once the database does.
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
