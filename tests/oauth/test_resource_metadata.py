"""RFC 9728: the API and SCIM describe themselves, and every refusal points there.

A client that meets a 401 or 403 at ``/api/v1`` or ``/scim/v2`` follows the challenge's
``resource_metadata`` to the resource's document, and from its authorization server to
the RFC 8414 metadata: discovery without any configuration but the resource URL.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from oauth_server import protected_resources
from oauth_server.api import errors as api_errors
from oauth_server.errors import NotAllowed
from oauth_server.services import consent
from tests.conftest import bearer
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token

ISSUER = "http://localhost"  # tests/conftest.py
API_METADATA = f"{ISSUER}/.well-known/oauth-protected-resource/api/v1"
SCIM_METADATA = f"{ISSUER}/.well-known/oauth-protected-resource/scim/v2"
PROTECTED = {"api/v1": "/me", "scim/v2": "/Users"}  # a route of each resource
BAD_TOKEN = {"Authorization": "Bearer wsp_pat_unknownunknownunknownunknown00"}


def _documents(issuer: str) -> dict[str, dict[str, Any]]:
    return {
        "api/v1": {
            "resource": f"{issuer}/api/v1",
            "authorization_servers": [issuer],
            "scopes_supported": [
                "shared",
                "shared:read",
                "private",
                "private:read",
                "provisioning",
                "messages:send",
            ],
            "bearer_methods_supported": ["header"],
            "resource_name": "Workspace API",
        },
        "scim/v2": {
            "resource": f"{issuer}/scim/v2",
            "authorization_servers": [issuer],
            "scopes_supported": ["scim"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Workspace SCIM",
        },
    }


def _link(response: Any) -> str:
    """The ``resource_metadata`` URL of a response's challenge."""
    match = re.search(r'resource_metadata="([^"]*)"', response.headers["WWW-Authenticate"])
    assert match, response.headers["WWW-Authenticate"]
    return match.group(1)


# --- the documents ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["api/v1", "scim/v2"])
def test_each_resource_serves_its_metadata(client: FlaskClient, path: str) -> None:
    response = client.get(f"/.well-known/oauth-protected-resource/{path}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == _documents(ISSUER)[path]
    assert response.headers["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("path", ["api/v1", "scim/v2"])
def test_the_resource_is_built_on_the_issuer_and_its_path(
    app: Flask, client: FlaskClient, path: str
) -> None:
    issuer = "https://auth.example.com/identity"
    app.config["OAUTH_ISSUER"] = issuer + "/"
    response = client.get(
        f"/.well-known/oauth-protected-resource/{path}",
        base_url="https://auth.example.com/identity",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200
    assert response.get_json() == _documents(issuer)[path]
    assert response.get_json()["resource"] == f"{issuer}/{path}"
    refused = client.get(f"/{path}{PROTECTED[path]}", base_url="https://auth.example.com/identity")
    assert refused.status_code == 401
    assert _link(refused) == f"{issuer}/.well-known/oauth-protected-resource/{path}"


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/x",
        "/.well-known/oauth-protected-resource/api/v1/",
        "/.well-known/oauth-protected-resource/api",
        "/.well-known/oauth-protected-resource/scim/v2/Users",
    ],
)
def test_a_path_of_no_resource_is_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "not_found"


def test_the_listed_scopes_are_granted_at_consent_by_an_admin() -> None:
    """A client asks for all listed scopes at once: consent must grant them all, the
    API's to any workspace and ``scim`` to a Scale workspace, the only ones SCIM serves."""
    for plan, resource in (
        ("growth", protected_resources.API),
        ("scale", protected_resources.SCIM),
    ):
        company = make_company(plan=plan)
        admin = make_admin(company)
        decision = consent.evaluate(company, admin, " ".join(resource.scopes))
        assert decision.grantable == list(resource.scopes)
        assert decision.unavailable == []


# --- the challenges --------------------------------------------------------------------------


def test_the_api_401s_name_the_api_metadata(client: FlaskClient) -> None:
    bare = client.get("/api/v1/me")
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == (
        f'Bearer realm="api", resource_metadata="{API_METADATA}"'
    )
    invalid = client.get("/api/v1/me", headers=BAD_TOKEN)
    assert invalid.status_code == 401
    assert invalid.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token is not valid", '
        f'resource_metadata="{API_METADATA}"'
    )


def test_the_scim_401s_name_the_scim_metadata(client: FlaskClient) -> None:
    bare = client.get("/scim/v2/Users")
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim", resource_metadata="{SCIM_METADATA}"'
    )
    invalid = client.get("/scim/v2/Users", headers=BAD_TOKEN)
    assert invalid.status_code == 401
    assert invalid.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim", error="invalid_token", resource_metadata="{SCIM_METADATA}"'
    )


def test_an_api_insufficient_scope_keeps_its_scope(client: FlaskClient) -> None:
    _, token = make_personal_token(make_company(), "private")
    response = client.get("/api/v1/shifts", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="This token needs the provisioning scope for this request.", '
        f'scope="provisioning", resource_metadata="{API_METADATA}"'
    )


def test_a_scim_insufficient_scope_keeps_its_scope(client: FlaskClient) -> None:
    _, token = make_personal_token(make_company(plan="scale"), "shared")
    response = client.get("/scim/v2/Users", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="scim", error="insufficient_scope", scope="scim", '
        f'resource_metadata="{SCIM_METADATA}"'
    )


def test_a_scim_403_for_another_reason_still_names_the_metadata(client: FlaskClient) -> None:
    _, token = make_personal_token(make_company(plan="scale"), "scim")
    response = client.get('/scim/v2/ServiceProviderConfig?filter=id eq "x"', headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim", resource_metadata="{SCIM_METADATA}"'
    )


def test_an_api_403_for_another_reason_still_names_the_metadata(app: Flask) -> None:
    with app.test_request_context("/api/v1/me"):
        response = api_errors.render(api_errors.from_domain(NotAllowed("Admins only.")))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="api", resource_metadata="{API_METADATA}"'
    )


@pytest.mark.parametrize(("resource", "path"), [("/api/v1", "/me"), ("/scim/v2", "/Users")])
def test_the_link_of_a_bare_401_leads_to_the_authorization_server(
    client: FlaskClient, resource: str, path: str
) -> None:
    link = _link(client.get(resource + path))
    assert link.startswith(ISSUER + "/")
    document = client.get(link)
    assert document.status_code == 200
    assert document.get_json()["resource"] == ISSUER + resource
    authorization_server = document.get_json()["authorization_servers"][0]
    assert authorization_server == ISSUER
    discovery = client.get(authorization_server + "/.well-known/oauth-authorization-server")
    assert discovery.status_code == 200
    assert discovery.get_json()["issuer"] == authorization_server
