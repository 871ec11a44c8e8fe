"""Company settings > Plugins & API > API: the token list and the New Token form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from oauth_server import scopes
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import companies
from oauth_server.services.vault import vault
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_team
from tests.factories import make_teammate
from tests.settings.conftest import API_PAGE
from tests.settings.conftest import NEW_TOKEN_PAGE
from tests.settings.conftest import SCOPE_CASES
from tests.settings.conftest import offer
from tests.settings.conftest import token_page

VALUE_RE = re.compile(r'id="token-value" value="([^"]+)"')
SCOPE_LABEL_RE = re.compile(r'<label for="scope-\d+">([^<]+)</label>')
BASE_LABELS = [
    "Shared resources",
    "Shared resources (read only)",
    "Private resources",
    "Private resources (read only)",
    "Provisioning",
    "Token inventory",
]
SALES = ["Team: Sales", "Team: Sales (read only)"]
SUPPORT = ["Team: Support", "Team: Support (read only)"]


def offered_labels(client) -> list[str]:
    html = client.get(NEW_TOKEN_PAGE).get_data(as_text=True)
    return SCOPE_LABEL_RE.findall(html)


def create(client, **data):
    data.setdefault("expires_in_days", "")
    return post_form(client, NEW_TOKEN_PAGE, NEW_TOKEN_PAGE, data)


def token_count() -> int:
    return db.session.scalar(select(func.count()).select_from(PersonalToken))


# --- The path of the help article -------------------------------------------------------


def test_admin_finds_every_step_of_the_article(admin_client):
    home = admin_client.get("/").get_data(as_text=True)
    assert 'aria-label="Company settings"' in home
    assert re.search(r'<a class="gear" href="/settings/"[^>]*>.*Company settings</a>', home)

    settings = admin_client.get("/settings/", follow_redirects=True)
    html = settings.get_data(as_text=True)
    assert settings.status_code == 200
    assert ">Plugins &amp; API</a>" in html
    assert re.search(r'<nav class="tabs"[^>]*>\s*<a [^>]*>API</a>', html)
    assert f'href="{NEW_TOKEN_PAGE}">New Token</a>' in html

    form = admin_client.get(NEW_TOKEN_PAGE).get_data(as_text=True)
    assert '<label for="name">Name</label>' in form
    assert '<button type="submit" class="primary">Create</button>' in form
    assert 'type="radio"' in form


def test_pages_carry_no_inline_style_or_script(admin_client, company):
    token, _ = make_personal_token(company)
    # CSP default-src 'self' blocks inline style attributes and inline scripts.
    for page in (
        "/",
        API_PAGE,
        NEW_TOKEN_PAGE,
        token_page(token.id),
        "/settings/teammates",
        "/preferences",
    ):
        response = admin_client.get(page)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, page
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert " style=" not in html, page
        assert "<script>" not in html and " onclick=" not in html, page


# --- Which scopes the form offers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "teams", "extra"),
    [
        ("starter", False, []),
        ("growth", False, []),
        ("scale", False, ["Auto-provisioning"]),
        ("starter", True, [*SALES, *SUPPORT]),
        ("scale", True, ["Auto-provisioning", *SALES, *SUPPORT]),
    ],
)
def test_form_offers_scopes_by_plan_and_teams_feature(admin_client, company, plan, teams, extra):
    companies.update_company(company, plan=plan, teams_feature=teams)
    make_team(company, "Support")
    make_team(company, "Sales")
    other = make_company("Other", plan="scale", teams_feature=True)
    make_team(other, "Elsewhere")

    assert offered_labels(admin_client) == BASE_LABELS + extra


def test_teams_feature_without_teams_offers_no_team_choice(admin_client, company):
    companies.update_company(company, teams_feature=True)
    assert offered_labels(admin_client) == BASE_LABELS


def test_update_company_takes_scopes_off_the_form_and_refuses_them(admin_client, company):
    companies.update_company(company, plan="scale", teams_feature=True)
    team = make_team(company, "Sales")
    assert offered_labels(admin_client) == [*BASE_LABELS, "Auto-provisioning", *SALES]

    companies.update_company(company, plan="growth", teams_feature=False)

    assert offered_labels(admin_client) == BASE_LABELS
    for scope in (scopes.SCIM, scopes.team_scope(team.id)):
        response = create(admin_client, name="Too late", scope=scope)
        assert response.status_code == 400
        assert "This permission scope is not available." in response.get_data(as_text=True)
    assert token_count() == 0

    companies.update_company(company, plan="scale")
    assert offered_labels(admin_client) == [*BASE_LABELS, "Auto-provisioning"]


# --- Creating a token of each scope ----------------------------------------------------


@pytest.mark.parametrize("case", list(SCOPE_CASES))
def test_create_token_of_each_offered_scope(admin_client, client, company, admin, case):
    scope, label = offer(company, case)
    assert label in offered_labels(admin_client)

    response = create(admin_client, name=f"{case} sync", scope=scope)

    assert response.status_code == 302
    token = db.session.scalars(select(PersonalToken)).one()
    assert response.headers["Location"] == API_PAGE
    listing = admin_client.get(API_PAGE).get_data(as_text=True)
    assert f"Token “{case} sync” created. Click it to copy its value." in listing
    assert f'<a href="{token_page(token.id)}">{case} sync</a>' in listing
    assert (token.name, token.scope, token.company_id) == (f"{case} sync", scope, company.id)
    assert token.created_by_id == admin.id
    assert token.revoked_at is None and token.expires_at is None

    page = admin_client.get(token_page(token.id)).get_data(as_text=True)
    value = VALUE_RE.search(page).group(1)
    assert f"<td>{label}</td>" in page
    # Stored as a hash for lookup and only encrypted for copying again: never in clear.
    assert tokens.kind_of(value) is tokens.Kind.PERSONAL
    assert token.lookup_hash == tokens.lookup_hash(value) != value
    assert value.encode() not in token.encrypted_value
    assert vault().decrypt(token.encrypted_value) == value

    me = client.get("/api/v1/me", headers=bearer(value))
    assert me.status_code == 200
    assert me.json["kind"] == "personal"
    assert me.json["scopes"] == [scope]
    assert me.json["teammate"] == {"id": admin.id, "email": admin.email}


def test_created_token_shows_in_the_list_by_name_scope_and_creator(admin_client, company):
    create(admin_client, name="Zapier", scope=scopes.PROVISIONING)

    html = admin_client.get(API_PAGE).get_data(as_text=True)

    token = db.session.scalars(select(PersonalToken)).one()
    row = re.search(r"<tr>\s*<td><a [^>]*>Zapier</a></td>.*?</tr>", html, re.S).group(0)
    assert f'href="{token_page(token.id)}"' in row
    assert "<td>Provisioning</td>" in row
    assert "<td>Ada Admin</td>" in row
    assert token.created_at.strftime("%Y-%m-%d %H:%M UTC") in row
    assert "Never" in row


@pytest.mark.parametrize(("days", "delta"), [("7", 7), ("30", 30), ("365", 365)])
def test_expiry_choice_is_stored(admin_client, days, delta):
    response = create(admin_client, name="Short lived", scope="shared", expires_in_days=days)
    assert response.status_code == 302
    token = db.session.scalars(select(PersonalToken)).one()
    assert abs(token.expires_at - (token.created_at + timedelta(days=delta))) < timedelta(seconds=1)


def test_name_is_trimmed_and_100_characters_are_enough(admin_client):
    response = create(admin_client, name="  " + "n" * 100 + " ", scope="shared")
    assert response.status_code == 302
    assert db.session.scalars(select(PersonalToken)).one().name == "n" * 100


# --- Bad input: a clear error, a 400, nothing stored ------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "scope": "shared"}, "Name is required."),
        ({"name": "   ", "scope": "shared"}, "Name is required."),
        ({"scope": "shared"}, "Name is required."),
        ({"name": "n" * 101, "scope": "shared"}, "Name must be at most 100 characters."),
        ({"name": "No scope"}, "Choose a permission scope."),
        ({"name": "No scope", "scope": ""}, "Choose a permission scope."),
        ({"name": "Unknown", "scope": "admin"}, "This permission scope is not available."),
        ({"name": "Two", "scope": "shared private"}, "This permission scope is not available."),
        ({"name": "Team?", "scope": "team:abc"}, "This permission scope is not available."),
        ({"name": "Team 0", "scope": "team:0"}, "This permission scope is not available."),
        ({"name": "SCIM", "scope": "scim"}, "This permission scope is not available."),
        (
            {"name": "Expiry", "scope": "shared", "expires_in_days": "5"},
            "Choose one of the offered expirations.",
        ),
        (
            {"name": "Expiry", "scope": "shared", "expires_in_days": "soon"},
            "Choose one of the offered expirations.",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(admin_client, data, message):
    response = create(admin_client, **data)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<p class="error">{message}</p>' in html
    assert "<h2>New Token</h2>" in html
    assert token_count() == 0


@pytest.mark.parametrize("plan", ["starter", "growth"])
def test_forged_scim_scope_is_refused_below_scale(admin_client, company, plan):
    companies.update_company(company, plan=plan)
    response = create(admin_client, name="Forged", scope=scopes.SCIM)
    assert response.status_code == 400
    assert token_count() == 0


def test_team_scope_is_refused_without_the_teams_feature(admin_client, company):
    team = make_team(company, "Sales")
    response = create(admin_client, name="Forged", scope=scopes.team_scope(team.id))
    assert response.status_code == 400
    assert "This permission scope is not available." in response.get_data(as_text=True)
    assert token_count() == 0


def test_team_scope_of_another_company_is_refused(admin_client, company):
    companies.update_company(company, teams_feature=True)
    make_team(company, "Sales")
    other = make_company("Other", teams_feature=True)
    foreign = make_team(other, "Theirs")

    response = create(admin_client, name="Forged", scope=scopes.team_scope(foreign.id))

    assert response.status_code == 400
    assert "This permission scope is not available." in response.get_data(as_text=True)
    assert token_count() == 0


@pytest.mark.parametrize("csrf", [None, "", "not-a-token"])
def test_new_token_needs_the_csrf_token(admin_client, csrf):
    data = {"name": "No CSRF", "scope": "shared"}
    if csrf is not None:
        data["csrf_token"] = csrf
    response = admin_client.post(NEW_TOKEN_PAGE, data=data)
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert token_count() == 0


def test_csrf_token_of_another_session_is_refused(admin_client, signed_in, company):
    other_admin = make_admin(company)
    other_client = signed_in(other_admin)
    foreign_csrf = csrf_from(other_client.get(NEW_TOKEN_PAGE).get_data(as_text=True))

    response = admin_client.post(
        NEW_TOKEN_PAGE, data={"name": "x", "scope": "shared", "csrf_token": foreign_csrf}
    )

    assert response.status_code == 400
    assert token_count() == 0


# --- The list ---------------------------------------------------------------------------


def test_list_is_newest_first_and_never_shows_a_value(admin_client, company):
    made = [make_personal_token(company, name=f"Token {i}") for i in range(3)]

    html = admin_client.get(API_PAGE).get_data(as_text=True)

    names = re.findall(r"<td><a [^>]*>(Token \d)</a></td>", html)
    assert names == ["Token 2", "Token 1", "Token 0"]
    for _token, value in made:
        assert value not in html
        assert value[-12:] not in html


def test_list_shows_last_used_after_an_api_call(admin_client, client, company):
    token, value = make_personal_token(company, name="Used")
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200

    html = admin_client.get(API_PAGE).get_data(as_text=True)

    db.session.expire_all()
    stamp = db.session.get(PersonalToken, token.id).last_used_at
    assert stamp is not None and utcnow() - stamp < timedelta(minutes=1)
    assert f'<time datetime="{stamp.isoformat()}">' in html


def test_list_shows_revoked_and_expired_tokens_with_their_status(admin_client, company, admin):
    from oauth_server.services import revocation

    revoked, _ = make_personal_token(company, name="Gone")
    revocation.revoke(revoked, actor=admin, via="settings")
    db.session.commit()
    expired, _ = make_personal_token(company, name="Old", expires_in_days=7)
    expired.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()

    html = admin_client.get(API_PAGE).get_data(as_text=True)

    assert '<span class="badge revoked">Revoked</span>' in html
    assert '<span class="badge expired">Expired</span>' in html


def test_list_is_paginated_with_a_before_cursor(app, admin_client, company):
    app.config["TOKEN_LIST_PAGE_SIZE"] = 2
    made = [make_personal_token(company, name=f"Token {i}")[0] for i in range(5)]

    def page(url):
        html = admin_client.get(url).get_data(as_text=True)
        names = re.findall(r"<td><a [^>]*>(Token \d)</a></td>", html)
        older = re.search(r'href="([^"]+)" rel="next">Older tokens</a>', html)
        return names, older.group(1).replace("&amp;", "&") if older else None

    first, next_url = page(API_PAGE)
    assert first == ["Token 4", "Token 3"]
    assert next_url == f"{API_PAGE}?before={made[3].id}"
    second, next_url = page(next_url)
    assert second == ["Token 2", "Token 1"]
    third, next_url = page(next_url)
    assert third == ["Token 0"]
    assert next_url is None


def test_a_full_last_page_has_no_older_link(app, admin_client, company):
    app.config["TOKEN_LIST_PAGE_SIZE"] = 2
    for i in range(2):
        make_personal_token(company, name=f"Token {i}")
    assert "Older tokens" not in admin_client.get(API_PAGE).get_data(as_text=True)


@pytest.mark.parametrize("cursor", ["abc", "-1", "0", "1.5", "9" * 19, "١٢"])
def test_bad_cursor_is_a_400(admin_client, company, cursor):
    make_personal_token(company)
    response = admin_client.get(API_PAGE, query_string={"before": cursor})
    assert response.status_code == 400
    assert "A token id is a positive whole number." in response.get_data(as_text=True)


def test_a_token_cursor_past_any_id_is_the_first_page(admin_client, company):
    # Past the 32-bit id columns: PostgreSQL would refuse to compare it (a 500).
    make_personal_token(company, name="Only")
    response = admin_client.get(API_PAGE, query_string={"before": "99999999999"})
    assert response.status_code == 200
    assert ">Only</a>" in response.get_data(as_text=True)


def test_list_shows_only_this_companys_tokens(admin_client, company):
    make_personal_token(company, name="Ours")
    other = make_company("Other")
    make_personal_token(other, name="Theirs")

    html = admin_client.get(API_PAGE).get_data(as_text=True)

    assert ">Ours</a>" in html
    assert "Theirs" not in html


# --- Who may open these pages -----------------------------------------------------------


def test_non_admin_sees_no_company_settings(signed_in, company):
    teammate = make_teammate(company)
    html = signed_in(teammate).get("/").get_data(as_text=True)
    assert "Company settings" not in html
    assert "/settings/" not in html
    assert "Preferences" in html


def settings_routes(app) -> list[tuple[str, str]]:
    """Every (method, URL rule) under /settings, the ones other features add included."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/settings")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def test_the_known_settings_routes_are_all_checked(app):
    routes = settings_routes(app)
    assert ("GET", "/settings/plugins-api/api/tokens/<token_id>") in routes
    assert ("POST", "/settings/teammates/<teammate_id>/private-api-access") in routes


def test_non_admin_gets_403_on_every_settings_url(app, signed_in, company, admin):
    token, value = make_personal_token(company, actor=admin)
    teammate = make_teammate(company)
    client = signed_in(teammate)
    csrf = csrf_from(client.get("/preferences").get_data(as_text=True))
    data = {"csrf_token": csrf, "name": "x", "scope": "shared", "allowed": "true"}

    for method, rule in settings_routes(app):
        # Any id will do (the check comes first); ours are real so nothing leaks by luck.
        url = re.sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: str(teammate.id if "teammate" in m[1] else token.id),
            rule,
        )
        response = client.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, (method, url)
        assert value not in response.get_data(as_text=True)

    assert token_count() == 1
    db.session.expire_all()
    assert db.session.get(PersonalToken, token.id).revoked_at is None
    assert db.session.get(type(teammate), teammate.id).private_api_access is False


@pytest.mark.parametrize("url", ["/settings/", API_PAGE, NEW_TOKEN_PAGE, "/settings/teammates"])
def test_anonymous_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_admin_of_another_company_cannot_list_our_tokens(signed_in, company):
    make_personal_token(company, name="Ours")
    outsider = make_admin(make_company("Other"))
    html = signed_in(outsider).get(API_PAGE).get_data(as_text=True)
    assert "Ours" not in html
    assert "No API tokens yet." in html
