"""``POST /oauth/introspect`` (RFC 7662): resource servers only, both kinds, with ``token_kind``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import clients
from oauth_server.services import companies
from oauth_server.services import revocation
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import ISSUER
from tests.flows import basic
from tests.flows import issue
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import rows


@pytest.fixture
def resource_server():
    return register(name="Resource Server", introspection=True)


def introspect(client, caller, token, **extra):
    return client.post(
        "/oauth/introspect",
        data={"token": token, **extra},
        headers=basic(caller.client_id, caller.client_secret),
    )


def answer(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert None not in body.values(), body  # absent fields are left out, never null
    return body


def test_resource_server_introspects_an_access_token_with_authlib(
    client, live_server, workspace, partner, resource_server
):
    token = issue(client, partner, workspace.admin.email, "shared private")
    session = OAuth2Session(
        resource_server.client_id,
        resource_server.client_secret,
        token_endpoint_auth_method="client_secret_basic",
    )

    response = session.introspect_token(
        live_server.url + "/oauth/introspect", token=token["access_token"]
    )

    body = answer(response)
    assert body["active"] is True
    assert body["token_kind"] == "oauth"
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "shared private"
    assert body["client_id"] == partner.client_id
    assert body["sub"] == str(workspace.admin.id)
    assert body["username"] == workspace.admin.email
    assert body["iss"] == ISSUER
    assert body["company_id"] == workspace.company.id
    assert body["exp"] - body["iat"] == 3600


def test_refresh_token_is_answered_without_a_token_type(
    client, workspace, partner, resource_server
):
    token = issue(client, partner, workspace.admin.email)

    body = answer(introspect(client, resource_server, token["refresh_token"]))

    assert body["active"] is True and body["token_kind"] == "oauth"
    assert "token_type" not in body
    assert body["client_id"] == partner.client_id


@pytest.mark.parametrize("expires_in_days", [None, 7])
def test_personal_token_is_answered_with_token_kind_personal(
    client, workspace, resource_server, expires_in_days
):
    row, value = make_personal_token(
        workspace.company, "provisioning", actor=workspace.admin, expires_in_days=expires_in_days
    )

    body = answer(introspect(client, resource_server, value))

    assert body["active"] is True
    assert body["token_kind"] == "personal"
    assert body["scope"] == "provisioning"
    assert body["sub"] == str(workspace.admin.id)
    assert body["company_id"] == workspace.company.id
    assert "client_id" not in body
    assert ("exp" in body) is (expires_in_days is not None)


def test_personal_token_without_creator_leaves_sub_out(client, workspace, resource_server):
    row, value = make_personal_token(workspace.company)
    db.session.execute(
        update(PersonalToken).where(PersonalToken.id == row.id).values(created_by_id=None)
    )
    db.session.commit()

    body = answer(introspect(client, resource_server, value))

    assert body["active"] is True
    assert "sub" not in body and "username" not in body


def test_scope_is_what_the_company_still_offers(client, workspace, partner, resource_server):
    token = issue(client, partner, workspace.admin.email, "shared scim")
    companies.update_company(workspace.company, plan="growth")

    assert answer(introspect(client, resource_server, token["access_token"]))["scope"] == "shared"


def _revoked_personal(workspace):
    row, value = make_personal_token(workspace.company)
    revocation.revoke(row, actor=workspace.admin, via="settings")
    db.session.commit()
    return value


def _expired_personal(workspace):
    row, value = make_personal_token(workspace.company, expires_in_days=7)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return value


@pytest.mark.parametrize(
    "case",
    [
        "unknown",
        "garbage",
        "code",
        "revoked-personal",
        "expired-personal",
        "revoked-access",
        "rotated-refresh",
        "revoked-grant",
        "expired-access",
        "deleted-app",
    ],
)
def test_dead_tokens_are_inactive_and_nothing_else(
    client, workspace, partner, resource_server, case
):
    token = issue(client, partner, workspace.admin.email)
    value = token["access_token"]
    if case == "unknown":
        value = "wsp_oat_" + "A" * 38
    elif case == "garbage":
        value = "not a token"
    elif case == "code":
        value = "wsp_oac_" + "A" * 38
    elif case == "revoked-personal":
        value = _revoked_personal(workspace)
    elif case == "expired-personal":
        value = _expired_personal(workspace)
    elif case == "revoked-access":
        client.post(
            "/oauth/revoke",
            data={"token": value},
            headers=basic(partner.client_id, partner.client_secret),
        )
    elif case == "rotated-refresh":
        refresh(client, partner, token["refresh_token"])
        value = token["refresh_token"]
    elif case == "revoked-grant":
        revocation.revoke(rows_grant(), actor=workspace.admin, via="settings")
        db.session.commit()
    elif case == "expired-access":
        from oauth_server.models import OAuthToken

        db.session.execute(
            update(OAuthToken).values(access_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    elif case == "deleted-app":
        clients.delete_client(partner.row, actor=None, via="test")

    assert answer(introspect(client, resource_server, value)) == {"active": False}


def rows_grant():
    from oauth_server.models import OAuthGrant

    [grant] = rows(OAuthGrant)
    return grant


def test_deactivated_teammates_token_is_inactive(client, workspace, partner, resource_server):
    token = issue(client, partner, workspace.teammate.email, "private")
    workspace.teammate.active = False
    db.session.commit()

    assert answer(introspect(client, resource_server, token["access_token"])) == {"active": False}


@pytest.mark.parametrize("caller", ["partner", "public", "other-confidential"])
def test_only_clients_registered_for_introspection_may_call(
    client, workspace, partner, public_partner, caller
):
    token = issue(client, partner, workspace.admin.email)
    if caller == "partner":
        response = introspect(client, partner, token["access_token"])
    elif caller == "public":
        response = client.post(
            "/oauth/introspect",
            data={"token": token["access_token"], "client_id": public_partner.client_id},
        )
    else:
        response = introspect(client, register(name="Plain"), token["access_token"])

    body = oauth_error(response, "invalid_client", 401)
    assert "active" not in body


@pytest.mark.parametrize("auth", ["none", "wrong-secret", "personal-bearer"])
def test_introspection_needs_client_authentication(
    client, workspace, partner, resource_server, auth
):
    token = issue(client, partner, workspace.admin.email)
    _, personal = make_personal_token(workspace.company)
    headers = {
        "none": {},
        "wrong-secret": basic(resource_server.client_id, "wrong"),
        "personal-bearer": {"Authorization": f"Bearer {personal}"},
    }[auth]

    response = client.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=headers
    )

    oauth_error(response, "invalid_client", 401)


def test_missing_token_is_an_invalid_request(client, resource_server):
    response = client.post(
        "/oauth/introspect",
        data={},
        headers=basic(resource_server.client_id, resource_server.client_secret),
    )

    oauth_error(response, "invalid_request")


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "weird"])
def test_hint_never_hides_a_token(client, workspace, partner, resource_server, hint):
    token = issue(client, partner, workspace.admin.email)

    for part in ("access_token", "refresh_token"):
        body = answer(introspect(client, resource_server, token[part], token_type_hint=hint))
        assert body["active"] is True
