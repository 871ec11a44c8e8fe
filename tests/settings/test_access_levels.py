"""Access levels in the settings pages: read-only choices and "Send messages" in New Token,
the level shown in the token list, on a token's page and under Apps with Access, the
"Token inventory" choice, and an app's maximum scope on the Developers page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.services import companies
from oauth_server.services import personal_tokens
from tests.conftest import bearer
from tests.conftest import post_form
from tests.factories import make_team
from tests.factories import register
from tests.isolation import rows
from tests.settings.conftest import API_PAGE
from tests.settings.conftest import NEW_TOKEN_PAGE
from tests.settings.conftest import app_page
from tests.settings.conftest import partner_tokens
from tests.settings.conftest import token_page


def create(client, **data):
    data.setdefault("expires_in_days", "")
    return post_form(client, NEW_TOKEN_PAGE, NEW_TOKEN_PAGE, data)


def the_token() -> PersonalToken:
    db.session.expire_all()
    return db.session.scalars(select(PersonalToken)).one()


def token_row_html(client, name: str) -> str:
    html = client.get(API_PAGE).get_data(as_text=True)
    start = html.index(f">{name}</a>")
    return html[start : html.index("</tr>", start)]


def test_a_read_only_token_shows_its_level_in_the_list_and_on_its_page(admin_client):
    response = create(admin_client, name="Reporting", scope="shared:read")
    assert response.status_code == 302
    assert the_token().scope == "shared:read"
    assert "Shared resources (read only)" in token_row_html(admin_client, "Reporting")
    page = admin_client.get(token_page(the_token().id)).get_data(as_text=True)
    assert "Shared resources (read only)" in page


def test_send_messages_goes_with_a_read_only_choice(admin_client):
    response = create(admin_client, name="Bot", scope="shared:read", send_messages="y")
    assert response.status_code == 302
    token = the_token()
    assert token.scope == "shared:read messages:send"
    assert "Shared resources (read only), Send messages" in token_row_html(admin_client, "Bot")


@pytest.mark.parametrize("scope", ["shared", "provisioning", "tokens"])
def test_send_messages_beside_a_full_or_other_scope_is_refused(admin_client, scope):
    response = create(admin_client, name="Bot", scope=scope, send_messages="y")
    assert response.status_code == 400
    assert "Send messages goes only with a read-only resource scope." in response.get_data(
        as_text=True
    )
    assert rows(PersonalToken) == []


def test_send_messages_alone_or_smuggled_in_the_scope_is_refused(admin_client):
    for scope in ("messages:send", "shared:read messages:send private"):
        response = create(admin_client, name="Bot", scope=scope)
        assert response.status_code == 400
        assert "This permission scope is not available." in response.get_data(as_text=True)
    assert rows(PersonalToken) == []


@pytest.mark.parametrize("plan", ["starter", "growth", "scale"])
def test_token_inventory_is_offered_on_every_plan_and_works(client, admin_client, company, plan):
    companies.update_company(company, plan=plan)
    assert "Token inventory" in admin_client.get(NEW_TOKEN_PAGE).get_data(as_text=True)
    assert create(admin_client, name="Audit", scope="tokens").status_code == 302
    assert "Token inventory" in token_row_html(admin_client, "Audit")
    token = the_token()
    value = personal_tokens.reveal(token)
    response = client.get("/api/v1/tokens", headers=bearer(value))
    assert response.status_code == 200
    assert [i["id"] for i in response.get_json()["_results"]] == [f"pt_{token.id}"]


def test_a_read_only_team_choice_is_offered_and_labelled(admin_client, company):
    companies.update_company(company, teams_feature=True)
    team = make_team(company, "Sales")
    response = create(admin_client, name="Sales reader", scope=f"team:{team.id}:read")
    assert response.status_code == 302
    assert "Team: Sales (read only)" in token_row_html(admin_client, "Sales reader")


def test_apps_with_access_shows_the_level(app, admin_client, admin):
    partner = register(name="Reader App")
    partner_tokens(app, partner, admin, "shared:read messages:send")
    html = admin_client.get(API_PAGE).get_data(as_text=True)
    section = html[html.index('id="apps-with-access"') :]
    assert "Shared resources (read only), Send messages" in section


# --- Developers: an app's maximum scope ---------------------------------------------------


def own_app(company):
    return register(name="Own", owner_company=company)


def test_set_and_clear_an_apps_maximum_scope(admin_client, company):
    partner = own_app(company)
    url = f"/settings/developers/{partner.row.id}/max-scope"
    response = post_form(admin_client, app_page(partner.row.id), url, {"max_scope": "shared:read"})
    assert response.status_code == 302
    db.session.expire_all()
    assert partner.row.max_scope == "shared:read"
    html = admin_client.get(app_page(partner.row.id)).get_data(as_text=True)
    assert "Shared resources (read only)" in html and "Maximum scope" in html
    response = post_form(admin_client, app_page(partner.row.id), url, {"max_scope": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert partner.row.max_scope is None


@pytest.mark.parametrize("bad", ["tokens", "shared admin", "team:0"])
def test_a_bad_maximum_scope_is_a_form_error(admin_client, company, bad):
    partner = own_app(company)
    url = f"/settings/developers/{partner.row.id}/max-scope"
    response = post_form(admin_client, app_page(partner.row.id), url, {"max_scope": bad})
    assert response.status_code == 400
    assert "is not a scope a partner app can be granted" in response.get_data(as_text=True)
    db.session.expire_all()
    assert partner.row.max_scope is None
