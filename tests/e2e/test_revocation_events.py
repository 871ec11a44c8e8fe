"""Revocation events end to end: the server, a worker and the partner demo as real
processes (the SQLite queue, and Redis at 127.0.0.1:6379 unless it is unreachable outside
CI); Revoke access in the browser, and the demo forgets its tokens before any API call.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import BIN
from tests.e2e.conftest import Stack
from tests.e2e.conftest import running_stack
from tests.e2e.test_partner_demo import admin_settings
from tests.e2e.test_partner_demo import connect
from tests.e2e.test_partner_demo import demo_sign_in
from tests.e2e.test_partner_demo import expect_dashboard
from tests.e2e.test_partner_demo import expect_revoked
from tests.e2e.test_partner_demo import partner_grants
from tests.processes import Process
from tests.processes import redis_server_url

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def events_stack(root: Path, queue: str) -> Iterator[tuple[Stack, Process]]:
    """A stack whose demo listens for events (as ``make run``: loopback allowed), with a
    worker; retries 1 s after a failure, then 2, 4, 8..."""
    settings = {
        "OUTBOUND_ALLOW_LOOPBACK": "true",
        "EVENTS_RETRY_FIRST_SECONDS": "1",
        "JOB_QUEUE_NAME": f"e2e_{uuid.uuid4().hex[:12]}",
    }
    if queue == "redis":
        settings["REDIS_URL"] = redis_server_url() + "/15"  # as tests/production
    with running_stack(root, **settings) as stack:
        assert stack.credentials["events_secret"].startswith("whsec_")
        worker = Process(
            "worker", [str(BIN / "oauth-server"), "worker"], stack.server.env, "", root / "w.log"
        )
        worker.launch()
        try:
            yield stack, worker
        finally:
            worker.stop()
            assert "Traceback" not in worker.log_text(), worker.log_tail()


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        redis_server_url()  # or a skip (a failure under CI)
    return str(request.param)


def wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("not within the time")


def connect_and_revoke(page: Any, new_context: Any, stack: Stack, name: str) -> None:
    demo_sign_in(page, stack, name)
    connect(page, stack, stack.admin)
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(stack.demo_url + "/")
    expect_dashboard(page)
    settings = admin_settings(new_context, stack)
    partner_grants(settings).first.click()
    settings.once("dialog", lambda dialog: dialog.accept())
    settings.get_by_role("button", name="Revoke access", exact=True).click()
    expect(settings.get_by_text("Access revoked for “Partner Demo”.")).to_be_visible()


def api_calls(stack: Stack) -> int:
    return stack.server.log_text().count("/api/v1/")


def test_revoke_in_the_browser_and_the_demo_forgets_at_once(
    page: Any, new_context: Any, tmp_path: Path
) -> None:
    with events_stack(tmp_path, "sqlite") as (stack, _worker):
        connect_and_revoke(page, new_context, stack, "ada")
        calls = api_calls(stack)
        started = time.monotonic()
        wait_until(lambda: stack.stored_token("ada") is None, timeout=10)
        print(f"\n[e2e] event reached the demo {time.monotonic() - started:.1f} s after Revoke")
        page.reload()
        expect_revoked(page)
        assert api_calls(stack) == calls  # the demo did not ask the API to find out
        assert stack.demo.log_text().count('"POST /events HTTP/1.1" 200') == 1


def test_demo_down_then_up_gets_the_event_once(
    page: Any, new_context: Any, tmp_path: Path, queue: str
) -> None:
    with events_stack(tmp_path, queue) as (stack, worker):
        demo_sign_in(page, stack, "bob")
        connect(page, stack, stack.admin)
        page.get_by_role("button", name="Allow", exact=True).click()
        page.wait_for_url(stack.demo_url + "/")
        expect_dashboard(page)
        stack.demo.stop()
        settings = admin_settings(new_context, stack)
        partner_grants(settings).first.click()
        settings.once("dialog", lambda dialog: dialog.accept())
        settings.get_by_role("button", name="Revoke access", exact=True).click()
        expect(settings.get_by_text("Access revoked for “Partner Demo”.")).to_be_visible()
        wait_until(lambda: "job will be retried" in worker.log_text(), timeout=20)
        time.sleep(3)  # down a while: more tries fail
        stack.demo.start()
        wait_until(lambda: stack.stored_token("bob") is None, timeout=30)
        time.sleep(2)
        log = stack.demo.log_text()
        assert log.count('"POST /events HTTP/1.1" 200') == 1, log
        assert '"POST /events HTTP/1.1" 409' not in log
        assert worker.log_text().count("event delivered") == 1
        page.reload()
        expect_revoked(page)
