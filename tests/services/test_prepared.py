"""Statements sent straight to the driver (oauth_server/prepared.py), the bearer lookups
and the token endpoint's, answer as SQLAlchemy's own execution would: the same row
values, the same rows written, the same error answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError

from oauth_server import prepared
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models.base import utcnow
from oauth_server.services.principals import PERSONAL_LOOKUP
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token


def test_a_row_reads_as_sqlalchemy_reads_it(app):
    company = make_company(teams_feature=True)
    _token, value = make_personal_token(company, "shared")
    digest = tokens.lookup_hash(value)

    ours = prepared.run(db.session.connection(), PERSONAL_LOOKUP, {"digest": digest}).first()
    theirs = db.session.execute(PERSONAL_LOOKUP, {"digest": digest}).one()

    assert tuple(ours) == tuple(theirs)
    assert ours._fields == tuple(theirs._fields)
    # Through the columns' types: aware datetimes and booleans, not the driver's text and 0/1.
    assert isinstance(ours.created_at, datetime) and ours.created_at.tzinfo is not None
    assert ours.teams_feature is True


def test_an_unknown_token_finds_no_row(app):
    found = prepared.run(db.session.connection(), PERSONAL_LOOKUP, {"digest": "0" * 64})
    assert found.first() is None


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
            prepared.run(db.session.connection(), PERSONAL_LOOKUP, {"digest": digest})
        db.session.rollback()
        with pytest.raises(DBAPIError) as theirs:
            db.session.execute(PERSONAL_LOOKUP, {"digest": digest})
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


COMPANIES = Company.__table__
EVERY_COLUMN = insert(COMPANIES).returning(COMPANIES.c.id, COMPANIES.c.created_at)


def company_values(name: str) -> dict[str, object]:
    return {
        "name": name,
        "plan": "scale",
        "teams_feature": True,
        "scim_invitations": False,
        "created_at": utcnow(),
    }


def test_a_write_stores_what_sqlalchemy_would_store(app):
    values = company_values("Straight")
    ours = prepared.run(db.session.connection(), EVERY_COLUMN, values)
    theirs = db.session.connection().execute(EVERY_COLUMN, company_values("Through SQLAlchemy"))
    other_id = theirs.scalar_one()
    db.session.commit()

    assert isinstance(ours, prepared.Rows)  # the driver's path, not SQLAlchemy's
    (row,) = ours.all()
    assert row.created_at == values["created_at"] and row.created_at.tzinfo is not None
    stored = db.session.get_one(Company, row.id)
    other = db.session.get_one(Company, other_id)
    assert (stored.name, stored.plan, stored.teams_feature, stored.scim_invitations) == (
        "Straight",
        "scale",
        True,
        False,
    )
    assert stored.created_at == values["created_at"]
    assert type(stored.teams_feature) is type(other.teams_feature)


def test_an_update_counts_the_rows_it_changed(app):
    company = make_company()
    statement = (
        update(COMPANIES).where(COMPANIES.c.id == bindparam("company")).values(plan=bindparam("p"))
    )
    changed = prepared.run(
        db.session.connection(), statement, {"company": company.id, "p": "growth"}
    )
    missed = prepared.run(db.session.connection(), statement, {"company": -1, "p": "growth"})
    db.session.commit()

    assert (changed.rowcount, missed.rowcount) == (1, 0)
    assert changed.first() is None  # no RETURNING, no rows
    assert db.session.get_one(Company, company.id).plan == "growth"


def test_a_value_written_in_the_statement_is_bound_too(app):
    scale = make_company(plan="scale")
    make_company(plan="starter")
    statement = select(COMPANIES.c.id).where(COMPANIES.c.plan == "scale")

    rows = prepared.run(db.session.connection(), statement, {})

    assert isinstance(rows, prepared.Rows)
    assert [row.id for row in rows] == [scale.id]


def test_statements_that_need_sqlalchemy_run_through_it(app):
    """Column defaults computed in Python (an INSERT naming only some columns) and a list
    expanded into IN take SQLAlchemy's execution, with its results."""
    connection = db.session.connection()
    defaults = prepared.run(
        connection, insert(COMPANIES).returning(COMPANIES.c.id), {"name": "Defaults"}
    )
    assert not isinstance(defaults, prepared.Rows)
    company = db.session.get_one(Company, defaults.scalar_one())
    assert company.plan == "starter" and company.created_at is not None

    listed = prepared.run(
        connection,
        select(COMPANIES.c.name).where(COMPANIES.c.id.in_(bindparam("ids", expanding=True))),
        {"ids": [company.id, -1]},
    )
    assert not isinstance(listed, prepared.Rows)
    assert listed.scalars().all() == ["Defaults"]


def test_a_refused_write_is_the_error_sqlalchemy_would_raise(app):
    make_company("Taken")
    with pytest.raises(IntegrityError) as ours:
        prepared.run(db.session.connection(), EVERY_COLUMN, company_values("Taken"))
    db.session.rollback()
    with pytest.raises(IntegrityError) as theirs:
        db.session.connection().execute(EVERY_COLUMN, company_values("Taken"))
    db.session.rollback()

    assert type(ours.value.orig) is type(theirs.value.orig)
    assert db.session.scalar(select(COMPANIES.c.name).where(COMPANIES.c.name == "Taken"))
