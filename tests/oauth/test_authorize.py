"""The authorization endpoint: sign-in, consent, and every refusal (RFC 6749 §4.1, 7636, 9207)."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest

from oauth_server.models import AuthorizationCode
from oauth_server.services import companies
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import REDIRECT_URI
from tests.factories import make_company
from tests.factories import make_team
from tests.factories import register
from tests.flows import ISSUER
from tests.flows import authorize_url
from tests.flows import consent
from tests.flows import error_page
from tests.flows import error_redirect
from tests.flows import exchange
from tests.flows import pkce
from tests.flows import redirect_params
from tests.isolation import count
from tests.isolation import rows


def test_signed_out_teammate_signs_in_then_sees_the_consent_page(client, workspace, partner):
    _, challenge = pkce()
    url = authorize_url(partner, "shared", challenge)

    response = client.get(url)

    assert response.status_code == 302
    login_page = response.headers["Location"]
    assert urlsplit(login_page).path == "/login"
    page = client.get(login_page)
    signed_in = client.post(
        "/login",
        data={
            "email": workspace.admin.email,
            "password": "wombat-42-pass",
            "next": url,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == url
    consent_page = client.get(url)
    assert consent_page.status_code == 200
    assert "Partner App wants access to Partnerco" in consent_page.get_data(as_text=True)


# Each error an authorize request can end in by redirect, before anyone signs in.
REDIRECTED_ERRORS = [
    pytest.param({"scope": "admin"}, "invalid_scope", id="unknown-scope"),
    pytest.param({"scope": 'sha"red'}, "invalid_scope", id="odd-scope"),
    pytest.param({"response_type": "token"}, "unsupported_response_type", id="response-type-token"),
    pytest.param({"response_type": "code token"}, "unsupported_response_type", id="hybrid"),
    pytest.param({"response_type": None}, "invalid_request", id="no-response-type"),
    pytest.param({"code_challenge_method": "plain"}, "invalid_request", id="plain-pkce"),
    pytest.param({"code_challenge_method": None}, "invalid_request", id="pkce-method-missing"),
    pytest.param(
        {"code_challenge": None, "code_challenge_method": None}, "invalid_request", id="no-pkce"
    ),
    pytest.param({"code_challenge": "too-short"}, "invalid_request", id="short-challenge"),
]


@pytest.mark.parametrize(("params", "error"), REDIRECTED_ERRORS)
def test_signed_out_visitor_meets_sign_in_before_any_error_redirect(
    client, workspace, partner, params, error
):
    """RFC 9700 §4.11.2: a crafted link must not bounce a stranger to the app's site."""
    _, challenge = pkce()
    params = {"scope": "shared", **params}
    url = authorize_url(partner, params.pop("scope"), challenge, **params)

    response = client.get(url)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost"), location  # never the app's host
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [url]
    assert count(AuthorizationCode) == 0

    signed_in = post_form(
        client,
        response.headers["Location"],
        "/login",
        {"email": workspace.admin.email, "password": "wombat-42-pass", "next": url},
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == url
    error_redirect(client.get(url), error)
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize(("params", "error"), REDIRECTED_ERRORS)
def test_signed_in_teammate_gets_the_error_redirect(client, workspace, partner, params, error):
    _, challenge = pkce()
    login(client, workspace.teammate.email)
    params = {"scope": "shared", **params}

    response = client.get(authorize_url(partner, params.pop("scope"), challenge, **params))

    error_redirect(response, error)


def test_consent_page_names_app_company_and_each_scope_by_label(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.admin.email)
    scope = f"shared private provisioning scim team:{workspace.team.id}"

    page = client.get(authorize_url(partner, scope, challenge))

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Partner App" in html and "Partnerco" in html
    for label in (
        "Shared resources",
        "Private resources",
        "Provisioning",
        "Auto-provisioning",
        "Team: Support",
    ):
        assert f">{label}</li>" in html
    assert 'value="allow"' in html and ">Allow</button>" in html
    assert 'value="deny"' in html and ">Deny</button>" in html
    assert count(AuthorizationCode) == 0  # showing the page issues nothing


@pytest.mark.parametrize("owner", ["operator", "other-company", "own-company"])
def test_consent_page_shows_where_the_browser_goes_and_who_registered_the_app(
    client, workspace, owner
):
    company = {
        "operator": None,
        "other-company": make_company("Globex"),
        "own-company": workspace.company,
    }[owner]
    uri = "https://callback.partner.example:8443/oauth/cb"
    app = register(name="Zap Sync", redirect_uris=[uri], owner_company=company)
    _, challenge = pkce()
    login(client, workspace.teammate.email)

    page = client.get(authorize_url(app, "private", challenge, redirect_uri=uri))

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    facts = html[html.index('id="app-facts"') :].split("</p>")[0]
    assert "<strong>callback.partner.example:8443</strong>" in facts
    if owner == "operator":
        assert "Zap Sync is registered by the server operator." in facts
    elif owner == "other-company":
        assert (
            "Zap Sync is registered by <strong>Globex</strong>, a company on this server." in facts
        )
    else:
        assert "Zap Sync is registered by <strong>Partnerco</strong> (your company)." in facts
    # The labels a person looks for are all still there.
    assert "Zap Sync wants access to Partnerco" in html
    assert ">Private resources</li>" in html
    assert ">Allow</button>" in html and ">Deny</button>" in html


def test_allow_redirects_with_a_code_state_and_iss(client, workspace, partner):
    verifier, challenge = pkce()
    login(client, workspace.admin.email)

    params = redirect_params(consent(client, authorize_url(partner, "shared private", challenge)))

    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == "state-123"
    assert params["iss"] == ISSUER
    assert params["code"].startswith("wsp_oac_")
    [stored] = rows(AuthorizationCode)
    assert stored.code_hash != params["code"]  # only a hash is kept
    assert (stored.scope, stored.redirect_uri) == ("shared private", REDIRECT_URI)
    assert (stored.code_challenge, stored.code_challenge_method) == (challenge, "S256")
    assert stored.teammate_id == workspace.admin.id
    assert stored.company_id == workspace.company.id


@pytest.mark.parametrize(
    "pkce_params",
    [
        pytest.param({"code_challenge": None, "code_challenge_method": None}, id="missing"),
        pytest.param({"code_challenge_method": None}, id="method-missing-means-plain"),
        pytest.param({"code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge_method": "s256"}, id="lowercase-method"),
        pytest.param({"code_challenge": "too-short"}, id="short-challenge"),
        pytest.param({"code_challenge": "x" * 42 + "!"}, id="bad-characters"),
        pytest.param({"code_challenge": "x" * 129}, id="too-long"),
    ],
)
def test_pkce_s256_is_required(client, workspace, partner, pkce_params):
    _, challenge = pkce()
    login(client, workspace.admin.email)
    params = {"code_challenge": challenge, "code_challenge_method": "S256", **pkce_params}
    url = authorize_url(partner, "shared", None, **params)

    error_redirect(client.get(url), "invalid_request")
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_pkce_is_required_of_every_client_kind(client, workspace, public):
    app = register(public=public, name="Kind App")
    login(client, workspace.admin.email)

    url = authorize_url(app, "shared", None, code_challenge_method=None)

    error_redirect(client.get(url), "invalid_request")


NEAR_MISSES = [
    REDIRECT_URI + "/",
    "http://[::1]:8765/callback",
    REDIRECT_URI + "?extra=1",
    REDIRECT_URI + "#fragment",
    "http://localhost:8765/callback",
    "https://127.0.0.1:8765/callback",
    "HTTP://127.0.0.1:8765/callback",
    "http://127.0.0.1:8765/Callback",
    "http://127.0.0.1:8765/callback/../callback",
    REDIRECT_URI + '"',
    REDIRECT_URI + "\\",
    REDIRECT_URI + "é",
    "https://attacker.example/callback",
]


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
@pytest.mark.parametrize("redirect_uri", NEAR_MISSES)
def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    client, workspace, partner, redirect_uri, signed_in
):
    _, challenge = pkce()
    if signed_in:
        login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge, redirect_uri=redirect_uri))

    error_page(response, "invalid_request")


@pytest.mark.parametrize(
    "client_id", ["wsp_app_000000000000000000000000", "", "x" * 200, 'quote"d', "é"]
)
def test_unknown_client_gets_an_error_page(client, workspace, partner, client_id):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge, client_id=client_id))

    error_page(response, "invalid_client")


def test_deleted_client_gets_an_error_page(client, workspace, partner):
    from oauth_server.services import clients

    clients.delete_client(partner.row, actor=None, via="test")
    _, challenge = pkce()
    login(client, workspace.admin.email)

    error_page(client.get(authorize_url(partner, "shared", challenge)), "invalid_client")


@pytest.mark.parametrize(
    ("response_type", "error"),
    [
        ("code", "invalid_request"),
        ("token", "unsupported_response_type"),
        (None, "invalid_request"),
    ],
)
def test_missing_redirect_uri_gets_an_error_page_not_the_registered_one(
    client, workspace, partner, response_type, error
):
    """RFC 9700 §2.1: no fallback to a registered redirect URI, even when there is one."""
    _, challenge = pkce()
    login(client, workspace.admin.email)

    url = authorize_url(
        partner, "shared", challenge, redirect_uri=None, response_type=response_type
    )

    error_page(client.get(url), error)


@pytest.mark.parametrize("response_type", ["token", "code token", "id_token", "code id_token"])
def test_other_response_types_are_refused_by_redirect(client, workspace, partner, response_type):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    url = authorize_url(partner, "shared", challenge, response_type=response_type)

    error_redirect(client.get(url), "unsupported_response_type")


@pytest.mark.parametrize("response_type", [None, ""])
def test_missing_response_type_is_an_invalid_request(client, workspace, partner, response_type):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    url = authorize_url(partner, "shared", challenge, response_type=response_type)

    error_redirect(client.get(url), "invalid_request")


def test_response_type_with_odd_characters_never_fails(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    url = authorize_url(partner, "shared", challenge, response_type='to"ken\\é')

    error_redirect(client.get(url), "unsupported_response_type")


def test_redirect_without_state_still_carries_iss(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = consent(client, authorize_url(partner, "shared", challenge, state=None), "deny")

    params = error_redirect(response, "access_denied", state=None)
    assert "state" not in params


@pytest.mark.parametrize(
    "scope",
    [
        "admin",
        "shared admin",
        "team:",
        "team:0",
        "team:abc",
        "SHARED",
        'sha"red',
        "sh\\ared",
        "partagé",
        "shared\x01",
        "x" * 2000,
    ],
)
def test_unknown_scope_is_an_invalid_scope_redirect(client, workspace, partner, scope):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    error_redirect(client.get(authorize_url(partner, scope, challenge)), "invalid_scope")
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize("scope", [None, "", "   "])
def test_no_scope_is_an_invalid_scope_redirect(client, workspace, partner, scope):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    error_redirect(client.get(authorize_url(partner, scope, challenge)), "invalid_scope")


@pytest.mark.parametrize("who", ["admin", "teammate"])
@pytest.mark.parametrize("case", ["scim-off-scale", "teams-off", "other-company-team", "gone-team"])
def test_scope_not_offered_to_the_company_is_an_invalid_scope_redirect(
    client, workspace, partner, case, who
):
    company = workspace.company
    if case == "scim-off-scale":
        companies.update_company(company, plan="growth")
        scope = "scim"
    elif case == "teams-off":
        companies.update_company(company, teams_feature=False)
        scope = f"team:{workspace.team.id}"
    elif case == "other-company-team":
        elsewhere = make_company("Elsewhere", teams_feature=True)
        scope = f"team:{make_team(elsewhere, 'Theirs').id}"
    else:
        scope = f"team:{workspace.other_team.id + 1000}"
    _, challenge = pkce()
    login(client, getattr(workspace, who).email)

    response = client.get(authorize_url(partner, f"private {scope}", challenge))

    error_redirect(response, "invalid_scope")
    assert count(AuthorizationCode) == 0


def test_teammate_sees_what_they_cannot_grant_and_the_grant_leaves_it_out(
    client, workspace, partner
):
    own, other = f"team:{workspace.team.id}", f"team:{workspace.other_team.id}"
    verifier, challenge = pkce()
    login(client, workspace.teammate.email)
    url = authorize_url(partner, f"shared {own} {other}", challenge)

    page = client.get(url).get_data(as_text=True)

    granted, _, unavailable = page.partition('id="unavailable-scopes"')
    assert "Team: Support" in granted
    assert "Shared resources" not in granted and "Team: Sales" not in granted
    assert "Shared resources" in unavailable and "Team: Sales" in unavailable
    assert unavailable.count("(unavailable)") == 2

    params = redirect_params(consent(client, url))
    [stored] = rows(AuthorizationCode)
    assert stored.scope == own
    token = exchange(client, partner, params["code"], verifier)
    assert token.status_code == 200
    assert token.get_json()["scope"] == own


@pytest.mark.parametrize("scope", ["private", "team:{own}", "private team:{own}"])
def test_teammate_may_grant_private_and_own_team_scopes(client, workspace, partner, scope):
    scope = scope.format(own=workspace.team.id)
    verifier, challenge = pkce()
    login(client, workspace.teammate.email)

    params = redirect_params(consent(client, authorize_url(partner, scope, challenge)))

    assert exchange(client, partner, params["code"], verifier).get_json()["scope"] == scope


@pytest.mark.parametrize("scope", ["shared", "provisioning", "scim", "shared provisioning"])
def test_nothing_grantable_ends_in_access_denied(client, workspace, partner, scope):
    _, challenge = pkce()
    login(client, workspace.teammate.email)
    url = authorize_url(partner, scope, challenge)

    page = client.get(url).get_data(as_text=True)

    assert "nothing here you can grant" in page
    assert 'value="allow"' not in page
    response = consent(client, url, "allow")  # even a forged Allow
    error_redirect(response, "access_denied")
    assert count(AuthorizationCode) == 0


def test_other_team_scope_alone_ends_in_access_denied(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.teammate.email)

    response = consent(client, authorize_url(partner, f"team:{workspace.other_team.id}", challenge))

    error_redirect(response, "access_denied")


@pytest.mark.parametrize("decision", ["deny", "", "maybe"])
def test_deny_ends_in_access_denied(client, workspace, partner, decision):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = consent(client, authorize_url(partner, "shared", challenge), decision)

    error_redirect(response, "access_denied")
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize("param", ["response_type", "client_id", "redirect_uri", "scope", "state"])
def test_duplicate_core_parameters_get_an_error_page(client, workspace, partner, param):
    """RFC 6749 §3.1: which of two values would we trust? Neither: no redirect."""
    _, challenge = pkce()
    login(client, workspace.admin.email)
    url = authorize_url(partner, "shared", challenge)
    value = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "shared",
        "state": "state-123",
    }[param]

    response = client.get(url + "&" + urlencode({param: value}))

    error_page(response, "invalid_request")


@pytest.mark.parametrize("param", ["code_challenge", "code_challenge_method"])
def test_duplicate_pkce_parameters_are_an_invalid_request(client, workspace, partner, param):
    _, challenge = pkce()
    login(client, workspace.admin.email)
    url = authorize_url(partner, "shared", challenge)
    value = challenge if param == "code_challenge" else "S256"

    response = client.get(url + "&" + urlencode({param: value}))

    error_redirect(response, "invalid_request")


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_consent_post_needs_the_csrf_token(client, workspace, partner, csrf):
    _, challenge = pkce()
    login(client, workspace.admin.email)
    url = authorize_url(partner, "shared", challenge)
    assert client.get(url).status_code == 200
    data = {"decision": "allow"}
    if csrf is not None:
        data["csrf_token"] = csrf

    response = client.post(url, data=data)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count(AuthorizationCode) == 0


def test_consent_post_with_another_sessions_csrf_token_issues_nothing(
    client, app, workspace, partner
):
    from tests.isolation import isolated_client

    _, challenge = pkce()
    url = authorize_url(partner, "shared", challenge)
    attacker = isolated_client(app)
    login(attacker, workspace.teammate.email)
    stolen = csrf_from(attacker.get(url).get_data(as_text=True))
    login(client, workspace.admin.email)

    response = client.post(url, data={"decision": "allow", "csrf_token": stolen})

    assert response.status_code == 400
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize("page", ["consent", "login", "error"])
def test_pages_cannot_be_framed(client, workspace, partner, page):
    _, challenge = pkce()
    url = authorize_url(partner, "shared", challenge)
    if page == "consent":
        login(client, workspace.admin.email)
    elif page == "login":
        url = "/login"
    else:
        url = authorize_url(partner, "shared", challenge, redirect_uri="https://evil.example/")

    response = client.get(url)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_consent_page_is_not_cached(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge))

    assert response.headers["Cache-Control"] == "no-store"


def test_oversized_parameter_gets_an_error_page(client, workspace, partner):
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge, state="s" * 10_000))

    error_page(response, "invalid_request")
