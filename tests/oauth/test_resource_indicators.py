"""Resource indicators (RFC 8707): a partner token works only at the resources it was
issued for; without ``resource`` it keeps its reach."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthToken
from oauth_server.tokens import lookup_hash
from tests.conftest import login
from tests.factories import register
from tests.flows import ISSUER
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import consent
from tests.flows import error_redirect
from tests.flows import exchange
from tests.flows import oauth_error
from tests.flows import pkce
from tests.flows import redirect_params
from tests.flows import refresh
from tests.isolation import rows

API = ISSUER + "/api/v1"
SCIM = ISSUER + "/scim/v2"
SCOPES = "shared scim"  # the admin may grant both: one token could reach both resources


def _code(client: Any, partner: Any, email: str | None, resources: list[str]) -> tuple[str, str]:
    """Sign in as ``email`` (None: signed in already), consent with ``resource`` named once
    per item; the code and its verifier."""
    verifier, challenge = pkce()
    if email is not None:
        login(client, email)
    url = authorize_url(partner, SCOPES, challenge, prompt="consent")  # the page every time
    if resources:
        url += "&" + urlencode([("resource", r) for r in resources])
    params = redirect_params(consent(client, url))
    assert "code" in params, params
    return params["code"], verifier


def _token(client: Any, partner: Any, code: str, verifier: str, resources: list[str]) -> Any:
    extra = {"resource": resources} if resources else {}
    return exchange(client, partner, code, verifier, **extra)


def _status_at(client: Any, access_token: str) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {access_token}"}
    api = client.get("/api/v1/me", headers=headers)
    scim = client.get("/scim/v2/Users", headers=headers)
    return api.status_code, scim.status_code


def test_without_resource_a_token_keeps_its_reach(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [])
    token = _token(client, partner, code, verifier, []).get_json()

    assert _status_at(client, token["access_token"]) == (200, 200)
    [pair] = rows(OAuthToken, OAuthToken.access_hash == lookup_hash(token["access_token"]))
    assert pair.audience is None


@pytest.mark.parametrize(
    ("resource", "expected"), [(API, (200, 401)), (SCIM, (401, 200))], ids=["api", "scim"]
)
def test_a_token_for_one_resource_is_refused_at_the_other(
    client, workspace, partner, resource, expected
):
    code, verifier = _code(client, partner, workspace.admin.email, [resource])
    token = _token(client, partner, code, verifier, []).get_json()

    assert _status_at(client, token["access_token"]) == expected
    other = "/scim/v2/Users" if resource == API else "/api/v1/me"
    refused = client.get(other, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_the_authorization_keeps_every_resource_named(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [API, SCIM])
    [stored] = rows(AuthorizationCode, AuthorizationCode.code_hash == lookup_hash(code))
    assert stored.resource == f"{API} {SCIM}"

    token = _token(client, partner, code, verifier, []).get_json()

    assert _status_at(client, token["access_token"]) == (200, 200)


def test_the_token_request_narrows_and_refresh_narrows_again(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [API, SCIM])
    both = _token(client, partner, code, verifier, [API, SCIM]).get_json()
    assert _status_at(client, both["access_token"]) == (200, 200)

    narrowed = refresh(client, partner, both["refresh_token"], resource=SCIM)
    assert narrowed.status_code == 200, narrowed.get_json()
    scim_only = narrowed.get_json()
    assert _status_at(client, scim_only["access_token"]) == (401, 200)

    # The next refresh without resource keeps the narrowed audience, never the wider one.
    kept = refresh(client, partner, scim_only["refresh_token"]).get_json()
    assert _status_at(client, kept["access_token"]) == (401, 200)


def test_a_token_request_without_resource_at_authorize_may_narrow(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [])
    token = _token(client, partner, code, verifier, [API]).get_json()

    assert _status_at(client, token["access_token"]) == (200, 401)


def test_a_token_request_cannot_widen(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [API])

    oauth_error(_token(client, partner, code, verifier, [SCIM]), "invalid_target")


def test_a_refused_widening_at_refresh_keeps_the_refresh_token(client, workspace, partner):
    code, verifier = _code(client, partner, workspace.admin.email, [API])
    token = _token(client, partner, code, verifier, []).get_json()

    oauth_error(refresh(client, partner, token["refresh_token"], resource=SCIM), "invalid_target")

    # Not spent: the client's next, correct refresh works (it would be reuse otherwise).
    again = refresh(client, partner, token["refresh_token"])
    assert again.status_code == 200, again.get_json()
    assert _status_at(client, again.get_json()["access_token"]) == (200, 401)


BAD_RESOURCES = {
    "unknown": "https://elsewhere.example/api/v1",
    "relative": "/api/v1",
    "fragment": API + "#x",
    "trailing-slash": API + "/",
}


@pytest.mark.parametrize("resource", BAD_RESOURCES.values(), ids=BAD_RESOURCES.keys())
def test_a_bad_resource_at_authorize_is_invalid_target(client, workspace, partner, resource):
    _verifier, challenge = pkce()
    login(client, workspace.admin.email)
    url = authorize_url(partner, SCOPES, challenge) + "&" + urlencode({"resource": resource})

    error_redirect(client.get(url), "invalid_target")


@pytest.mark.parametrize("resource", BAD_RESOURCES.values(), ids=BAD_RESOURCES.keys())
def test_a_bad_resource_at_the_token_endpoint_is_invalid_target(
    client, workspace, partner, resource
):
    code, verifier = _code(client, partner, workspace.admin.email, [])

    oauth_error(_token(client, partner, code, verifier, [resource]), "invalid_target")


def test_introspection_says_where_a_token_is_good(client, workspace):
    resource_server = register(name="Resource Server", introspection=True)
    partner = register(name="Agent")
    code, verifier = _code(client, partner, workspace.admin.email, [SCIM])
    bound = _token(client, partner, code, verifier, []).get_json()
    code, verifier = _code(client, partner, None, [])
    unbound = _token(client, partner, code, verifier, []).get_json()

    def aud(token: str) -> list[str]:
        answer = client.post(
            "/oauth/introspect",
            data={"token": token},
            headers=basic(resource_server.client_id, resource_server.client_secret),
        ).get_json()
        assert answer["active"] is True
        result: list[str] = answer["aud"]
        return result

    assert aud(bound["access_token"]) == [SCIM]
    assert aud(unbound["access_token"]) == [API, SCIM]
