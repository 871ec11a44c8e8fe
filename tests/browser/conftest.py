"""Playwright fixtures: one Debian Chromium per test session, a fresh context per test.

Without Chromium the browser tests are skipped with the reason, except under CI
(``CI=true``), where a missing browser fails the run instead of hiding the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

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


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


# Package scope, not session: tests/e2e starts its own Chromium, and two sync Playwrights
# cannot run at once in one thread; each package's ends before the next package starts.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run these")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed: `pip install -e '.[dev]'`")
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
