"""One client authentication method per request (RFC 6749 §2.3) at every form endpoint."""

from __future__ import annotations

import pytest

from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from tests.factories import Partner
from tests.factories import register
from tests.flows import basic
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import rows

TWO_METHODS = "Use one client authentication method"
OTHER_CLIENT_ID = "client_id in the body"

# What a request adds in its body to HTTP Basic of the partner, and the description it gets.
CASES = {
    "own-secret-in-body": (lambda me, other: {"client_secret": me.client_secret}, TWO_METHODS),
    "empty-secret-in-body": (lambda me, other: {"client_secret": ""}, TWO_METHODS),
    "other-client-and-secret": (
        lambda me, other: {"client_id": other.client_id, "client_secret": other.client_secret},
        TWO_METHODS,
    ),
    "other-client-id": (lambda me, other: {"client_id": other.client_id}, OTHER_CLIENT_ID),
}


@pytest.fixture
def other() -> Partner:
    return register(name="Other App", introspection=True)


def refused(response, description: str) -> None:
    body = oauth_error(response, "invalid_request")
    assert description in body["error_description"], body


@pytest.mark.parametrize("case", CASES)
def test_token_endpoint_refuses_two_methods_and_spends_nothing(
    client, workspace, partner, other, case
):
    extra, description = CASES[case]
    issued = issue(client, partner, workspace.admin.email)
    code, verifier = get_code(client, partner, None)

    refused(exchange(client, partner, code, verifier, **extra(partner, other)), description)
    refused(refresh(client, partner, issued["refresh_token"], **extra(partner, other)), description)

    # Nothing was claimed: the code and the refresh token still work, once each.
    assert count(OAuthGrant) == 1 and count(OAuthToken) == 1
    [pending] = rows(AuthorizationCode, AuthorizationCode.used_at.is_(None))
    assert pending.revoked_at is None
    redeemed = exchange(client, partner, code, verifier)
    assert redeemed.status_code == 200, redeemed.get_json()
    refreshed = refresh(client, partner, issued["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    assert me_status(client, issued["access_token"]) == 200


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_revocation_refuses_two_methods_and_revokes_nothing(
    client, workspace, partner, other, case, kind
):
    extra, description = CASES[case]
    issued = issue(client, partner, workspace.admin.email)

    response = client.post(
        "/oauth/revoke",
        data={"token": issued[kind], **extra(partner, other)},
        headers=basic(partner.client_id, partner.client_secret),
    )

    refused(response, description)
    assert me_status(client, issued["access_token"]) == 200
    assert refresh(client, partner, issued["refresh_token"]).status_code == 200


@pytest.mark.parametrize("case", CASES)
def test_introspection_refuses_two_methods(client, workspace, partner, other, case):
    caller = register(name="Resource Server", introspection=True)
    extra, description = CASES[case]
    issued = issue(client, partner, workspace.admin.email)

    response = client.post(
        "/oauth/introspect",
        data={"token": issued["access_token"], **extra(caller, other)},
        headers=basic(caller.client_id, caller.client_secret),
    )

    refused(response, description)
    assert issued["access_token"] not in response.get_data(as_text=True)


def test_basic_with_the_same_client_id_in_the_body_is_one_method(client, workspace, partner):
    """RFC 6749 §4.1.3 lets a client name itself in the body too: that is no second method."""
    code, verifier = get_code(client, partner, workspace.admin.email)

    response = exchange(client, partner, code, verifier, client_id=partner.client_id)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer"
