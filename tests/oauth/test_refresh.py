"""The refresh_token grant: rotation, reuse detection, no widening (RFC 6749 §6, RFC 9700 §4.14)."""

from __future__ import annotations

import pytest
from authlib.integrations.requests_client import OAuth2Session

from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.services import companies
from oauth_server.tokens import lookup_hash
from tests.factories import REDIRECT_URI
from tests.factories import register
from tests.flows import basic
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import rows


def _pair(refresh_token):
    [row] = rows(OAuthToken, OAuthToken.refresh_hash == lookup_hash(refresh_token))
    return row


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_refresh_rotates_with_authlib(client, live_server, workspace, public):
    partner = register(public=public)
    code, verifier = get_code(client, partner, workspace.admin.email, "shared private")
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
    )
    first = session.fetch_token(live_server.url + "/oauth/token", code=code, code_verifier=verifier)

    second = session.refresh_token(live_server.url + "/oauth/token")

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "shared private"
    assert session.get(live_server.url + "/api/v1/me").status_code == 200
    old, new = _pair(first["refresh_token"]), _pair(second["refresh_token"])
    assert old.refresh_used_at is not None and old.revoked_at is None
    assert new.refresh_used_at is None and new.grant_id == old.grant_id
    assert count(OAuthGrant) == 1
    # A third turn works from the newest refresh token.
    third = session.refresh_token(live_server.url + "/oauth/token")
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


def test_old_access_token_lives_until_it_expires(client, workspace, partner):
    """Rotation replaces the refresh token; the previous access token is short-lived anyway."""
    first = issue(client, partner, workspace.admin.email)

    assert refresh(client, partner, first["refresh_token"]).status_code == 200

    assert me_status(client, first["access_token"]) == 200


def test_reused_refresh_token_revokes_the_whole_grant(client, workspace, partner):
    first = issue(client, partner, workspace.admin.email)
    second = refresh(client, partner, first["refresh_token"]).get_json()
    third = refresh(client, partner, second["refresh_token"]).get_json()

    oauth_error(refresh(client, partner, first["refresh_token"]), "invalid_grant")

    for token in (first, second, third):
        assert me_status(client, token["access_token"]) == 401
    oauth_error(refresh(client, partner, third["refresh_token"]), "invalid_grant")
    [grant] = rows(OAuthGrant)
    assert grant.revoked_at is not None and grant.revoked_via == "refresh_reuse"
    assert all(pair.revoked_at is not None for pair in rows(OAuthToken))
    assert count(OAuthToken) == 3  # kept as history


def test_refresh_cannot_widen_the_scope_and_the_refused_request_costs_nothing(
    client, workspace, partner
):
    token = issue(client, partner, workspace.admin.email, "shared")

    for wider in ("shared private", "private", "provisioning", f"team:{workspace.team.id}"):
        oauth_error(refresh(client, partner, token["refresh_token"], scope=wider), "invalid_scope")

    # A refused request neither spends the refresh token nor counts as reuse.
    assert _pair(token["refresh_token"]).refresh_used_at is None
    again = refresh(client, partner, token["refresh_token"])
    assert again.status_code == 200
    assert again.get_json()["scope"] == "shared"
    assert me_status(client, again.get_json()["access_token"]) == 200


def test_refresh_may_narrow_the_scope(client, workspace, partner):
    token = issue(client, partner, workspace.admin.email, "shared private")

    narrowed = refresh(client, partner, token["refresh_token"], scope="private").get_json()

    assert narrowed["scope"] == "private"
    assert _pair(narrowed["refresh_token"]).scope == "private"
    # Once narrowed, the rotated token cannot grow back.
    oauth_error(
        refresh(client, partner, narrowed["refresh_token"], scope="shared private"),
        "invalid_scope",
    )


@pytest.mark.parametrize("scope", ['sha"red', "partagé", "x" * 3000])
def test_refresh_with_a_garbled_scope_is_invalid_scope(client, workspace, partner, scope):
    token = issue(client, partner, workspace.admin.email, "shared")

    oauth_error(
        refresh(client, partner, token["refresh_token"], scope=scope[:4000]), "invalid_scope"
    )
    assert refresh(client, partner, token["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("scope", "change"),
    [("scim", {"plan": "growth"}), ("team", {"teams_feature": False})],
)
def test_refresh_asking_for_a_scope_no_longer_offered_is_invalid_scope(
    client, workspace, partner, scope, change
):
    if scope == "team":
        scope = f"team:{workspace.team.id}"
    token = issue(client, partner, workspace.admin.email, f"shared {scope}")
    companies.update_company(workspace.company, **change)

    oauth_error(
        refresh(client, partner, token["refresh_token"], scope=f"shared {scope}"), "invalid_scope"
    )

    # Without asking for it, the refresh works and the token reaches only what is offered.
    renewed = refresh(client, partner, token["refresh_token"])
    assert renewed.status_code == 200
    me = client.get(
        "/api/v1/me", headers={"Authorization": "Bearer " + renewed.get_json()["access_token"]}
    )
    assert me.get_json()["scopes"] == ["shared"]


def test_refresh_token_is_bound_to_its_client(client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    other = register(name="Other App")

    oauth_error(refresh(client, other, token["refresh_token"]), "invalid_grant")

    # Not spent, and not treated as reuse: the owner refreshes normally.
    assert refresh(client, partner, token["refresh_token"]).status_code == 200
    assert rows(OAuthGrant)[0].revoked_at is None


@pytest.mark.parametrize("wrong", ["access_token", "made_up", "empty"])
def test_only_a_refresh_token_refreshes(client, workspace, partner, wrong):
    token = issue(client, partner, workspace.admin.email)
    value = {
        "access_token": token["access_token"],
        "made_up": "wsp_ort_" + "A" * 38,
        "empty": "",
    }[wrong]

    oauth_error(refresh(client, partner, value), "invalid_grant" if value else "invalid_request")
    assert count(OAuthToken) == 1


def test_missing_refresh_token_is_an_invalid_request(client, partner):
    response = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token"},
        headers=basic(partner.client_id, partner.client_secret),
    )

    oauth_error(response, "invalid_request")


def test_refresh_token_expires(client, app, workspace, partner, clock):
    app.config["REFRESH_TOKEN_TTL"] = 3600
    token = issue(client, partner, workspace.admin.email)

    clock.advance(3601)

    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")
    clock.reset()
    assert rows(OAuthGrant)[0].revoked_at is None  # expiry is no reuse


def test_refresh_of_a_revoked_grant_is_refused(client, workspace, partner):
    from oauth_server.services import revocation

    token = issue(client, partner, workspace.admin.email)
    [grant] = rows(OAuthGrant)
    revocation.revoke(grant, actor=workspace.admin, via="settings")
    db.session.commit()

    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")
    assert count(OAuthToken) == 1


def test_refresh_for_a_deactivated_teammate_is_refused(client, workspace, partner):
    token = issue(client, partner, workspace.teammate.email, "private")
    workspace.teammate.active = False
    db.session.commit()

    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")
    assert count(OAuthToken) == 1


def test_refresh_after_the_app_is_deleted_is_refused(client, workspace, partner):
    from oauth_server.services import clients

    token = issue(client, partner, workspace.admin.email)
    clients.delete_client(partner.row, actor=None, via="test")

    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_client", 401)


def test_a_refresh_during_a_deactivation_is_refused_without_spending_the_token(
    client, workspace, partner
):
    token = issue(client, partner, workspace.teammate.email, "private")
    workspace.teammate.active = False
    db.session.commit()
    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")
    assert _pair(token["refresh_token"]).refresh_used_at is None
    workspace.teammate.active = True
    db.session.commit()
    renewed = refresh(client, partner, token["refresh_token"])
    assert renewed.status_code == 200, renewed.get_data(as_text=True)
    assert me_status(client, renewed.json["access_token"]) == 200
