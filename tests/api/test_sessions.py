"""The API and the protocol endpoints never use the browser's cookie session."""

from __future__ import annotations

from tests.conftest import bearer
from tests.conftest import login
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token


def _uses_session(response) -> bool:
    # Flask marks every answer that read the session with "Vary: Cookie", and re-signs the
    # cookie (Set-Cookie) on every answer that wrote to it.
    return "Cookie" in response.headers.get("Vary", "") or "Set-Cookie" in response.headers


def test_a_signed_in_browser_calling_the_api_sends_its_cookie_for_nothing(client) -> None:
    company = make_company("Acme")
    admin = make_admin(company, email="admin@acme.test")
    _, token = make_personal_token(company, "shared", actor=admin)
    assert login(client, admin.email).status_code == 302  # the client now holds a session

    with_token = client.get("/api/v1/me", headers=bearer(token))
    assert with_token.status_code == 200
    assert not _uses_session(with_token)

    cookie_only = client.get("/api/v1/me")  # a session cookie is no API credential
    assert cookie_only.status_code == 401
    assert not _uses_session(cookie_only)

    for path in ("/healthz", "/.well-known/oauth-authorization-server"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert not _uses_session(answer), path
    refused = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert refused.status_code in (400, 401)
    assert not _uses_session(refused)

    page = client.get("/settings/plugins-api/api")  # the browser's pages still have it
    assert page.status_code == 200
    assert _uses_session(page)
