"""Playwright fixtures: one Debian Chromium per test session, a fresh context per test.

Without Chromium the browser tests are skipped with the reason, except under CI
(``CI=true``), where a missing browser fails the run instead of hiding the tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from tests.conftest import LiveServer
from tests.processes import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000
ISSUER = "http://localhost"  # OAUTH_ISSUER of the test config


# Package scope, not session: tests/e2e starts its own Chromium, and two sync Playwrights
# cannot run at once in one thread; each package's ends before the next package starts.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run these")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed: `pip install -e '.[dev]'`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(app: Any) -> Iterator[LiveServer]:
    """One server for the session: stopping one waits out its 0.5 s poll interval."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    page = context.new_page()
    problems: list[str] = []
    # A CSP violation (an inline style or script) or a script error shows up here.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    yield page


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def company() -> Any:
    from tests.factories import make_company

    return make_company("Acme")


@pytest.fixture
def admin(company: Any) -> Any:
    from tests.factories import make_admin

    return make_admin(company, email="admin@acme.test", name="Ada Admin")


# --- the partner: Authlib's requests client and a tiny server for its redirect URI ---------


class PartnerCallback:
    """The partner's redirect URI: answers 200 to anything, remembers what reached /cb."""

    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/cb"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/cb":
            self.hits.append({k: v for k, v in request.args.items()})
        body = "<!doctype html><title>Partner</title><p>Back at the partner.</p>"
        return Response(body, mimetype="text/html")

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture(scope="module")
def callback() -> Iterator[PartnerCallback]:
    server = PartnerCallback()
    yield server
    server.stop()


def oauth_session(partner: Any, callback: PartnerCallback, scope: str) -> OAuth2Session:
    row, secret = partner
    return OAuth2Session(
        row.client_id,
        secret,
        redirect_uri=callback.url,
        scope=scope,
        code_challenge_method="S256",
    )


def authorization_url(session: OAuth2Session, live_server: LiveServer) -> tuple[str, str, str]:
    """The URL the partner sends the browser to, its state and its PKCE verifier."""
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        f"{live_server.url}/oauth/authorize", code_verifier=verifier
    )
    return url, state, verifier


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def me(live_server: LiveServer, access_token: str) -> requests.Response:
    return requests.get(
        f"{live_server.url}/api/v1/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
