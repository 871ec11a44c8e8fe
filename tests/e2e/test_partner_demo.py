"""The partner demo against the real server, both as processes, clicked through in Chromium.

Connect, Allow, see API data; an admin revokes under Apps with Access; the demo says
"Access was revoked"; connect again. Deny and a tampered state end on clear pages;
Disconnect revokes at the server. With 2-second access tokens the demo refreshes before
every call, keeps the rotated refresh token, and survives its own restart. The main pages
are saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from playwright.sync_api import expect

from tests.e2e.conftest import Stack
from tests.processes import REPO

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO / "docs" / "screenshots"
CONNECT = "Connect your workspace"


# --- steps -----------------------------------------------------------------------------------


def screenshot(page: Any, name: str, mask: list[Any] | None = None) -> None:
    """A viewport-sized PNG for the README; ``mask`` covers what changes between runs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), mask=mask or [], mask_color="#e9ecf1")


def demo_sign_in(page: Any, stack: Stack, name: str) -> None:
    page.goto(stack.demo_url + "/")
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Sign in", exact=True).click()


def server_log_in(page: Any, login: dict[str, str]) -> None:
    page.get_by_label("Email", exact=True).fill(login["email"])
    page.get_by_label("Password", exact=True).fill(login["password"])
    page.get_by_role("button", name="Log in", exact=True).click()


def connect(page: Any, stack: Stack, login: dict[str, str] | None) -> None:
    """Connect your workspace, log in to the server (unless already), reach the consent."""
    page.get_by_role("button", name=CONNECT, exact=True).click()
    if login is not None:
        page.wait_for_url(f"{stack.server_url}/login?**")
        server_log_in(page, login)
    expect(page.get_by_role("button", name="Deny", exact=True)).to_be_visible()


def expect_dashboard(page: Any, scopes: list[str] | None = None) -> None:
    expect(page.get_by_role("heading", name="Connected to Demo Company")).to_be_visible()
    expect(page.locator("code.scope")).to_have_text(scopes or ["shared", "private"])
    if scopes is None:
        expect(page.locator("#teams li")).to_contain_text(["Sales", "Support"])
        expect(page.locator("#conversations")).to_contain_text("Welcome to the Support inbox")
    expect(page.get_by_role("button", name="Disconnect", exact=True)).to_be_visible()


def expect_revoked(page: Any) -> None:
    expect(page.get_by_role("heading", name="Access was revoked")).to_be_visible()
    expect(page.get_by_role("button", name=CONNECT, exact=True)).to_be_visible()


def admin_settings(new_context: Any, stack: Stack) -> Any:
    """The admin, in a browser of their own, on Company settings > Plugins & API > API."""
    page = new_context().new_page()
    page.goto(stack.server_url + "/login")
    server_log_in(page, stack.admin)
    page.get_by_role("link", name="Company settings", exact=True).click()
    page.get_by_role("navigation", name="Company settings").get_by_role(
        "link", name="Plugins & API", exact=True
    ).click()
    page.get_by_role("navigation", name="Plugins & API").get_by_role(
        "link", name="API", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Apps with Access")).to_be_visible()
    return page


def partner_grants(settings: Any) -> Any:
    section = settings.locator("#apps-with-access")
    return section.get_by_role("link", name="Partner Demo", exact=True)


def metadata(stack: Stack) -> dict[str, Any]:
    answer = requests.get(f"{stack.server_url}/.well-known/oauth-authorization-server", timeout=10)
    data: dict[str, Any] = answer.json()
    return data


def api_me(stack: Stack, access_token: str) -> requests.Response:
    return requests.get(
        f"{stack.server_url}/api/v1/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def refresh(stack: Stack, refresh_token: str) -> requests.Response:
    return requests.post(
        metadata(stack)["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(stack.credentials["client_id"], stack.credentials["client_secret"]),
        timeout=10,
    )


def demo_session(context: Any, stack: Stack) -> dict[str, Any]:
    """The demo's session cookie, decoded with its key: what the browser holds."""
    app = Flask("decode")
    app.secret_key = (stack.demo_instance / "secret_key").read_text().strip()
    value = next(
        c["value"] for c in context.cookies(stack.demo_url) if c["name"] == "partners_demo_session"
    )
    data: dict[str, Any] = SecureCookieSessionInterface().get_signing_serializer(app).loads(value)
    return data


# --- tests -----------------------------------------------------------------------------------


def test_connect_see_data_revoke_and_connect_again(page: Any, new_context: Any, stack: Stack):
    demo_sign_in(page, stack, "ada")
    expect(page.get_by_role("heading", name=CONNECT)).to_be_visible()
    # The page's style is nonce'd under its Content-Security-Policy, and applies.
    expect(page.locator("header")).to_have_css("background-color", "rgb(91, 58, 30)")
    screenshot(page, "1-demo-connect")

    # Connect: the server's login, then its consent page naming the app, company and scopes.
    page.get_by_role("button", name=CONNECT, exact=True).click()
    page.wait_for_url(f"{stack.server_url}/login?**")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    screenshot(page, "2-server-login")
    server_log_in(page, stack.admin)
    expect(
        page.get_by_role("heading", name="Partner Demo wants access to Demo Company")
    ).to_be_visible()
    expect(page.locator("#granted-scopes li")).to_have_text(
        ["Shared resources", "Private resources"]
    )
    screenshot(page, "3-consent")
    page.get_by_role("button", name="Allow", exact=True).click()

    # Back in the demo: data from the API, with the scopes granted.
    page.wait_for_url(stack.demo_url + "/")
    expect_dashboard(page)
    screenshot(page, "4-demo-dashboard")

    # Tokens stay server-side: not in the page, not in the (readable) session cookie.
    token = stack.stored_token("ada")
    assert token is not None and token["access_token"].startswith("wsp_oat_")
    assert "wsp_" not in page.content()
    assert "wsp_" not in json.dumps(demo_session(page.context, stack))
    assert api_me(stack, token["access_token"]).status_code == 200

    # The admin revokes the app under Apps with Access (the newest grant is listed first).
    settings = admin_settings(new_context, stack)
    partner_grants(settings).first.click()
    expect(settings.get_by_role("button", name="Revoke access", exact=True)).to_be_visible()
    screenshot(settings, "5-revoke-access", mask=[settings.locator("td", has_text=" UTC")])
    settings.once("dialog", lambda dialog: dialog.accept())
    settings.get_by_role("button", name="Revoke access", exact=True).click()
    expect(settings.get_by_text("Access revoked for “Partner Demo”.")).to_be_visible()
    assert api_me(stack, token["access_token"]).status_code == 401

    # The demo's next call gets 401: "Access was revoked", its tokens forgotten.
    page.reload()
    expect_revoked(page)
    screenshot(page, "6-access-revoked")
    assert stack.stored_token("ada") is None

    # Connect again: still logged in to the server, so straight to the consent page.
    connect(page, stack, login=None)
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(stack.demo_url + "/")
    expect_dashboard(page)
    renewed = stack.stored_token("ada")
    assert renewed is not None and renewed["access_token"] != token["access_token"]


def test_deny_ends_on_a_clear_page(page: Any, stack: Stack):
    demo_sign_in(page, stack, "dan")
    connect(page, stack, login=stack.admin)
    page.get_by_role("button", name="Deny", exact=True).click()

    page.wait_for_url(f"{stack.demo_url}/callback?**")
    expect(page.get_by_role("heading", name="Not connected")).to_be_visible()
    expect(page.get_by_text("You (or the workspace) did not allow access.")).to_be_visible()
    expect(page.locator("code")).to_have_text("access_denied")
    expect(page.get_by_role("button", name=CONNECT, exact=True)).to_be_visible()
    assert stack.stored_token("dan") is None


def test_a_tampered_state_ends_on_a_clear_page(page: Any, stack: Stack):
    demo_sign_in(page, stack, "tess")
    connect(page, stack, login=stack.admin)

    # Hold the server's answer on its way back to the demo, then present it with another state.
    held: list[str] = []

    def hold(route: Any) -> None:
        answer = route.fetch(max_redirects=0)
        held.append(answer.headers["location"])
        route.fulfill(status=200, content_type="text/plain", body="held")

    authorize = re.compile(re.escape(stack.server_url) + r"/oauth/authorize")
    page.route(authorize, hold)
    page.get_by_role("button", name="Allow", exact=True).click()
    expect(page.get_by_text("held")).to_be_visible()
    page.unroute(authorize)
    genuine = held[0]
    params = dict(parse_qsl(urlsplit(genuine).query))
    assert params["code"] and params["iss"] == stack.server_url
    tampered = f"{stack.demo_url}/callback?" + urlencode({**params, "state": params["state"] + "x"})

    page.goto(tampered)
    expect(page.get_by_role("heading", name="Not connected")).to_be_visible()
    expect(
        page.get_by_text("The sign-in answer did not match a request from this browser.")
    ).to_be_visible()
    expect(page.get_by_role("button", name=CONNECT, exact=True)).to_be_visible()
    assert stack.stored_token("tess") is None

    # The refusal came from the state check: the genuine answer is still accepted.
    page.goto(genuine)
    expect_dashboard(page)


def test_disconnect_revokes_at_the_server(page: Any, new_context: Any, stack: Stack):
    demo_sign_in(page, stack, "dora")
    connect(page, stack, login=stack.admin)
    page.get_by_role("button", name="Allow", exact=True).click()
    expect_dashboard(page)
    token = stack.stored_token("dora")
    assert token is not None
    settings = admin_settings(new_context, stack)
    listed = partner_grants(settings).count()
    assert listed >= 1

    page.get_by_role("button", name="Disconnect", exact=True).click()
    expect(page.get_by_role("heading", name=CONNECT)).to_be_visible()
    assert stack.stored_token("dora") is None

    # The demo called the revocation endpoint: the grant is gone, both tokens are dead.
    assert api_me(stack, token["access_token"]).status_code == 401
    assert refresh(stack, token["refresh_token"]).json()["error"] == "invalid_grant"
    settings.reload()
    expect(partner_grants(settings)).to_have_count(listed - 1)


def test_demo_refreshes_expired_tokens_and_the_old_refresh_token_is_refused(
    page: Any, short_lived_stack: Stack
):
    stack = short_lived_stack
    demo_sign_in(page, stack, "rita")
    connect(page, stack, login=stack.admin)
    page.get_by_role("button", name="Allow", exact=True).click()
    expect_dashboard(page)
    first = stack.stored_token("rita")
    assert first is not None and first["expires_in"] == 2

    # Every page load refreshes first; the rotated refresh token is what the demo keeps.
    page.reload()
    expect_dashboard(page)
    second = stack.stored_token("rita")
    assert second is not None
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    # The old refresh token is refused; a reuse revokes the whole grant (by design)...
    answer = refresh(stack, first["refresh_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"

    # ...so the demo's next refresh is refused too, and it says so.
    page.reload()
    expect_revoked(page)
    assert stack.stored_token("rita") is None


def test_a_teammate_connection_keeps_working_across_refreshes(page: Any, short_lived_stack: Stack):
    """A teammate grants only "private": a refresh must not ask for the app's full scope."""
    stack = short_lived_stack
    demo_sign_in(page, stack, "tom")
    connect(page, stack, login=stack.teammate)
    expect(page.locator("#unavailable-scopes li")).to_contain_text(["Shared resources"])
    page.get_by_role("button", name="Allow", exact=True).click()
    expect_dashboard(page, scopes=["private"])
    expect(page.locator("#conversations")).to_have_text("Tom's private notes")
    first = stack.stored_token("tom")

    page.reload()
    expect_dashboard(page, scopes=["private"])
    second = stack.stored_token("tom")
    assert first and second and second["refresh_token"] != first["refresh_token"]


def test_demo_survives_its_own_restart(page: Any, new_context: Any, short_lived_stack: Stack):
    stack = short_lived_stack
    demo_sign_in(page, stack, "rex")
    connect(page, stack, login=stack.admin)
    page.get_by_role("button", name="Allow", exact=True).click()
    expect_dashboard(page)
    before = stack.stored_token("rex")

    stack.demo.restart()

    # Signing in again with the same name finds the connection: no reconnecting.
    other = new_context().new_page()
    demo_sign_in(other, stack, "rex")
    expect_dashboard(other)
    after = stack.stored_token("rex")
    assert before and after and after["refresh_token"] != before["refresh_token"]
    # The earlier browser session survives too (the session key lives in the instance).
    page.reload()
    expect_dashboard(page)
