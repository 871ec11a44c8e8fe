"""A token's page: its value under "Token", "Copy" and "Revoke access"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import revocation
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.settings.conftest import API_PAGE
from tests.settings.conftest import revoke_url
from tests.settings.conftest import token_page


def test_token_page_shows_the_value_in_the_token_field(admin_client, company, admin):
    token, value = make_personal_token(company, "provisioning", actor=admin, name="Zapier")

    response = admin_client.get(token_page(token.id))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="token-value">Token</label>' in html
    field = re.search(r'<input [^>]*id="token-value"[^>]*>', html).group(0)
    assert f'value="{value}"' in field and "readonly" in field
    assert '<button type="button" data-copy="#token-value">Copy</button>' in html
    assert "<td>Provisioning</td>" in html
    assert "<td>Ada Admin</td>" in html


def test_token_page_is_never_cached(admin_client, company):
    token, _ = make_personal_token(company)
    response = admin_client.get(token_page(token.id))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_revoke_access_asks_for_confirmation(admin_client, company):
    token, _ = make_personal_token(company, name="Zapier")

    html = admin_client.get(token_page(token.id)).get_data(as_text=True)

    form = re.search(r"<form [^>]*/revoke\"[^>]*>.*?</form>", html, re.S).group(0)
    assert f'action="{token_page(token.id)}/revoke"' in form
    assert 'data-confirm="Revoke access for “Zapier”?' in form
    assert 'name="csrf_token"' in form
    assert '<button type="submit" class="danger">Revoke access</button>' in form


def test_the_value_is_only_on_the_token_page(admin_client, company):
    token, value = make_personal_token(company)
    assert value in admin_client.get(token_page(token.id)).get_data(as_text=True)
    for page in ("/", API_PAGE, "/settings/teammates", "/preferences"):
        assert value not in admin_client.get(page).get_data(as_text=True), page


def test_revoked_token_page_shows_no_value_and_no_revoke(admin_client, company, admin):
    token, value = make_personal_token(company)
    revocation.revoke(token, actor=admin, via="settings")
    db.session.commit()

    html = admin_client.get(token_page(token.id)).get_data(as_text=True)

    assert value not in html
    assert "Revoke access</button>" not in html
    assert '<span class="badge revoked">Revoked</span>' in html
    assert "This token no longer gives access to the API." in html


def test_expired_token_page_shows_no_value(admin_client, company):
    token, value = make_personal_token(company, expires_in_days=7)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    html = admin_client.get(token_page(token.id)).get_data(as_text=True)

    assert value not in html
    assert '<span class="badge expired">Expired</span>' in html


def test_value_the_key_cannot_open_is_explained_not_a_500(admin_client, company):
    token, value = make_personal_token(company)
    token.encrypted_value = b"not a fernet token"
    db.session.commit()

    response = admin_client.get(token_page(token.id))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "cannot be decrypted with the current encryption key" in html
    assert "Revoke access</button>" in html


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.0", "9" * 30, "١"])
def test_malformed_token_id_is_a_400(admin_client, company, raw):
    make_personal_token(company)
    response = admin_client.get(token_page(raw))
    assert response.status_code == 400
    assert "A token id is a positive whole number." in response.get_data(as_text=True)


def test_unknown_token_id_is_a_404(admin_client, company):
    token, _ = make_personal_token(company)
    response = admin_client.get(token_page(token.id + 1000))
    assert response.status_code == 404
    assert "No such token." in response.get_data(as_text=True)


def test_admin_of_another_company_gets_404(signed_in, company):
    token, value = make_personal_token(company)
    outsider = make_admin(make_company("Other"))

    response = signed_in(outsider).get(token_page(token.id))

    assert response.status_code == 404
    assert value not in response.get_data(as_text=True)


def test_teammate_gets_403(signed_in, company):
    token, value = make_personal_token(company)
    response = signed_in(make_teammate(company)).get(token_page(token.id))
    assert response.status_code == 403
    assert value not in response.get_data(as_text=True)


def test_a_deactivated_creators_token_shows_suspended_and_can_still_be_revoked(
    admin_client, company, client
):
    creator = make_admin(company)
    token, value = make_personal_token(company, actor=creator)
    creator.active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 401
    page = admin_client.get(token_page(token.id)).get_data(as_text=True)
    assert "Suspended" in page and "Revoke access" in page
    listing = admin_client.get(API_PAGE).get_data(as_text=True)
    assert "Suspended" in listing
    html = admin_client.get(token_page(token.id)).get_data(as_text=True)
    response = admin_client.post(revoke_url(token.id), data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PersonalToken, token.id).revoked_at is not None
