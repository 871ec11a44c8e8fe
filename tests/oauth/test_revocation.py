"""``POST /oauth/revoke``: RFC 7009 for partner tokens, Bearer self-revocation for personal ones."""

from __future__ import annotations

import pytest
from authlib.integrations.requests_client import OAuth2Session

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.services import clients
from oauth_server.services import revocation
from oauth_server.tokens import lookup_hash
from tests.conftest import bearer
from tests.conftest import login
from tests.factories import REDIRECT_URI
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import consent
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import pkce
from tests.flows import redirect_params
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import isolated_client
from tests.isolation import rows


def revoke(client, partner, token, **extra):
    """A client's RFC 7009 request: Basic for a confidential client, client_id for a public one."""
    data = {"token": token, **extra}
    headers = {}
    if partner.client_secret:
        headers = basic(partner.client_id, partner.client_secret)
    else:
        data["client_id"] = partner.client_id
    return client.post("/oauth/revoke", data=data, headers=headers)


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return response


def _pair(token):
    [row] = rows(OAuthToken, OAuthToken.access_hash == lookup_hash(token["access_token"]))
    return row


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_client_revokes_its_access_token_and_the_refresh_token_lives_on(
    client, live_server, workspace, partner, hint
):
    code, verifier = get_code(client, partner, workspace.admin.email)
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        redirect_uri=REDIRECT_URI,
        revocation_endpoint_auth_method="client_secret_basic",
    )
    token = session.fetch_token(live_server.url + "/oauth/token", code=code, code_verifier=verifier)

    response = session.revoke_token(
        live_server.url + "/oauth/revoke", token=token["access_token"], token_type_hint=hint
    )

    assert response.status_code == 200
    assert me_status(client, token["access_token"]) == 401
    pair = _pair(token)
    assert pair.access_revoked_at is not None
    assert pair.revoked_at is None and rows(OAuthGrant)[0].revoked_at is None
    renewed = refresh(client, partner, token["refresh_token"])
    assert renewed.status_code == 200
    assert me_status(client, renewed.get_json()["access_token"]) == 200


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_client_revokes_its_refresh_token_and_the_grant_dies_with_it(
    client, live_server, workspace, partner, hint
):
    first = issue(client, partner, workspace.admin.email)
    second = refresh(client, partner, first["refresh_token"]).get_json()
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        token=second,
        revocation_endpoint_auth_method="client_secret_post",
    )

    response = session.revoke_token(
        live_server.url + "/oauth/revoke", token=second["refresh_token"], token_type_hint=hint
    )

    assert response.status_code == 200
    assert me_status(client, first["access_token"]) == 401
    assert me_status(client, second["access_token"]) == 401
    oauth_error(refresh(client, partner, second["refresh_token"]), "invalid_grant")
    [grant] = rows(OAuthGrant)
    assert grant.revoked_at is not None and grant.revoked_via == "rfc7009"
    assert all(pair.revoked_at is not None for pair in rows(OAuthToken))
    assert count(OAuthToken) == 2  # kept, stamped


def test_public_client_revokes_with_its_client_id(client, workspace, public_partner):
    token = issue(client, public_partner, workspace.admin.email)

    ok(revoke(client, public_partner, token["refresh_token"]))

    assert me_status(client, token["access_token"]) == 401


@pytest.mark.parametrize("part", ["access_token", "refresh_token"])
@pytest.mark.parametrize("intruder_kind", ["confidential", "public"])
def test_another_clients_token_is_refused_and_left_alone(
    client, workspace, partner, part, intruder_kind
):
    token = issue(client, partner, workspace.admin.email)
    intruder = register(public=intruder_kind == "public", name="Intruder")

    response = revoke(client, intruder, token[part])

    body = oauth_error(response, "invalid_grant")
    assert "another client" in body["error_description"]
    assert me_status(client, token["access_token"]) == 200
    pair = _pair(token)
    assert (pair.access_revoked_at, pair.revoked_at) == (None, None)
    assert rows(OAuthGrant)[0].revoked_at is None


@pytest.mark.parametrize(
    "value",
    [
        "wsp_oat_" + "A" * 38,  # well-formed, bad checksum
        "nonsense",
        "wsp_oac_" + "B" * 38,
        "x" * 4000,
    ],
)
def test_unknown_token_answers_200(client, workspace, partner, value):
    """RFC 7009 §2.2: an invalid token is no error (nothing to tell an attacker)."""
    token = issue(client, partner, workspace.admin.email)

    ok(revoke(client, partner, value))

    assert me_status(client, token["access_token"]) == 200


def test_a_code_is_not_revocable_here(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)

    ok(revoke(client, partner, code))

    assert exchange(client, partner, code, verifier).status_code == 200


def test_unknown_token_type_hint_is_ignored(client, workspace, partner):
    """RFC 7009 §2.1: the server MAY ignore the hint and searches every kind anyway."""
    token = issue(client, partner, workspace.admin.email)

    ok(revoke(client, partner, token["access_token"], token_type_hint="weird"))

    assert me_status(client, token["access_token"]) == 401


def test_wrong_hint_still_finds_the_token(client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)

    ok(revoke(client, partner, token["refresh_token"], token_type_hint="access_token"))

    assert rows(OAuthGrant)[0].revoked_at is not None


def test_missing_token_is_an_invalid_request(client, partner):
    response = client.post(
        "/oauth/revoke", data={}, headers=basic(partner.client_id, partner.client_secret)
    )

    oauth_error(response, "invalid_request")


@pytest.mark.parametrize("auth", ["none", "wrong-secret", "unknown-client"])
def test_revocation_needs_client_authentication(client, workspace, partner, auth):
    token = issue(client, partner, workspace.admin.email)
    data = {"token": token["access_token"]}
    headers = {}
    if auth == "none":
        data["client_id"] = partner.client_id  # a confidential client must authenticate
    elif auth == "wrong-secret":
        headers = basic(partner.client_id, "wrong")
    else:
        headers = basic("wsp_app_nobody", "secret")

    response = client.post("/oauth/revoke", data=data, headers=headers)

    oauth_error(response, "invalid_client", 401)
    assert me_status(client, token["access_token"]) == 200


# --- personal tokens --------------------------------------------------------------------------


def test_personal_token_revokes_itself_with_bearer(client, workspace):
    row, value = make_personal_token(workspace.company)

    response = client.post("/oauth/revoke", data={"token": value}, headers=bearer(value))

    ok(response)
    assert me_status(client, value) == 401
    [stored] = rows(PersonalToken)
    assert stored.revoked_at is not None and stored.revoked_via == "rfc7009"
    # Idempotent: the same request again is still a 200 and keeps the first stamp.
    ok(client.post("/oauth/revoke", data={"token": value}, headers=bearer(value)))
    assert rows(PersonalToken)[0].revoked_at == stored.revoked_at


def test_personal_token_cannot_revoke_another_personal_token(client, workspace):
    _, mine = make_personal_token(workspace.company)
    other_row, other = make_personal_token(workspace.company)

    response = client.post("/oauth/revoke", data={"token": other}, headers=bearer(mine))

    oauth_error(response, "invalid_grant")
    assert me_status(client, other) == 200 and me_status(client, mine) == 200
    assert all(row.revoked_at is None for row in rows(PersonalToken))


def test_personal_token_cannot_revoke_an_oauth_token(client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    _, mine = make_personal_token(workspace.company)

    for part in ("access_token", "refresh_token"):
        response = client.post("/oauth/revoke", data={"token": token[part]}, headers=bearer(mine))
        oauth_error(response, "invalid_grant")

    assert me_status(client, token["access_token"]) == 200
    assert rows(OAuthGrant)[0].revoked_at is None


def test_personal_bearer_without_token_parameter_is_an_invalid_request(client, workspace):
    _, value = make_personal_token(workspace.company)

    oauth_error(client.post("/oauth/revoke", data={}, headers=bearer(value)), "invalid_request")
    assert me_status(client, value) == 200


@pytest.mark.parametrize("kind", ["unknown-personal", "garbage", "oauth-access"])
def test_bearer_that_is_no_known_personal_token_gets_401(client, workspace, partner, kind):
    token = issue(client, partner, workspace.admin.email)
    value = {
        "unknown-personal": "wsp_pat_" + "C" * 38,
        "garbage": "garbage",
        "oauth-access": token["access_token"],
    }[kind]

    response = client.post("/oauth/revoke", data={"token": value}, headers=bearer(value))

    oauth_error(response, "invalid_token", 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert me_status(client, token["access_token"]) == 200


def test_a_partner_cannot_revoke_a_personal_token(client, workspace, partner):
    """Unknown to the partner: 200 as for any unknown token, and untouched."""
    row, value = make_personal_token(workspace.company)

    ok(revoke(client, partner, value))

    assert me_status(client, value) == 200
    assert rows(PersonalToken)[0].revoked_at is None


# --- grants and apps --------------------------------------------------------------------------


def _pending_code(client, partner, email=None, scope="shared"):
    """Consent again without redeeming: a pending code (signs in first if ``email``)."""
    verifier, challenge = pkce()
    if email:
        login(client, email)
    url = authorize_url(partner, scope, challenge, prompt="consent")  # the page every time
    params = redirect_params(consent(client, url))
    return params["code"], verifier


@pytest.mark.parametrize("door", ["settings", "rfc7009"])
def test_revoking_a_grant_kills_its_pending_codes(client, workspace, partner, door):
    token = issue(client, partner, workspace.admin.email)
    code, verifier = _pending_code(client, partner)  # already signed in

    if door == "settings":
        [grant] = rows(OAuthGrant)
        assert revocation.revoke(grant, actor=workspace.admin, via="settings") is True
        db.session.commit()
    else:
        ok(revoke(client, partner, token["refresh_token"]))

    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")
    assert me_status(client, token["access_token"]) == 401
    assert count(OAuthGrant) == 1  # the pending code made no new grant
    assert all(
        c.revoked_at is not None
        for c in rows(AuthorizationCode, AuthorizationCode.used_at.is_(None))
    )


def test_revoking_a_grant_leaves_other_grants_alone(client, app, workspace, partner):
    mine = issue(client, partner, workspace.admin.email)
    theirs = issue(isolated_client(app), partner, workspace.teammate.email, "private")
    other_app = register(name="Other App")
    elsewhere = issue(isolated_client(app), other_app, workspace.admin.email)

    ok(revoke(client, partner, mine["refresh_token"]))

    assert me_status(client, mine["access_token"]) == 401
    assert me_status(client, theirs["access_token"]) == 200
    assert me_status(client, elsewhere["access_token"]) == 200


def test_deleting_an_app_revokes_its_grants_in_every_company_and_its_codes(
    client, app, workspace, partner
):
    elsewhere = make_company("Elsewhere")
    elsewhere_admin = make_admin(elsewhere, email="admin@elsewhere.test")
    issued = [
        issue(client, partner, workspace.admin.email),
        issue(isolated_client(app), partner, workspace.teammate.email, "private"),
        issue(isolated_client(app), partner, elsewhere_admin.email),
    ]
    pending = _pending_code(isolated_client(app), partner, elsewhere_admin.email)
    bystander = register(name="Bystander")
    kept = issue(isolated_client(app), bystander, workspace.admin.email)
    before = count(OAuthToken)

    clients.delete_client(partner.row, actor=workspace.admin, via="settings")

    for token in issued:
        assert me_status(client, token["access_token"]) == 401
    grants = rows(OAuthGrant, OAuthGrant.client_pk == partner.row.id)
    assert len(grants) == 3
    assert all(g.revoked_at is not None and g.revoked_via == "settings" for g in grants)
    assert {g.company_id for g in grants} == {workspace.company.id, elsewhere.id}
    codes = rows(AuthorizationCode, AuthorizationCode.client_pk == partner.row.id)
    assert all(c.used_at is not None or c.revoked_at is not None for c in codes)
    assert count(OAuthToken) == before  # history kept
    assert me_status(client, kept["access_token"]) == 200
    # The app itself is gone for the protocol.
    oauth_error(exchange(client, partner, *pending), "invalid_client", 401)


def test_revoked_rows_are_kept_with_revoked_at(client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    personal_row, personal = make_personal_token(workspace.company)

    ok(revoke(client, partner, token["access_token"]))
    ok(revoke(client, partner, token["refresh_token"]))
    ok(client.post("/oauth/revoke", data={"token": personal}, headers=bearer(personal)))

    assert count(OAuthToken) == 1 and count(OAuthGrant) == 1 and count(PersonalToken) == 1
    [pair] = rows(OAuthToken)
    assert pair.access_revoked_at is not None and pair.revoked_at is not None
    assert rows(OAuthGrant)[0].revoked_at is not None
    assert rows(PersonalToken)[0].revoked_at is not None
