"""Helpers of the invitation and reset tests: the link in an e-mail, and what must not be there."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import Flask

from oauth_server import jobs
from tests.mailbox import Received
from tests.mailbox import SmtpServer

LINK_RE = re.compile(r"https?://\S+/set-password\?code=[0-9A-Za-z_]+")


def deliver(app: Flask, smtp_server: SmtpServer, count: int) -> list[Received]:
    """Run the queued jobs (the worker's part) and return what the SMTP server got."""
    app.config.update(smtp_server.config())
    jobs.run_pending()
    return smtp_server.mailbox.wait_for(count, timeout=10)


def link_in(received: Received) -> str:
    """The "Set your password" link of an e-mail: the same in both parts."""
    text = received.part("text/plain")
    html = received.part("text/html")
    [link] = set(LINK_RE.findall(text))
    assert link in html
    return link


def path_of(link: str) -> str:
    """The link as a test client opens it: path and query."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def code_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["code"][0]


def assert_no_secret(received: Received, *secrets: str) -> None:
    """No password, hash or token string of ours in the e-mail but the link's code."""
    whole = received.message.as_string()
    for secret in secrets:
        assert secret not in whole
    for marker in ("$argon2", "wsp_pat_", "wsp_oat_", "wsp_ort_", "wsp_ocs_"):
        assert marker not in whole


def set_password_form(client: Any, link: str, password: str) -> Any:
    """Open the link, then submit "Set your password" with ``password``."""
    from tests.conftest import csrf_from

    page = client.get(path_of(link))
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert "Set your password" in html
    return client.post(
        "/set-password",
        data={"csrf_token": csrf_from(html), "code": code_of(link), "password": password},
    )
