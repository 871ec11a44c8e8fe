"""The help article, clicked through in Chromium: create, copy, use, revoke, see 401."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from tests.browser.conftest import me
from tests.browser.pages import log_in
from tests.browser.pages import open_api_settings
from tests.factories import make_teammate
from tests.settings.conftest import SCOPE_CASES
from tests.settings.conftest import offer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("case", list(SCOPE_CASES))
def test_create_copy_use_and_revoke_a_token(page, live_server, artifacts, company, admin, case):
    scope, label = offer(company, case)
    log_in(page, admin.email)

    # Create a new token, steps 1 to 5.
    open_api_settings(page)
    page.get_by_role("link", name="New Token", exact=True).click()
    page.get_by_label("Name", exact=True).fill(f"{case} integration")
    choice = page.get_by_role("radio", name=label, exact=True)
    choice.check()
    page.get_by_role("button", name="Create", exact=True).click()

    # Step 6: the token is in the list; click it, read and copy it.
    row = page.get_by_role("row").filter(has_text=f"{case} integration")
    assert label in row.inner_text()
    assert "Ada Admin" in row.inner_text()
    page.screenshot(path=str(artifacts / f"token-list-{case}.png"), full_page=True)
    row.get_by_role("link", name=f"{case} integration").click()
    value = page.get_by_label("Token", exact=True).input_value()
    assert value.startswith("wsp_pat_")
    page.get_by_role("button", name="Copy", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()") == value
    page.get_by_role("button", name="Copied").wait_for()
    page.screenshot(path=str(artifacts / f"token-page-{case}.png"), full_page=True)

    # The value works against the API.
    answer = me(live_server, value)
    assert answer.status_code == 200
    assert answer.json()["scopes"] == [scope]
    assert answer.json()["teammate"]["email"] == admin.email

    # Revoke a token: a dismissed confirmation changes nothing, an accepted one revokes.
    token_url = page.url
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke access", exact=True).click()
    assert page.url == token_url
    assert page.get_by_label("Token", exact=True).input_value() == value
    assert me(live_server, value).status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke access", exact=True).click()
    page.get_by_text(f"Access revoked for “{case} integration”.").wait_for()

    assert me(live_server, value).status_code == 401
    db.session.expire_all()
    token = db.session.scalars(select(PersonalToken)).one()
    assert token.revoked_at is not None and token.revoked_via == "settings"
    assert page.problems == []


def test_teammate_sees_no_company_settings(page, company):
    teammate = make_teammate(company, email="bo@acme.test")
    log_in(page, teammate.email)

    assert page.get_by_role("banner").get_by_role("link", name="Preferences").is_visible()
    assert page.get_by_text("Company settings").count() == 0
    response = page.goto("/settings/plugins-api/api")
    assert response.status == 403
    assert page.get_by_role("heading", name="Forbidden").is_visible()


def test_teammate_allows_api_access_in_preferences(page, company):
    teammate = make_teammate(company, email="bo@acme.test")
    log_in(page, teammate.email)

    page.get_by_role("banner").get_by_role("link", name="Preferences", exact=True).click()
    page.get_by_label("Allow API access to my private resources", exact=True).check()
    page.get_by_role("button", name="Save", exact=True).click()

    page.get_by_text("Preferences saved.").wait_for()
    assert page.get_by_label("Allow API access to my private resources").is_checked()
    db.session.expire_all()
    assert db.session.get(type(teammate), teammate.id).private_api_access is True
    assert page.problems == []
