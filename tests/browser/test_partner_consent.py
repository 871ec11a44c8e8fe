"""A partner's consent redirect in Chromium: sign in, Allow or Deny, then "Revoke access".

The partner is Authlib's requests client plus a tiny HTTP server standing in for its
redirect URI, so the browser really lands on the partner with the code.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from authlib.integrations.base_client.errors import OAuthError
from sqlalchemy import select

from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.services import clients
from oauth_server.services import companies
from tests.browser.conftest import ISSUER
from tests.browser.conftest import authorization_url
from tests.browser.conftest import me
from tests.browser.conftest import oauth_session
from tests.browser.conftest import query
from tests.browser.pages import log_in
from tests.browser.pages import log_in_form
from tests.browser.pages import open_api_settings
from tests.factories import make_team
from tests.factories import make_teammate
from tests.isolation import count

pytestmark = pytest.mark.browser

APP_NAME = "Helpdesk Sync"


@pytest.fixture
def partner(callback):
    callback.hits.clear()
    return clients.register_client(name=APP_NAME, redirect_uris=[callback.url])


def test_sign_in_consent_allow_then_revoke_under_apps_with_access(
    page, live_server, artifacts, callback, partner, company, admin
):
    mate = make_teammate(company, email="mo@acme.test", name="Mo Mate")
    companies.update_company(company, plan="growth", teams_feature=True)
    support = make_team(company, "Support", members=[mate])
    team_scope = scopes.team_scope(support.id)
    session = oauth_session(partner, callback, f"private {team_scope} shared")
    url, state, verifier = authorization_url(session, live_server)

    # Signed out: the authorize URL asks for a login first.
    page.goto(url)
    assert urlsplit(page.url).path == "/login"
    assert page.get_by_role("heading", name="Log in").is_visible()
    log_in_form(page, mate.email)

    # The consent page names the app, the company and each scope by its label.
    page.get_by_role("heading", name=f"{APP_NAME} wants access to Acme").wait_for()
    granted = page.locator("#granted-scopes li").all_inner_texts()
    assert granted == ["Private resources", "Team: Support"]
    # Mo is no admin: "shared" is shown as unavailable and left out of the grant.
    unavailable = page.locator("#unavailable-scopes li").all_inner_texts()
    assert [text.split(" (")[0] for text in unavailable] == ["Shared resources"]
    assert page.get_by_role("button", name="Deny", exact=True).is_visible()
    # Who registered the app, and where the browser goes next.
    facts = page.locator("#app-facts").inner_text()
    assert f"{APP_NAME} is registered by the server operator." in facts
    assert f"your browser then goes to {urlsplit(callback.url).netloc}." in facts
    page.screenshot(path=str(artifacts / "partner-consent.png"), full_page=True)
    page.get_by_role("button", name="Allow", exact=True).click()

    # The browser lands on the partner's redirect URI with code, state and iss.
    page.wait_for_url(re.compile(re.escape(callback.url) + r"\?"))
    params = query(page.url)
    assert set(params) == {"code", "state", "iss"}
    assert (params["state"], params["iss"]) == (state, ISSUER)
    assert callback.hits == [params]

    # The partner's back end redeems the code with its PKCE verifier.
    token = session.fetch_token(
        f"{live_server.url}/oauth/token",
        authorization_response=page.url,
        code_verifier=verifier,
    )
    assert token["scope"] == f"private {team_scope}"
    answer = me(live_server, token["access_token"])
    assert answer.status_code == 200
    assert answer.json()["kind"] == "oauth"
    assert answer.json()["app"]["name"] == APP_NAME
    assert answer.json()["teammate"]["email"] == mate.email

    # An admin finds the grant under Apps with Access and revokes it.
    page.goto("/")
    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, admin.email)
    open_api_settings(page)
    apps = page.locator("#apps-with-access")
    apps.get_by_role("heading", name="Apps with Access").wait_for()
    row = apps.get_by_role("row").filter(has_text=APP_NAME)
    text = row.inner_text()
    for expected in ("Mo Mate", "Private resources, Team: Support"):
        assert expected in text
    assert "Never" not in text  # the /me call above used it
    page.screenshot(path=str(artifacts / "apps-with-access.png"), full_page=True)
    row.get_by_role("link", name=APP_NAME, exact=True).click()
    page.get_by_role("heading", name=APP_NAME).wait_for()

    grant_url = page.url
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke access", exact=True).click()
    assert page.url == grant_url
    assert me(live_server, token["access_token"]).status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke access", exact=True).click()
    page.get_by_text(f"Access revoked for “{APP_NAME}”.").wait_for()
    assert page.locator("#apps-with-access").get_by_text("No apps have access.").is_visible()

    # Access and refresh token stop at once.
    after = me(live_server, token["access_token"])
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(
            f"{live_server.url}/oauth/token", refresh_token=token["refresh_token"]
        )
    assert refused.value.error == "invalid_grant"
    db.session.expire_all()
    grant = db.session.scalars(select(OAuthGrant)).one()
    assert grant.revoked_at is not None
    assert (grant.revoked_by_id, grant.revoked_via) == (admin.id, "settings")
    assert page.problems == []


def test_deny_sends_access_denied_back_with_state_and_iss(
    page, live_server, artifacts, callback, partner, company, admin
):
    session = oauth_session(partner, callback, "shared")
    url, state, verifier = authorization_url(session, live_server)

    page.goto(url)
    log_in_form(page, admin.email)
    page.get_by_role("heading", name=f"{APP_NAME} wants access to Acme").wait_for()
    assert page.locator("#granted-scopes li").all_inner_texts() == ["Shared resources"]
    page.get_by_role("button", name="Deny", exact=True).click()

    page.wait_for_url(re.compile(re.escape(callback.url) + r"\?"))
    params = query(page.url)
    assert params["error"] == "access_denied"
    assert (params["state"], params["iss"]) == (state, ISSUER)
    assert "code" not in params
    assert callback.hits == [params]
    page.screenshot(path=str(artifacts / "partner-denied.png"))
    assert (count(OAuthGrant), count(OAuthToken)) == (0, 0)
    assert count(AuthorizationCode) == 0
    assert page.problems == []
