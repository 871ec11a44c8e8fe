"""Pooled PostgreSQL connections are checked when a request takes one
(oauth_server/connections.py): a connection the server ended is replaced before use,
without a round trip spent on connections that were in use a moment before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import text

from oauth_server import connections
from oauth_server.extensions import db
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token

pytestmark = pytest.mark.postgres


@pytest.fixture
def token(app: Flask) -> str:
    _row, value = make_personal_token(make_company())
    db.session.remove()  # the test's own session gives its connection back to the pool
    return value


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The pings sent on checkout; the real ping still runs."""
    sent: list[Any] = []
    dialect = db.engine.dialect
    real = dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting)
    yield sent


def end_every_session_of_the_app(database_url: str) -> None:
    """What a server restart does to the app's pooled connections, done by an operator."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(f"SELECT count(pg_terminate_backend(pid)) {others}")
            ).scalar_one()
            assert ended >= 1, "the app had no pooled connection to end"
            deadline = time.monotonic() + 10
            while conn.execute(text(f"SELECT count(*) {others}")).scalar_one():
                assert time.monotonic() < deadline, "the ended sessions did not go away"
                time.sleep(0.02)
    finally:
        admin.dispose()


def test_pooled_connections_the_server_ended_are_replaced_before_a_request_uses_them(
    client: FlaskClient, token: str, database_url: str, pings: list[Any]
) -> None:
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    end_every_session_of_the_app(database_url)

    # No request fails: the first one already runs on a new connection.
    answers = [client.get("/api/v1/me", headers=bearer(token)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5, answers[0].get_data(as_text=True)
    # The ended connections were told apart by their sockets, without a ping.
    assert pings == []


def test_a_connection_in_use_a_moment_before_is_not_pinged(
    client: FlaskClient, token: str, pings: list[Any]
) -> None:
    for _ in range(5):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    assert pings == []


def test_a_connection_idle_for_longer_than_a_second_is_pinged_first(
    client: FlaskClient, token: str, pings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    monkeypatch.setattr(connections, "PING_AFTER", -1.0)  # every pooled connection is "idle"

    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    assert len(pings) >= 3  # one per request, or more when a request takes two connections


def test_a_connection_that_fails_its_ping_is_replaced(
    client: FlaskClient, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer gone without closing (its socket says nothing) fails the ping: the request
    runs on a new connection instead."""
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    monkeypatch.setattr(connections, "PING_AFTER", -1.0)
    dialect = db.engine.dialect
    failed: list[Any] = []

    def unanswered(dbapi_connection: Any) -> bool:
        failed.append(dbapi_connection)
        raise dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(dialect, "do_ping", unanswered)

    response = client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert failed, "no ping was sent"
    assert all(c.closed for c in failed), "a connection that failed its ping stayed open"


def test_datetimes_are_read_in_utc_whatever_the_servers_time_zone(
    app: Flask, database_url: str
) -> None:
    """Every connection sets its session to UTC, so psycopg's datetimes are already what
    models.base.UTCDateTime promises, even where the server's own default differs."""
    from datetime import UTC
    from datetime import datetime

    from oauth_server import create_app
    from oauth_server.models import Company
    from tests.conftest import TEST_CONFIG

    created = datetime(2026, 7, 1, 12, 30, 15, 250, tzinfo=UTC)
    company = make_company()
    company.created_at = created
    db.session.commit()
    company_id = company.id
    db.session.remove()
    elsewhere = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c TimeZone=Asia/Tokyo"}},
        }
    )
    with elsewhere.app_context():
        try:
            conn = db.session.connection()
            assert conn.exec_driver_sql("SHOW TimeZone").scalar_one() == "UTC"
            read = db.session.get(Company, company_id)
            assert read is not None
            assert read.created_at == created
            assert read.created_at.tzinfo is UTC
            # Core rows too, as the lists read them.
            row = conn.execute(Company.__table__.select().where(Company.id == company_id)).one()
            assert row.created_at.tzinfo is UTC
        finally:
            db.session.remove()
            db.engine.dispose()
