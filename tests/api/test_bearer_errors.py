"""RFC 6750 answers of the API: no token, bad tokens, tokens outside the header."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models.base import utcnow
from oauth_server.services import revocation
from tests.conftest import bearer
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token


@pytest.fixture
def token():
    company = make_company("Acme")
    make_admin(company)
    return make_personal_token(company, "shared")


def _is_bare_challenge(value: str) -> bool:
    return value.startswith("Bearer") and "error=" not in value


def _assert_invalid_token(response) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert response.get_json()["_error"]["status"] == 401


def _api_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, URL) of every token-protected route, with made-up ids."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint == "api.openapi":
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<id:{argument}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url))
    return routes


def test_no_token_gets_a_bare_challenge_on_every_route(app, client, token):
    routes = _api_routes(app)
    assert len(routes) > 30
    for method, url in routes:
        response = client.open(url, method=method, json={})
        assert response.status_code == 401, (method, url)
        assert _is_bare_challenge(response.headers["WWW-Authenticate"]), (method, url)
        assert response.get_json()["_error"]["status"] == 401


def test_a_valid_token_passes(client, token):
    _, value = token
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200


def test_the_scheme_name_is_case_insensitive(client, token):
    _, value = token
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {value}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer abc",
        "Bearer wsp_pat_short",
        "Bearer two words",
        "Bearer " + "x" * 5000,
    ],
)
def test_malformed_tokens_are_invalid(client, token, header):
    _assert_invalid_token(client.get("/api/v1/me", headers={"Authorization": header}))


def test_unknown_well_formed_token_is_invalid(client, token):
    unknown = tokens.generate(tokens.Kind.PERSONAL)
    _assert_invalid_token(client.get("/api/v1/me", headers=bearer(unknown)))


def test_token_with_a_broken_checksum_is_invalid(client, token):
    _, value = token
    last = value[-1]
    broken = value[:-1] + ("A" if last != "A" else "B")
    _assert_invalid_token(client.get("/api/v1/me", headers=bearer(broken)))


def test_revoked_token_is_invalid_on_the_next_request(client, token):
    row, value = token
    assert client.get("/api/v1/inboxes", headers=bearer(value)).status_code == 200
    revocation.revoke(row, actor=None, via="settings")
    db.session.commit()
    _assert_invalid_token(client.get("/api/v1/inboxes", headers=bearer(value)))


def test_expired_token_is_invalid(client, token):
    row, value = token
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _assert_invalid_token(client.get("/api/v1/me", headers=bearer(value)))


@pytest.mark.parametrize("kind", [tokens.Kind.REFRESH, tokens.Kind.CODE, tokens.Kind.CLIENT_SECRET])
def test_other_secret_kinds_are_not_bearer_tokens(client, token, kind):
    _assert_invalid_token(client.get("/api/v1/me", headers=bearer(tokens.generate(kind))))


def test_token_in_the_query_string_is_refused(client, token):
    _, value = token
    response = client.get(f"/api/v1/me?access_token={value}")
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    # Even beside a good header: a token in a URL ends up in logs, so it is never accepted.
    response = client.get(f"/api/v1/me?access_token={value}", headers=bearer(value))
    assert response.status_code == 400


def test_token_in_a_form_body_is_refused(client, token):
    _, value = token
    response = client.post("/api/v1/inboxes", data={"access_token": value})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("scheme", ["Basic", "Token", "MAC"])
def test_another_scheme_is_no_bearer_token(client, token, scheme):
    # RFC 6750 §3.1: an unsupported authentication method gets the bare challenge.
    _, value = token
    response = client.get("/api/v1/me", headers={"Authorization": f"{scheme} {value}"})
    assert response.status_code == 401
    assert _is_bare_challenge(response.headers["WWW-Authenticate"])


def test_openapi_document_needs_no_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


def test_unknown_api_url_is_a_json_404(client, token):
    _, value = token
    response = client.get("/api/v1/nothing-here", headers=bearer(value))
    assert response.status_code == 404
    assert response.get_json()["_error"]["status"] == 404
