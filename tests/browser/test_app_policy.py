"""The third-party app policy in Chromium: an admin chooses "Approved apps only", a
teammate's authorization shows "Request approval", the admin presses "Approve", and the
teammate's next authorization ends at the partner with a code that redeems."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import AppApproval
from oauth_server.models import AuthorizationCode
from oauth_server.services import app_policy
from oauth_server.services import clients
from oauth_server.services import companies
from tests.browser.conftest import PartnerCallback
from tests.browser.conftest import authorization_url
from tests.browser.conftest import me
from tests.browser.conftest import oauth_session
from tests.browser.conftest import query
from tests.browser.pages import answer_next_dialog
from tests.browser.pages import log_in
from tests.browser.pages import log_in_form
from tests.browser.pages import open_api_settings
from tests.factories import make_team
from tests.factories import make_teammate
from tests.isolation import count
from tests.isolation import rows

pytestmark = pytest.mark.browser

APP_NAME = "Ticket Mirror"


@pytest.fixture
def partner(callback: PartnerCallback) -> Any:
    callback.hits.clear()
    return clients.register_client(name=APP_NAME, redirect_uris=[callback.url])


def open_apps_with_access(page: Any) -> None:
    open_api_settings(page)
    page.locator("#manage-apps").click()
    page.get_by_role("heading", name="Apps with Access").wait_for()


def test_admin_sets_the_policy_in_the_page(page: Any, admin: Any, artifacts: Any) -> None:
    log_in(page, admin.email)
    open_apps_with_access(page)
    policy = page.get_by_role("group", name="Third-party apps")
    assert policy.get_by_label("Allow all apps", exact=True).is_checked()
    policy.get_by_label("No third-party apps", exact=True).check()
    # Dismissed: nothing changes.
    asked = answer_next_dialog(page, accept=False)
    page.get_by_role("button", name="Save policy", exact=True).click()
    assert asked and asked[0].startswith("Change which third-party apps")
    assert app_policy.policy_of(admin.company_id).third_party_apps == "all"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Save policy", exact=True).click()
    page.get_by_text("Third-party apps: No third-party apps.").wait_for()
    assert page.get_by_label("No third-party apps", exact=True).is_checked()
    page.screenshot(path=str(artifacts / "app-policy.png"), full_page=True)
    db.session.expire_all()
    assert app_policy.policy_of(admin.company_id).third_party_apps == "none"


def test_request_approval_approve_then_the_next_authorization_completes(
    browser: Any,
    page: Any,
    live_server: Any,
    artifacts: Any,
    callback: PartnerCallback,
    partner: Any,
    company: Any,
    admin: Any,
) -> None:
    mate = make_teammate(company, email="mo@acme.test", name="Mo Mate")
    companies.update_company(company, plan="growth", teams_feature=True)
    support = make_team(company, "Support", members=[mate])
    app_policy.set_third_party_apps(company, "approved", actor=admin)
    team_scope = scopes.team_scope(support.id)
    session = oauth_session(partner, callback, team_scope)
    url, state, verifier = authorization_url(session, live_server)

    # The teammate signs in and is asked to request approval: no code.
    page.goto(url)
    log_in_form(page, mate.email)
    page.get_by_role("heading", name=f"{APP_NAME} needs an admin's approval").wait_for()
    page.screenshot(path=str(artifacts / "request-approval.png"), full_page=True)
    page.get_by_role("button", name="Request approval", exact=True).click()
    page.get_by_role("heading", name="Approval requested").wait_for()
    assert callback.hits == []
    assert count(AuthorizationCode) == 0
    assert [r.status for r in rows(AppApproval)] == ["pending"]

    # The admin, in another browser, approves it under Apps with Access.
    admin_context = browser.new_context(base_url=live_server.url)
    try:
        admin_page = admin_context.new_page()
        log_in(admin_page, admin.email)
        open_apps_with_access(admin_page)
        row = admin_page.locator("#pending-requests").get_by_role("row").filter(has_text=APP_NAME)
        assert "Mo Mate" in row.inner_text()
        row.get_by_role("button", name="Approve", exact=True).click()
        admin_page.get_by_text(f"“{APP_NAME}” approved.").wait_for()
        assert admin_page.get_by_text("No pending requests.").is_visible()
    finally:
        admin_context.close()

    # The teammate's next authorization shows the consent page, then the code.
    page.goto(url)
    page.get_by_role("heading", name=f"{APP_NAME} wants access to Acme").wait_for()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(re.escape(callback.url) + r"\?"))
    params = query(page.url)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == state
    token = session.fetch_token(
        f"{live_server.url}/oauth/token", authorization_response=page.url, code_verifier=verifier
    )
    assert me(live_server, token["access_token"]).status_code == 200
    assert not page.problems
