"""/healthz answers without the database, /readyz asks it; a database that cannot be
reached is a 503 in each surface's format, never a 500 with a trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from oauth_server import create_app
from oauth_server import tokens
from oauth_server.extensions import db
from tests.conftest import TEST_CONFIG

UNREACHABLE = {
    # A folder that does not exist: SQLite cannot open the file.
    "sqlite": "sqlite:////nonexistent-folder/oauth_server.db",
    # A closed port: the connection is refused at once.
    "postgresql": "postgresql://postgres@127.0.0.1:1/oauth_server",
}


@pytest.fixture(params=sorted(UNREACHABLE))
def broken(request: pytest.FixtureRequest, app: Flask) -> Iterator[FlaskClient]:
    """A client of an app whose DATABASE_URL names a database that cannot be reached."""
    broken_app = create_app(
        {
            **TEST_CONFIG,
            "TESTING": False,  # errors are answered as in production, not raised
            "SQLALCHEMY_DATABASE_URI": UNREACHABLE[request.param],
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    yield broken_app.test_client()
    with broken_app.app_context():
        db.engine.dispose()


def test_healthz_does_not_touch_the_database(broken: FlaskClient) -> None:
    response = broken.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_answers_503_when_the_database_cannot_be_reached(broken: FlaskClient) -> None:
    response = broken.get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "Traceback" not in response.get_data(as_text=True)


def test_readyz_answers_200_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_routes_are_not_rate_limited(client: FlaskClient, app: Flask) -> None:
    app.config["RATELIMIT_API"] = "1 per minute"
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_the_api_answers_a_json_503(broken: FlaskClient) -> None:
    # A well-formed token string: the checksum passes, so the lookup reaches the database.
    token = tokens.generate(tokens.Kind.PERSONAL)
    response = broken.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.get_json()["_error"]["status"] == 503
    # A second, not the rate-limit window Flask-Limiter puts on every limited answer.
    assert response.headers["Retry-After"] == "1"


def test_the_token_endpoint_answers_an_oauth_json_503(broken: FlaskClient) -> None:
    response = broken.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": "Basic d3NwX2FwcF94OnNlY3JldA=="},
    )

    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Retry-After"] == "1"


def test_pages_answer_an_html_503(broken: FlaskClient) -> None:
    response = broken.get("/oauth/authorize?response_type=code&client_id=wsp_app_x")

    assert response.status_code == 503
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "The database is unavailable" in html
    assert "Traceback" not in html


def test_a_bug_in_a_query_is_still_a_500(tmp_path: Path) -> None:
    """Only connection-level errors are an outage: an IntegrityError is a bug, a 500."""
    other = create_app(
        {
            **TEST_CONFIG,
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )

    @other.get("/boom")
    def boom() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    assert other.test_client().get("/boom").status_code == 500


@pytest.mark.postgres
def test_a_connection_dropped_after_the_answer_is_not_a_500(database_url: str) -> None:
    """The database restarts between a request's work and its closing ROLLBACK (seen in
    tests/production/test_postgres_restart.py): the answer made stands."""
    other = create_app(
        {
            **TEST_CONFIG,
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )

    @other.get("/work-then-lose-the-connection")
    def work() -> dict[str, int]:
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as admin:  # another connection ends this one's backend
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"pid": pid}

    response = other.test_client().get("/work-then-lose-the-connection")

    assert response.status_code == 200
    with other.app_context():
        db.engine.dispose()
