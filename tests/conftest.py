"""Base fixtures: one app and schema per test session, emptied after every test.

The database is SQLite in a temporary folder unless ``TEST_DATABASE_URL`` names a
PostgreSQL server; then a database of its own is created for this run and dropped after.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from oauth_server import clock as server_clock
from oauth_server import create_app
from oauth_server.config import normalize_database_url
from oauth_server.extensions import db
from oauth_server.extensions import limiter
from tests.factories import CompanyUnderTest
from tests.factories import make_company_under_test
from tests.isolation import IsolatedClient
from tests.isolation import isolated_client
from tests.mailbox import SmtpServer


def postgres_database_url(server_url: str) -> Iterator[str]:
    url = make_url(normalize_database_url(server_url))
    name = f"oauth_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` belong to the PostgreSQL pass and tests marked ``sqlite`` to
    the SQLite pass (``make test`` runs both under CI): each pass leaves the other's out
    instead of reporting skips."""
    other = "sqlite" if os.environ.get("TEST_DATABASE_URL") else "postgres"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    left_out = [item for item in items if item.get_closest_marker(other) is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        yield from postgres_database_url(server)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("instance"))


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    # argon2-cffi's cheapest parameters, fast in tests; its defaults in production.
    "PASSWORD_ARGON2": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
    "OAUTH_ISSUER": "http://localhost",
    "RATELIMIT_LOGIN": "1000 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "1000 per minute",
    "RATELIMIT_API": "10000 per minute",
}


@pytest.fixture(scope="session")
def app(database_url: str, instance_path: str) -> Iterator[Flask]:
    os.environ["OAUTH_SERVER_INSTANCE"] = instance_path
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(app: Flask) -> Iterator[None]:
    """Each test starts with empty tables, fresh rate limits and the test config."""
    saved = dict(app.config)
    ctx = app.app_context()
    ctx.push()
    try:
        yield
    finally:
        db.session.rollback()
        db.session.remove()
        _empty_tables()
        limiter.reset()
        app.config.clear()
        app.config.update(saved)
        ctx.pop()


def _empty_tables() -> None:
    # DELETE, children first: on these few rows it is some 30x faster than TRUNCATE on
    # PostgreSQL (which pays for locks and new files whatever the size).
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def company_under_test() -> CompanyUnderTest:
    """Acme (Scale plan, Teams) with an admin, Alice and Bob, a Support team with Alice,
    and Othercorp beside it. An area overrides it by name, with keywords of its own."""
    return make_company_under_test()


class Clock:
    """The server's clock (``oauth_server.clock.now``) as a test sets it: real time until
    moved, then real time plus the offset, or a fixed instant once ``set``."""

    def __init__(self) -> None:
        self._real = server_clock.now
        self._fixed: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return (self._fixed or self._real()) + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime) -> None:
        self._fixed, self._offset = moment, timedelta(0)

    def reset(self) -> None:
        """Back to real time."""
        self._fixed, self._offset = None, timedelta(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Moves time for every part of the server at once."""
    moved = Clock()
    monkeypatch.setattr(server_clock, "now", moved.now)
    return moved


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Each request in an app context and database session of its own, as in production."""
    return isolated_client(app)


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Open ``page`` like a browser, then submit a form of it to ``action`` with its CSRF token."""
    html = client.get(page).get_data(as_text=True)
    return client.post(action, data={**data, "csrf_token": csrf_from(html)})


def login(client: FlaskClient, email: str, password: str = "wombat-42-pass") -> Any:
    response = post_form(client, "/login", "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def signed_in_as(app: Flask, email: str) -> IsolatedClient:
    """A new client signed in as the teammate with ``email``."""
    client = isolated_client(app)
    login(client, email)
    return client


@pytest.fixture
def signed_in(app: Flask) -> Callable[[Any], IsolatedClient]:
    """A new client signed in as ``teammate``."""
    return lambda teammate: signed_in_as(app, teammate.email)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@contextmanager
def sql_sent() -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements, with their parameters, sent to the database inside the block."""
    sent: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback; ``smtp_server.mailbox.received`` is what arrived."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def job_queue(app: Flask, tmp_path: Any) -> dict[str, Any]:
    """A job queue of this test's own (a SQLite file in ``tmp_path``), set in the app's
    config: what ``jobs.enqueue`` and ``mail.send_later`` push to, and ``jobs.run_pending``
    runs. Its settings, for a worker process: ``OAUTH_SERVER_INSTANCE=tmp_path`` and these."""
    settings = {
        "JOB_QUEUE_NAME": f"test_{uuid.uuid4().hex[:12]}",
        "JOB_QUEUE_FILE": str(tmp_path / "jobs.sqlite3"),
    }
    app.config.update(settings)
    return settings


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()
