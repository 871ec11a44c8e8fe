"""End-to-end fixtures: the workspace server and the partner demo as real processes.

Each stack is set up the way ``make run`` does it (``db upgrade``, ``demo seed``, then
``oauth-server serve`` and ``python -m partners_demo`` with the environment devrun.py
gives them), on free loopback ports, with temporary instance folders. The server's
database is SQLite in a temporary folder, or, when ``TEST_DATABASE_URL`` is set, a
PostgreSQL database created for the stack and dropped after it.

Chromium is Debian's, as in tests/browser: without it the browser tests are skipped,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import postgres_database_url
from tests.processes import Process
from tests.processes import clean_env
from tests.processes import free_port
from tests.processes import run
from tests.processes import unavailable

BIN = Path(sys.executable).parent
TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1000, "height": 700}


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides tests/conftest.py's: these tests talk to processes with databases of their
    own, so the in-process app and its per-test table cleanup are not needed."""


@dataclass
class Stack:
    """The server and the partner demo, seeded like ``make run`` seeds them."""

    server: Process
    demo: Process
    demo_instance: Path
    seed: dict[str, Any]
    credentials: dict[str, str]

    @property
    def server_url(self) -> str:
        return self.server.url

    @property
    def demo_url(self) -> str:
        return self.demo.url

    @property
    def admin(self) -> dict[str, str]:
        login: dict[str, str] = self.seed["logins"]["admin"]
        return login

    @property
    def teammate(self) -> dict[str, str]:
        login: dict[str, str] = self.seed["logins"]["teammate"]
        return login

    def stored_token(self, username: str) -> dict[str, Any] | None:
        """What the demo keeps server-side for ``username`` (its own SQLite database)."""
        with contextlib.closing(sqlite3.connect(self.demo_instance / "partners_demo.db")) as db:
            row = db.execute(
                "SELECT token FROM connections WHERE username = ?", (username,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def stop(self) -> None:
        for process in (self.demo, self.server):
            process.stop()


@contextlib.contextmanager
def running_stack(root: Path, **server_settings: str) -> Iterator[Stack]:
    """Set up, start and finally stop a stack; ``server_settings`` add to the server's env."""
    server_port, demo_port = free_port(), free_port()
    server_url = f"http://127.0.0.1:{server_port}"
    demo_url = f"http://127.0.0.1:{demo_port}"
    server_instance, demo_instance = root / "server", root / "partners_demo"
    server_instance.mkdir()
    with contextlib.ExitStack() as cleanup:
        database_url = cleanup.enter_context(_postgres_or_sqlite(server_instance))
        server_env = {
            **clean_env(),
            "DATABASE_URL": database_url,
            "OAUTH_SERVER_INSTANCE": str(server_instance),
            "OAUTH_ISSUER": server_url,  # as devrun.py sets it
            # demo seed registers http://127.0.0.1:<this port>/callback for the demo.
            "PARTNERS_DEMO_PORT": str(demo_port),
            # Each test signs in afresh in its own browser context.
            "RATELIMIT_LOGIN": "1000 per minute",
            "RATELIMIT_LOGIN_ACCOUNT": "1000 per minute",
            **server_settings,
        }
        oauth_server = str(BIN / "oauth-server")
        run([oauth_server, "db", "upgrade"], server_env)
        seed = json.loads(run([oauth_server, "demo", "seed"], server_env))
        credentials = json.loads(Path(seed["partner_app"]["credentials_file"]).read_text())
        demo_env = {
            **clean_env(),
            "PARTNERS_DEMO_SERVER_URL": server_url,
            "PARTNERS_DEMO_CLIENT_ID": credentials["client_id"],
            "PARTNERS_DEMO_CLIENT_SECRET": credentials["client_secret"] or "",
            # Set when the seed registered the demo's event URL (OUTBOUND_ALLOW_LOOPBACK).
            "PARTNERS_DEMO_EVENTS_SECRET": credentials.get("events_secret") or "",
            "PARTNERS_DEMO_INSTANCE": str(demo_instance),
            "PARTNERS_DEMO_PORT": str(demo_port),
        }
        stack = Stack(
            server=Process(
                "oauth-server",
                [oauth_server, "serve", "--port", str(server_port)],
                server_env,
                server_url,
                root / "server.log",
            ),
            demo=Process(
                "partners_demo",
                [sys.executable, "-m", "partners_demo", "--port", str(demo_port)],
                demo_env,
                demo_url,
                root / "partners_demo.log",
            ),
            demo_instance=demo_instance,
            seed=seed,
            credentials=credentials,
        )
        cleanup.callback(stack.stop)
        for process in (stack.server, stack.demo):  # both start at once
            process.launch()
        for process in (stack.server, stack.demo):
            process.wait_ready()
        yield stack


@contextlib.contextmanager
def _postgres_or_sqlite(folder: Path) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        with contextlib.contextmanager(postgres_database_url)(server) as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'oauth_server.db'}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The server and the demo as ``make run`` starts them (one-hour access tokens)."""
    with running_stack(tmp_path_factory.mktemp("e2e-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def short_lived_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose access tokens live 2 s: Authlib refreshes 60 s before expiry, so the
    demo refreshes (and rotates the refresh token) before every API call."""
    with running_stack(tmp_path_factory.mktemp("e2e-short"), ACCESS_TOKEN_TTL="2") as running:
        yield running


# A code, token or client secret as the server issues them: a prefix, then the secret part.
SECRET = re.compile(r"wsp_(?:oac|oat|ort|ocs|pat)_[0-9A-Za-z]{8,}")


@pytest.fixture(autouse=True)
def _no_stack_traces(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does, neither process may log a stack trace (an unhandled error) or
    a secret (a code or token in a request line, say)."""
    stacks = [
        request.getfixturevalue(name)
        for name in ("stack", "short_lived_stack")
        if name in request.fixturenames
    ]
    before = {id(p): len(p.log_text()) for s in stacks for p in (s.server, s.demo)}
    yield
    for running in stacks:
        for process in (running.server, running.demo):
            new = process.log_text()[before[id(process)] :]
            assert "Traceback" not in new, f"{process.name} logged a stack trace:\n{new}"
            leaked = [line for line in new.splitlines() if SECRET.search(line)]
            assert not leaked, f"{process.name} logged secrets:\n" + "\n".join(leaked[:3])


@pytest.fixture(scope="package")  # as tests/browser's: only one sync Playwright at a time
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run these")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed: `pip install -e '.[dev]'`")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """Make browser contexts (a person's own browser each), closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Any:
    return new_context().new_page()
