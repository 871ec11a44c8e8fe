"""The partner's side of the OAuth flow over the test client: consent, code, token calls,
and the shapes of the answers it gets back."""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask.testing import FlaskClient

from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import login
from tests.factories import REDIRECT_URI
from tests.factories import Partner

ISSUER = "http://localhost"  # OAUTH_ISSUER of the test config

# Redirect URIs refused at registration, through every door, with part of the message.
BAD_REDIRECT_URIS = {
    "userinfo": ("https://user@partner.example/cb", "user name or password"),
    "userinfo-password": ("https://user:pw@partner.example/cb", "user name or password"),
    "userinfo-empty": ("https://@partner.example/cb", "user name or password"),
    "backslash-path": ("https://partner.example/c\\b", "backslash"),
    "backslash-host": ("https://partner.example\\@evil.example/cb", "backslash"),
    "port-not-numeric": ("https://partner.example:abc/cb", "port"),
    "port-out-of-range": ("https://partner.example:65536/cb", "port"),
    "port-zero": ("https://partner.example:0/cb", "port"),
    "port-empty": ("https://partner.example:/cb", "port"),
    "loopback-port-empty": ("http://127.0.0.1:/cb", "port"),
    "wildcard-host": ("https://*.partner.example/cb", "wildcard"),
    "wildcard-host-part": ("https://app*.partner.example/cb", "wildcard"),
    "wildcard-path": ("https://partner.example/cb/*", "wildcard"),
    "state-in-query": ("https://partner.example/cb?state=fixed", "'state'"),
    "state-among-others": ("https://partner.example/cb?a=1&state=", "'state'"),
    "fragment": ("https://partner.example/cb#done", "fragment"),
    "empty-fragment": ("https://partner.example/cb#", "fragment"),
    "plain-http": ("http://partner.example/cb", "plain http"),
    "relative": ("/oauth/callback", "absolute"),
    "javascript": ("javascript:alert(1)", "absolute"),
    "space": ("https://partner.example/c b", "spaces"),
}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_url(partner: Partner, scope: str | None, challenge: str | None, **extra: Any) -> str:
    params = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def consent(client: FlaskClient, url: str, decision: str = "allow") -> Any:
    """Open the consent page at ``url`` (signed in already) and press Allow or Deny."""
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return client.post(
        url, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": decision}
    )


def redirect_params(response: Any, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(
    client: FlaskClient,
    partner: Partner,
    email: str | None,
    scope: str = "shared",
    **extra: Any,
) -> tuple[str, str]:
    """Sign in as ``email`` (None: signed in already), consent, and return (code, verifier).

    ``extra``: more authorization parameters. ``prompt=consent`` unless told otherwise: the
    page shows even to a confidential app asking again for what it holds, which would
    skip it (tests/oauth/test_incremental_consent.py tests that)."""
    extra.setdefault("prompt", "consent")
    verifier, challenge = pkce()
    if email is not None:
        login(client, email)
    params = redirect_params(consent(client, authorize_url(partner, scope, challenge, **extra)))
    assert "code" in params, params
    return params["code"], verifier


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    raw = f"{client_id}:{secret or ''}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post_token(client: FlaskClient, partner: Partner | None, data: dict[str, Any]) -> Any:
    """POST /oauth/token: a confidential partner authenticates with Basic, a public one by id."""
    headers: dict[str, str] = {}
    data = dict(data)
    if partner is not None and partner.client_secret:
        headers = basic(partner.client_id, partner.client_secret)
    elif partner is not None:
        data.setdefault("client_id", partner.client_id)
    return client.post("/oauth/token", data=data, headers=headers)


def exchange(
    client: FlaskClient, partner: Partner, code: str, verifier: str | None, **extra: Any
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **extra,
    }
    return post_token(client, partner, {k: v for k, v in data.items() if v is not None})


def refresh(client: FlaskClient, partner: Partner, refresh_token: str, **extra: Any) -> Any:
    return post_token(
        client, partner, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    )


def issue(
    client: FlaskClient, partner: Partner, email: str, scope: str = "shared"
) -> dict[str, Any]:
    """The whole consent flow for ``email``: the token response of the code exchange."""
    code, verifier = get_code(client, partner, email, scope)
    response = exchange(client, partner, code, verifier)
    assert response.status_code == 200, response.get_json()
    token: dict[str, Any] = response.get_json()
    return token


def me_status(client: FlaskClient, access_token: str) -> int:
    status: int = client.get("/api/v1/me", headers=bearer(access_token)).status_code
    return status


def oauth_error(response: Any, error: str, status: int = 400) -> dict[str, Any]:
    """Assert an RFC 6749 §5.2 JSON error answer and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error, body
    return body


def error_redirect(response: Any, error: str, state: str | None = "state-123") -> dict[str, str]:
    """Assert an error redirect back to the client: RFC 6749 §4.1.2.1 with RFC 9207 ``iss``."""
    params = redirect_params(response)
    assert params.get("error") == error, params
    assert "code" not in params
    assert params.get("iss") == ISSUER
    if state is not None:
        assert params.get("state") == state
    return params


def error_page(response: Any, error: str) -> str:
    """Assert an error page (never a redirect) naming ``error``."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    html: str = response.get_data(as_text=True)
    assert f"<code>{error}</code>" in html, html[:800]
    return html
