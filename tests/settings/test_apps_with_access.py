"""The API tab's "Apps with Access": partner grants, their page and "Revoke access"."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from sqlalchemy import select

from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.services import companies
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_grant
from tests.factories import make_personal_token
from tests.factories import make_team
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import fresh
from tests.isolation import isolated_client
from tests.settings.conftest import API_PAGE
from tests.settings.conftest import grant_page
from tests.settings.conftest import grant_revoke_url
from tests.settings.conftest import partner_tokens

GRANT_LINK_RE = re.compile(r'<a href="/settings/plugins-api/api/apps/(\d+)">([^<]+)</a>')


@pytest.fixture
def partner() -> Partner:
    return register(name="Partner App")


def with_teams(company, name: str, members=()):
    """Turn the Teams feature on and make a team: its scope is then offered."""
    companies.update_company(company, plan="growth", teams_feature=True)
    return make_team(company, name, members=list(members))


def apps_section(client, url: str = API_PAGE) -> str:
    """The "Apps with Access" part of the API tab, as text a person reads."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    return htmllib.unescape(html.split('id="apps-with-access"', 1)[1])


def tokens_section(client) -> str:
    html = client.get(API_PAGE).get_data(as_text=True)
    return htmllib.unescape(html.split('id="apps-with-access"', 1)[0])


def listed_grants(section: str) -> list[tuple[int, str]]:
    return [(int(grant_id), name) for grant_id, name in GRANT_LINK_RE.findall(section)]


def the_grant() -> OAuthGrant:
    db.session.expire_all()
    return db.session.scalars(select(OAuthGrant)).one()


def revoke(client, grant_id):
    return post_form(client, grant_page(grant_id), grant_revoke_url(grant_id), {})


# --- The list ---------------------------------------------------------------------------


def test_a_teammates_consent_is_listed_with_app_who_scopes_when_and_last_used(
    app, admin_client, client, company, partner
):
    mate = make_teammate(company, email="mo@acme.test", name="Mo Mate")
    support = with_teams(company, "Support", members=[mate])
    support_scope = scopes.team_scope(support.id)
    issued = partner_tokens(app, partner, mate, f"private {support_scope}")
    grant = the_grant()

    section = apps_section(admin_client)

    assert listed_grants(section) == [(grant.id, "Partner App")]
    row = section.split(f'data-grant="{grant.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Mo Mate" in row
    assert "Private resources, Team: Support" in row
    assert grant.created_at.strftime("%Y-%m-%d %H:%M UTC") in row
    assert '<span class="muted">Never</span>' in row
    assert "Revoke access" in row
    assert support_scope not in row  # never the wire name

    # After an API call, "last used" is a time.
    assert me_status(client, issued["access_token"]) == 200
    used = the_grant().last_used_at
    assert used is not None
    row = apps_section(admin_client).split(f'data-grant="{grant.id}"', 1)[1].split("</tr>")[0]
    assert "Never" not in row
    assert used.strftime("%Y-%m-%d %H:%M UTC") in row


def test_an_admins_consent_shows_the_admin_and_its_scope_labels(
    app, admin_client, company, admin, partner
):
    support = with_teams(company, "Support")
    partner_tokens(app, partner, admin, f"shared provisioning {scopes.team_scope(support.id)}")

    section = apps_section(admin_client)

    assert "Ada Admin" in section
    assert "Shared resources, Provisioning, Team: Support" in section


def test_clicking_the_app_opens_the_grant_page(app, admin_client, company, admin, partner):
    partner_tokens(app, partner, admin, "shared")
    [(grant_id, _)] = listed_grants(apps_section(admin_client))

    page = admin_client.get(grant_page(grant_id))

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = htmllib.unescape(page.get_data(as_text=True))
    assert "<h2>Partner App " in html
    assert "<tr><th>Authorized by</th><td>Ada Admin</td></tr>" in html
    assert "<tr><th>Scopes</th><td>Shared resources</td></tr>" in html
    assert "<tr><th>Last used</th><td>Never</td></tr>" in html
    assert '<button type="submit" class="danger">Revoke access</button>' in html
    assert 'data-confirm="Revoke access for “Partner App”?' in html
    assert f'action="{grant_revoke_url(grant_id)}"' in html


def test_personal_tokens_and_partner_grants_are_listed_apart(
    app, admin_client, company, admin, partner
):
    make_personal_token(company, name="Zapier", actor=admin)
    partner_tokens(app, partner, admin, "shared")

    tokens_part = tokens_section(admin_client)
    apps_part = apps_section(admin_client)

    assert "Zapier" in tokens_part and "Partner App" not in tokens_part
    assert "Partner App" in apps_part and "Zapier" not in apps_part
    assert "/settings/plugins-api/api/apps/" not in tokens_part
    assert "/settings/plugins-api/api/tokens/" not in apps_part


def test_empty_list_says_so(admin_client):
    assert "No apps have access." in apps_section(admin_client)


def test_only_this_companys_live_grants_are_listed(app, admin_client, company, admin, partner):
    revoked = make_grant(company, partner, admin)
    revoked.revoked_at = revoked.created_at
    db.session.commit()
    ours = make_grant(company, partner, admin)  # one live grant per teammate and app
    other = make_company("Globex")
    make_grant(other, partner, make_admin(other))

    assert listed_grants(apps_section(admin_client)) == [(ours.id, "Partner App")]


# --- Revoke access ----------------------------------------------------------------------


def test_revoke_access_revokes_access_and_refresh_tokens_at_once(
    app, admin_client, client, company, admin, partner
):
    mate = make_teammate(company, email="mo@acme.test", name="Mo Mate")
    issued = partner_tokens(app, partner, mate, "private")
    rotated = refresh(client, partner, issued["refresh_token"]).get_json()  # two pairs now
    pending = get_code(isolated_client(app), partner, mate.email, "private")
    grant = the_grant()
    assert me_status(client, rotated["access_token"]) == 200

    response = revoke(admin_client, grant.id)

    assert response.status_code == 302
    assert response.headers["Location"] == API_PAGE
    for pair in (issued, rotated):
        answer = client.get("/api/v1/me", headers=bearer(pair["access_token"]))
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    oauth_error(refresh(client, partner, rotated["refresh_token"]), "invalid_grant")
    # Stamped, not deleted: who, when and through which door.
    row = fresh(grant)
    assert row.revoked_at is not None
    assert (row.revoked_by_id, row.revoked_via) == (admin.id, "settings")
    db.session.expire_all()
    pairs = db.session.scalars(select(OAuthToken).where(OAuthToken.grant_id == grant.id)).all()
    assert len(pairs) == 2 and all(p.revoked_at is not None for p in pairs)
    # The code the teammate approved but the app has not redeemed dies too.
    code_row = db.session.scalars(
        select(AuthorizationCode).where(AuthorizationCode.used_at.is_(None))
    ).one()
    assert code_row.revoked_at is not None
    oauth_error(exchange(client, partner, *pending), "invalid_grant")
    # Gone from the live list, still on its own page as history.
    section = apps_section(admin_client)
    assert listed_grants(section) == []
    assert "No apps have access." in section
    history = htmllib.unescape(admin_client.get(grant_page(grant.id)).get_data(as_text=True))
    assert '<span class="badge revoked">Revoked</span>' in history
    assert "Revoke access</button>" not in history


def test_the_flash_names_the_app(app, admin_client, company, admin, partner):
    partner_tokens(app, partner, admin, "shared")
    grant = the_grant()

    response = revoke(admin_client, grant.id)

    page = htmllib.unescape(admin_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Access revoked for “Partner App”." in page


def test_the_lists_own_button_revokes_too(app, admin_client, client, company, admin, partner):
    issued = partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    html = admin_client.get(API_PAGE).get_data(as_text=True)
    assert f'action="{grant_revoke_url(grant.id)}"' in html

    response = admin_client.post(grant_revoke_url(grant.id), data={"csrf_token": csrf_from(html)})

    assert response.status_code == 302
    assert me_status(client, issued["access_token"]) == 401


def test_revoking_twice_is_harmless(app, admin_client, signed_in, company, admin, partner):
    partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    revoke(admin_client, grant.id)
    first = fresh(grant).revoked_at
    second_admin = signed_in(make_admin(company, email="eve@acme.test"))

    response = revoke(second_admin, grant.id)

    assert response.status_code == 302
    row = fresh(grant)
    assert (row.revoked_at, row.revoked_by_id) == (first, admin.id)
    page = htmllib.unescape(second_admin.get(API_PAGE).get_data(as_text=True))
    assert "“Partner App” had no access left." in page


def test_revoking_one_grant_leaves_the_others(app, admin_client, client, company, admin, partner):
    mine = partner_tokens(app, partner, admin, "shared")
    other_app = register(name="Other App")
    theirs = partner_tokens(app, other_app, admin, "shared")
    grant_id = the_grant_of(partner)

    revoke(admin_client, grant_id)

    assert me_status(client, mine["access_token"]) == 401
    assert me_status(client, theirs["access_token"]) == 200
    assert listed_grants(apps_section(admin_client))[0][1] == "Other App"


def the_grant_of(partner: Partner) -> int:
    db.session.expire_all()
    return db.session.scalars(
        select(OAuthGrant.id).where(OAuthGrant.client_pk == partner.row.id)
    ).one()


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_revoke_needs_the_csrf_token(app, admin_client, client, company, admin, partner, csrf):
    issued = partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    admin_client.get(grant_page(grant.id))

    response = admin_client.post(
        grant_revoke_url(grant.id), data={} if csrf is None else {"csrf_token": csrf}
    )

    assert response.status_code == 400
    assert fresh(grant).revoked_at is None
    assert me_status(client, issued["access_token"]) == 200


def test_admin_of_another_company_gets_404_and_cannot_revoke(
    app, signed_in, client, company, admin, partner
):
    issued = partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    outsider = signed_in(make_admin(make_company("Globex")))

    assert outsider.get(grant_page(grant.id)).status_code == 404
    response = post_form(outsider, API_PAGE, grant_revoke_url(grant.id), {})

    assert response.status_code == 404
    assert fresh(grant).revoked_at is None
    assert me_status(client, issued["access_token"]) == 200
    assert listed_grants(apps_section(outsider)) == []


def test_a_teammate_gets_403_and_cannot_revoke(app, signed_in, client, company, admin, partner):
    issued = partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    mate = signed_in(make_teammate(company))
    csrf = csrf_from(mate.get("/preferences").get_data(as_text=True))

    assert mate.get(grant_page(grant.id)).status_code == 403
    assert mate.post(grant_revoke_url(grant.id), data={"csrf_token": csrf}).status_code == 403
    assert fresh(grant).revoked_at is None
    assert me_status(client, issued["access_token"]) == 200


@pytest.mark.parametrize("raw, status", [("abc", 400), ("0", 400), ("2147483648", 404)])
def test_odd_grant_ids(admin_client, company, raw, status):
    assert admin_client.get(grant_page(raw)).status_code == status
    assert post_form(admin_client, API_PAGE, grant_revoke_url(raw), {}).status_code == status


# --- No OAuth token from settings -------------------------------------------------------

# Every POST under /settings. A new one must be added here knowingly: none may mint a
# partner grant, code or token (SPEC: "no OAuth token can be created from the settings
# pages").
SETTINGS_POSTS = {
    "/settings/plugins-api/api/tokens/new",
    "/settings/plugins-api/api/tokens/<token_id>/revoke",
    "/settings/plugins-api/api/apps/<grant_id>/revoke",
    "/settings/teammates/<teammate_id>/private-api-access",
    "/settings/teammates/<teammate_id>/admin",
    "/settings/developers/new",
    "/settings/developers/<client_pk>/rotate-secret",
    "/settings/developers/<client_pk>/delete",
    "/settings/developers/<client_pk>/refresh-grace",
    "/settings/plugins-api/api/apps/policy",
    "/settings/plugins-api/api/apps/trusted-domains",
    "/settings/plugins-api/api/apps/requests/<approval_id>/<answer>",
    "/settings/plugins-api/api/apps/blocked/<client_pk>",
    "/settings/plugins-api/api/apps/blocked/<client_pk>/unblock",
    "/settings/plugins-api/api/apps/revoke-all",
    "/settings/developers/<client_pk>/max-scope",
    "/settings/teammates/two-factor",
    # Invitations: they create a teammate and e-mail a link to set a password, no token.
    "/settings/teammates/invite",
    "/settings/teammates/<teammate_id>/invitation/resend",
    "/settings/teammates/<teammate_id>/invitation/cancel",
    "/settings/teammates/scim-invitations",
    # Revocation events: where an app's events go, its signing secret, a test, a redelivery.
    "/settings/developers/<client_pk>/events-url",
    "/settings/developers/<client_pk>/events-secret",
    "/settings/developers/<client_pk>/events/test",
    "/settings/developers/<client_pk>/events/<delivery_id>/redeliver",
    # The lifetime policy of personal tokens (Plugins & API > API > Policy).
    "/settings/plugins-api/api/policy",
}


def settings_rules(app, method: str) -> set[str]:
    return {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/settings") and method in (rule.methods or ())
    }


def test_only_the_known_settings_routes_take_a_post(app):
    assert settings_rules(app, "POST") == SETTINGS_POSTS
    for method in ("PUT", "PATCH", "DELETE"):
        assert settings_rules(app, method) == set()


def test_no_settings_route_creates_an_oauth_grant_code_or_token(
    app, admin_client, company, admin, partner
):
    partner_tokens(app, partner, admin, "shared")
    grant = the_grant()
    token, _ = make_personal_token(company, actor=admin)
    own_app = register(name="Own", owner_company=company)
    before = {model: count(model) for model in (OAuthGrant, OAuthToken, AuthorizationCode)}
    ids = {"token_id": token.id, "grant_id": grant.id, "client_pk": own_app.row.id}
    ids["teammate_id"] = admin.id
    ids |= {"approval_id": 1, "answer": "approve", "delivery_id": "msg_0"}
    csrf = csrf_from(admin_client.get(API_PAGE).get_data(as_text=True))
    # Everything a form could smuggle: the settings forms' fields and OAuth's.
    data = {
        "csrf_token": csrf,
        "name": "Sneaky",
        "scope": "shared",
        "expires_in_days": "",
        "redirect_uris": "https://partner.example/cb",
        "client_type": "confidential",
        "allowed": "true",
        "grant_type": "client_credentials",
        "response_type": "token",
        "client_id": partner.client_id,
        "kind": "oauth",
    }

    for rule in sorted(settings_rules(app, "POST") | settings_rules(app, "GET")):
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m[1]]), rule)
        admin_client.get(url)
        admin_client.post(url, data=data)

    after = {model: count(model) for model in (OAuthGrant, OAuthToken, AuthorizationCode)}
    assert after == before
    # What the New Token form made is a personal token, never an OAuth one.
    made = db.session.scalars(select(PersonalToken).where(PersonalToken.name == "Sneaky")).one()
    assert made.kind == "personal"


# --- Paging -----------------------------------------------------------------------------


def test_apps_with_access_is_paged_with_an_apps_before_cursor(
    app, admin_client, company, admin, partner
):
    app.config["TOKEN_LIST_PAGE_SIZE"] = 2
    grants = [make_grant(company, register(name="Partner App"), admin) for _ in range(5)]
    ids = [g.id for g in reversed(grants)]  # newest first

    seen: list[int] = []
    url = API_PAGE
    pages = 0
    while url:
        section = apps_section(admin_client, url)
        seen += [grant_id for grant_id, _ in listed_grants(section)]
        pages += 1
        if pages > 1:
            assert 'href="/settings/plugins-api/api#apps-with-access">Newest apps</a>' in section
        older = re.search(r'href="([^"]+apps_before=\d+)#apps-with-access" rel="next"', section)
        url = older.group(1) if older else None

    assert seen == ids
    assert pages == 3


def test_a_full_last_page_of_apps_has_no_older_link(app, admin_client, company, admin, partner):
    app.config["TOKEN_LIST_PAGE_SIZE"] = 2
    for _ in range(2):
        make_grant(company, register(name="Partner App"), admin)
    assert "Older apps" not in apps_section(admin_client)


def test_apps_paging_leaves_the_token_list_alone(app, admin_client, company, admin, partner):
    app.config["TOKEN_LIST_PAGE_SIZE"] = 1
    make_personal_token(company, name="Zapier", actor=admin)
    first = make_grant(company, partner, admin)
    second = make_grant(company, register(name="Partner App"), admin)

    html = htmllib.unescape(
        admin_client.get(f"{API_PAGE}?apps_before={second.id}").get_data(as_text=True)
    )

    assert "Zapier" in html.split('id="apps-with-access"')[0]
    assert listed_grants(html) == [(first.id, "Partner App")]


@pytest.mark.parametrize("cursor", ["abc", "-1", "0", "1e3", ""])
def test_a_bad_apps_cursor_is_a_400(admin_client, cursor):
    assert admin_client.get(f"{API_PAGE}?apps_before={cursor}").status_code == 400


def test_a_cursor_past_any_id_is_the_first_page(admin_client, company, admin, partner):
    grant = make_grant(company, partner, admin)
    section = apps_section(admin_client, f"{API_PAGE}?apps_before=99999999999")
    assert listed_grants(section) == [(grant.id, "Partner App")]
