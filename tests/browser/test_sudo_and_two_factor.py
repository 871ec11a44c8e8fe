"""Sudo mode and two-factor sign-in, clicked through in Chromium: a token's value past the
window takes the password first; New Token past the window keeps what was typed; setting
up two-factor, then signing in with a code of the authenticator app."""

from __future__ import annotations

import re

import pyotp
import pytest
import requests

from tests.browser.pages import log_in
from tests.browser.pages import log_in_form
from tests.browser.pages import open_api_settings
from tests.factories import PASSWORD
from tests.factories import make_personal_token

pytestmark = pytest.mark.browser

WINDOW = 900  # SUDO_MODE_SECONDS by default


def confirm_password(page, password: str = PASSWORD) -> None:
    """The "Confirm your password" page: "Password", "Confirm"."""
    assert page.get_by_role("heading", name="Confirm your password").is_visible()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Confirm", exact=True).click()


def test_a_tokens_value_past_the_window_takes_the_password_first(
    page, live_server, artifacts, company, admin, clock
):
    token, value = make_personal_token(company, actor=admin, name="Reporting")
    log_in(page, admin.email)
    open_api_settings(page)

    clock.advance(WINDOW + 1)
    page.get_by_role("link", name="Reporting").click()
    assert page.get_by_role("button", name="Revoke access").is_visible()  # always one click
    assert page.get_by_label("Token", exact=True).count() == 0
    assert value not in page.content()
    page.get_by_role("link", name="Show token", exact=True).click()

    confirm_password(page, "not-my-password")
    assert page.get_by_role("alert").inner_text() == "Wrong password."
    page.screenshot(path=str(artifacts / "sudo-confirm-password.png"), full_page=True)
    # The browser reports the refusal's 401 on its console: expected here.
    page.problems[:] = [p for p in page.problems if "401" not in p]
    confirm_password(page)

    page.wait_for_url(re.compile(rf"/tokens/{token.id}$"))
    shown = page.get_by_label("Token", exact=True).input_value()
    assert shown == value
    headers = {"Authorization": f"Bearer {shown}"}
    response = requests.get(f"{live_server.url}/api/v1/inboxes", headers=headers, timeout=10)
    assert response.status_code == 200
    assert page.problems == []


def test_new_token_past_the_window_keeps_what_was_typed(page, company, admin, clock):
    log_in(page, admin.email)
    open_api_settings(page)
    page.get_by_role("link", name="New Token", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Nightly export")
    page.get_by_role("radio", name="Shared resources (read only)", exact=True).check()

    clock.advance(WINDOW + 1)  # the admin took a long coffee break
    page.get_by_role("button", name="Create", exact=True).click()
    confirm_password(page)

    row = page.get_by_role("row").filter(has_text="Nightly export")
    assert row.count() == 1
    assert "Shared resources (read only)" in row.inner_text()
    assert page.problems == []


def test_set_up_two_factor_then_sign_in_with_a_code(page, artifacts, company, admin, clock):
    log_in(page, admin.email)
    page.get_by_role("navigation").get_by_role("link", name="Preferences", exact=True).click()
    page.get_by_role("link", name="Set up two-factor", exact=True).click()

    secret = page.get_by_label("Secret", exact=True).input_value()
    totp = pyotp.TOTP(secret)
    assert page.locator("svg").count() >= 1  # the QR code
    page.screenshot(path=str(artifacts / "two-factor-setup.png"), full_page=True)
    page.get_by_label("Authentication code", exact=True).fill(
        totp.generate_otp(totp.timecode(clock.now()))
    )
    page.get_by_role("button", name="Turn on two-factor", exact=True).click()
    assert page.get_by_role("heading", name="Recovery codes").is_visible()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="Done", exact=True).click()
    assert "Recovery codes left: 10." in page.content()

    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url(re.compile(r"/login$"))
    log_in_form(page, admin.email)
    page.wait_for_url(re.compile(r"/login/two-factor$"))
    # The code just used to turn it on is not accepted again.
    page.get_by_label("Authentication code", exact=True).fill(
        totp.generate_otp(totp.timecode(clock.now()))
    )
    page.get_by_role("button", name="Verify", exact=True).click()
    assert "That code is not valid" in page.get_by_role("alert").inner_text()
    page.problems[:] = [p for p in page.problems if "401" not in p]  # the refusal's status

    clock.advance(30)  # the app shows the next code
    page.get_by_label("Authentication code", exact=True).fill(
        totp.generate_otp(totp.timecode(clock.now()))
    )
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("button", name="Log out").is_visible()
    assert page.problems == []
