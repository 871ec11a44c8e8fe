"""A single-page app (a public client) calls discovery, the token and revocation endpoints
from its own origin; the authorization and consent pages, and introspection, stay closed
to other origins. No credentials mode: cookies never ride along."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import login
from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import get_code
from tests.flows import pkce

ORIGIN = "https://spa.partner.example"

OPEN = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource/api/v1",
    "/.well-known/oauth-protected-resource/scim/v2",
    "/oauth/token",
    "/oauth/revoke",
]
CLOSED = ["/oauth/authorize", "/oauth/introspect", "/login", "/settings/", "/api/v1/me"]


def _preflight(client: Any, path: str) -> Any:
    return client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize("path", OPEN)
def test_the_public_client_endpoints_answer_a_preflight(client, path):
    response = _preflight(client, path)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    # No credentials mode: a browser never sends cookies on these requests.
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("path", CLOSED)
def test_pages_and_confidential_endpoints_answer_no_other_origin(client, path):
    response = _preflight(client, path)

    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_browser_app_redeems_its_code_from_its_own_origin(client, workspace, public_partner):
    code, verifier = get_code(client, public_partner, workspace.admin.email)
    client.delete_cookie("session")  # the app's origin holds none of the server's cookies

    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": public_partner.client_id,
        },
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 200, response.get_json()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    revoked = client.post(
        "/oauth/revoke",
        data={"token": response.get_json()["access_token"], "client_id": public_partner.client_id},
        headers={"Origin": ORIGIN},
    )
    assert revoked.status_code == 200
    assert revoked.headers["Access-Control-Allow-Origin"] == "*"


def test_the_authorization_page_sends_no_cors_header(client, workspace, public_partner):
    login(client, workspace.admin.email)
    _verifier, challenge = pkce()
    page = client.get(
        authorize_url(public_partner, "shared", challenge), headers={"Origin": ORIGIN}
    )

    assert page.status_code == 200
    assert "Access-Control-Allow-Origin" not in page.headers


def test_an_options_request_anywhere_is_never_a_server_error(app, client):
    """Preflights reach every route (Flask answers OPTIONS itself); a before-request hook
    must not take an anonymous OPTIONS for a signed-in teammate."""
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "1")
        path = re.sub(r"<[^>]+>", "1", path)  # converters: <id:team_id>, <path:...>
        response = client.options(path, headers={"Origin": ORIGIN})
        assert response.status_code < 500, (path, response.status_code)


def test_error_answers_of_the_open_endpoints_carry_the_headers_too(client):
    """A browser app reads the error of its exchange, or of a wrong method, as it reads a
    success: the refusal carries the same cross-origin headers."""
    refused = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "nope", "client_id": "nobody"},
        headers={"Origin": ORIGIN},
    )
    wrong_method = client.get("/oauth/revoke", headers={"Origin": ORIGIN})
    unknown = client.get(
        "/.well-known/oauth-protected-resource/nothing", headers={"Origin": ORIGIN}
    )

    assert refused.status_code in (400, 401) and refused.get_json()["error"]
    assert wrong_method.status_code == 405
    assert unknown.status_code == 404
    for response in (refused, wrong_method, unknown):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
