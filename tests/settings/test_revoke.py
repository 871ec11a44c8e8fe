""" "Revoke access" on a token's page: it stops the token on the very next request."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.isolation import fresh
from tests.settings.conftest import API_PAGE
from tests.settings.conftest import revoke_url
from tests.settings.conftest import token_page


def revoke(client, token_id):
    return post_form(client, token_page(token_id), revoke_url(token_id), {})


def assert_live(client, token, value):
    assert fresh(token).revoked_at is None
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200


@pytest.mark.parametrize("scope", ["shared", "private", "provisioning"])
def test_revoke_access_stops_the_token_on_the_next_request(
    admin_client, client, company, admin, scope
):
    token, value = make_personal_token(company, scope, actor=admin, name="Zapier")
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200

    response = revoke(admin_client, token.id)

    assert response.status_code == 302
    assert response.headers["Location"] == API_PAGE
    after = client.get("/api/v1/me", headers=bearer(value))
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    # Revoked, not deleted: the row stays for history, with who and how.
    row = fresh(token)
    assert row.revoked_at is not None
    assert (row.revoked_by_id, row.revoked_via) == (admin.id, "settings")
    assert db.session.get(PersonalToken, token.id) is not None
    listing = admin_client.get(API_PAGE).get_data(as_text=True)
    assert "Access revoked for “Zapier”." in listing
    assert '<span class="badge revoked">Revoked</span>' in listing


def test_revoking_twice_keeps_the_first_revocation(admin_client, company):
    token, _ = make_personal_token(company, name="Zapier")
    revoke(admin_client, token.id)
    first = fresh(token).revoked_at

    response = revoke(admin_client, token.id)

    assert response.status_code == 302
    assert fresh(token).revoked_at == first
    listing = admin_client.get(API_PAGE).get_data(as_text=True)
    assert "“Zapier” was already revoked." in listing


def test_revoking_one_token_leaves_the_others(admin_client, client, company):
    token, _ = make_personal_token(company)
    other, other_value = make_personal_token(company)
    revoke(admin_client, token.id)
    assert_live(client, other, other_value)


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_revoke_needs_the_csrf_token(admin_client, client, company, csrf):
    token, value = make_personal_token(company)
    admin_client.get(token_page(token.id))
    data = {} if csrf is None else {"csrf_token": csrf}

    response = admin_client.post(revoke_url(token.id), data=data)

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert_live(client, token, value)


def test_admin_of_another_company_cannot_revoke(signed_in, client, company):
    token, value = make_personal_token(company)
    outsider = make_admin(make_company("Other"))
    outsider_client = signed_in(outsider)

    response = post_form(outsider_client, API_PAGE, revoke_url(token.id), {})

    assert response.status_code == 404
    assert_live(client, token, value)


def test_teammate_cannot_revoke(signed_in, client, company):
    token, value = make_personal_token(company)
    teammate_client = signed_in(make_teammate(company))

    response = post_form(teammate_client, "/preferences", revoke_url(token.id), {})

    assert response.status_code == 403
    assert_live(client, token, value)


def test_anonymous_cannot_revoke(client, company):
    token, value = make_personal_token(company)
    response = post_form(client, "/login", revoke_url(token.id), {})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert_live(client, token, value)


@pytest.mark.parametrize("raw", ["abc", "0", "9" * 30])
def test_malformed_id_is_a_400(admin_client, company, raw):
    response = post_form(admin_client, API_PAGE, revoke_url(raw), {})
    assert response.status_code == 400


def test_unknown_id_is_a_404(admin_client, company):
    token, _ = make_personal_token(company)
    response = post_form(admin_client, API_PAGE, revoke_url(token.id + 1000), {})
    assert response.status_code == 404


def test_revoke_is_post_only(admin_client, client, company):
    token, value = make_personal_token(company)
    assert admin_client.get(revoke_url(token.id)).status_code == 405
    assert_live(client, token, value)


def test_the_confirm_form_carries_a_csrf_token_for_this_session(admin_client, company):
    token, _ = make_personal_token(company)
    html = admin_client.get(token_page(token.id)).get_data(as_text=True)
    assert csrf_from(html)
