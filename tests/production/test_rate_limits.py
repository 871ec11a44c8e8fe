"""Rate limits by who is calling (in memory here; tests/production/test_rate_limits_redis.py
runs them on Redis across processes): per token and per company on the API, with a budget
of its own for each partner app; per client and per company at /oauth/token; 429s in JSON
with Retry-After and X-RateLimit-* headers."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from oauth_server import create_app
from oauth_server import tokens
from oauth_server.extensions import db
from tests.conftest import TEST_CONFIG
from tests.conftest import bearer
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import basic
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import isolated_client


def assert_limited(response: Any, limit: int) -> None:
    """A 429 with the headers a client needs to back off, describing the spent budget."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def api_429(response: Any, limit: int) -> None:
    assert_limited(response, limit)
    assert response.get_json()["_error"]["status"] == 429


def me(client: Any, token: str, **kwargs: Any) -> Any:
    return client.get("/api/v1/me", headers=bearer(token), **kwargs)


def partner_token(app: Flask, partner: Partner, email: str) -> dict[str, Any]:
    """The consent flow in a browser of its own (each signs in afresh)."""
    return issue(isolated_client(app), partner, email)


# --- the API ------------------------------------------------------------------------------


def test_a_token_has_one_budget_across_every_route(client, app):
    app.config["RATELIMIT_API"] = "3 per minute"
    company = make_company("Acme")
    _row, value = make_personal_token(company)
    _row, neighbour = make_personal_token(company)

    answers = [
        client.get(path, headers=bearer(value))
        for path in ("/api/v1/me", "/api/v1/inboxes", "/api/v1/conversations")
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"

    api_429(me(client, value), 3)
    # Per token: the company's other token has its own budget.
    assert me(client, neighbour).status_code == 200


def test_the_personal_tokens_of_a_company_share_its_budget(client, app):
    app.config["RATELIMIT_API_COMPANY"] = "4 per minute"
    company = make_company("Acme")
    first, second = (make_personal_token(company)[1] for _ in range(2))
    elsewhere = make_personal_token(make_company("Globex"))[1]

    for token in (first, second, first, second):
        assert me(client, token).status_code == 200

    api_429(me(client, second), 4)
    api_429(me(client, first), 4)
    assert me(client, elsewhere).status_code == 200


def test_each_partner_app_has_a_budget_of_its_own_in_a_company(client, app):
    app.config["RATELIMIT_API_PARTNER"] = "2 per minute"
    app.config["RATELIMIT_API_COMPANY"] = "2 per minute"
    company = make_company("Acme", plan="scale")
    admin = make_admin(company, email="admin@acme.test")
    crm, helpdesk = register(name="CRM"), register(name="Helpdesk")
    crm_tokens = partner_token(app, crm, admin.email)
    helpdesk_tokens = partner_token(app, helpdesk, admin.email)
    personal = make_personal_token(company, actor=admin)[1]

    assert me(client, crm_tokens["access_token"]).status_code == 200
    # A new access token of the same app and company spends the same budget.
    renewed = refresh(client, crm, crm_tokens["refresh_token"]).get_json()["access_token"]
    assert me(client, renewed).status_code == 200
    api_429(me(client, crm_tokens["access_token"]), 2)

    # The other app, and the company's personal tokens, are not held back by the CRM.
    assert me(client, helpdesk_tokens["access_token"]).status_code == 200
    assert me(client, personal).status_code == 200
    assert me(client, personal).status_code == 200
    api_429(me(client, personal), 2)
    assert me(client, helpdesk_tokens["access_token"]).status_code == 200


def test_requests_that_fail_to_authenticate_spend_their_addresses_budget(client, app):
    app.config["RATELIMIT_API"] = "2 per minute"
    guessed = tokens.generate(tokens.Kind.PERSONAL)  # well-formed, unknown
    here = {"REMOTE_ADDR": "203.0.113.7"}

    assert me(client, guessed, environ_base=here).status_code == 401
    assert client.get("/api/v1/me", environ_base=here).status_code == 401
    api_429(me(client, "wsp_pat_nonsense", environ_base=here), 2)
    assert me(client, guessed, environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 401


def _scim_users(client: Any, authorization: str, **kwargs: Any) -> Any:
    return client.get("/scim/v2/Users", headers={"Authorization": authorization}, **kwargs)


def _api_me(client: Any, authorization: str, **kwargs: Any) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": authorization}, **kwargs)


SURFACES = {"api": _api_me, "scim": _scim_users}


@pytest.mark.parametrize("surface", list(SURFACES))
def test_a_token_spelled_any_way_has_one_budget(client, app, surface):
    """Scheme case and spacing do not make another token: the budget is the token's."""
    app.config["RATELIMIT_API"] = "3 per minute"
    company = make_company("Acme", plan="scale")
    _row, value = make_personal_token(company, "scim")
    call = SURFACES[surface]

    spellings = [f"Bearer {value}", f"bearer {value}", f"BEARER   {value}  "]
    assert [call(client, spelled).status_code for spelled in spellings] != [429] * 3
    refused = call(client, f"bEaReR {value}")
    assert refused.status_code == 429, refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize("surface", list(SURFACES))
def test_a_spray_of_made_up_tokens_meets_one_budget_per_address(client, app, surface):
    """Each guess is a new string; the guesses of one address share its budget, and a
    real token used from the same address keeps its own."""
    app.config["RATELIMIT_API"] = "5 per minute"
    company = make_company("Acme", plan="scale")
    _row, value = make_personal_token(company, "scim")
    call = SURFACES[surface]
    here = {"REMOTE_ADDR": "203.0.113.9"}

    guesses = [tokens.generate(tokens.Kind.PERSONAL) for _ in range(8)]
    statuses = [call(client, f"Bearer {guess}", environ_base=here).status_code for guess in guesses]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3
    assert call(client, f"Bearer {value}", environ_base=here).status_code != 429
    elsewhere = {"REMOTE_ADDR": "203.0.113.10"}
    assert call(client, f"Bearer {guesses[0]}", environ_base=elsewhere).status_code == 401


def test_made_up_tokens_at_the_revocation_endpoint_share_the_addresss_budget(client, app):
    app.config["RATELIMIT_TOKEN"] = "3 per minute"
    statuses = []
    for n in range(4):
        guess = tokens.generate(tokens.Kind.PERSONAL)
        statuses.append(
            client.post(
                "/oauth/revoke",
                data={"token": guess, "client_id": f"made-up-{n}"},
                headers={"Authorization": f"Bearer {guess}"},
            ).status_code
        )
    assert statuses == [401, 401, 401, 429]


def test_the_openapi_document_is_limited_per_address(client, app):
    app.config["RATELIMIT_API"] = "1 per minute"
    assert client.get("/api/v1/openapi.json").status_code == 200
    api_429(client.get("/api/v1/openapi.json"), 1)


# --- the token endpoint -------------------------------------------------------------------


def test_tokens_issued_to_a_company_share_its_budget(client, app):
    """Per company, whatever the app: known once the code names it; a refused exchange
    commits nothing, so the same code works once the budget is back."""
    app.config["RATELIMIT_TOKEN_COMPANY"] = "1 per minute"
    acme = make_company("Acme", plan="scale")
    admin = make_admin(acme, email="admin@acme.test")
    globex_admin = make_admin(make_company("Globex"), email="admin@globex.test")
    crm, helpdesk = register(name="CRM"), register(name="Helpdesk")

    assert partner_token(app, crm, admin.email)["access_token"]
    code, verifier = get_code(isolated_client(app), helpdesk, admin.email)
    refused = exchange(client, helpdesk, code, verifier)

    oauth_error(refused, "invalid_request", 429)
    assert_limited(refused, 1)
    # Another company's exchanges are not held back.
    assert partner_token(app, crm, globex_admin.email)["access_token"]

    app.config["RATELIMIT_TOKEN_COMPANY"] = "10 per minute"  # a fresh budget
    answer = exchange(client, helpdesk, code, verifier)
    assert answer.status_code == 200, answer.get_json()


def test_refreshes_spend_the_company_budget_too(client, app):
    app.config["RATELIMIT_TOKEN_COMPANY"] = "2 per minute"
    admin = make_admin(make_company("Acme"), email="admin@acme.test")
    crm = register(name="CRM")
    issued = partner_token(app, crm, admin.email)

    renewed = refresh(client, crm, issued["refresh_token"])
    assert renewed.status_code == 200
    refused = refresh(client, crm, renewed.get_json()["refresh_token"])

    oauth_error(refused, "invalid_request", 429)
    # Not spent by the refusal: it still refreshes (no reuse detected, the grant lives).
    app.config["RATELIMIT_TOKEN_COMPANY"] = "10 per minute"
    assert refresh(client, crm, renewed.get_json()["refresh_token"]).status_code == 200


def test_the_token_endpoints_429_carries_the_rate_limit_headers(client, app):
    app.config["RATELIMIT_TOKEN"] = "2 per minute"
    crm = register(name="CRM")
    data = {"grant_type": "refresh_token", "refresh_token": "wsp_ort_unknown"}
    headers = basic(crm.client_id, crm.client_secret)

    first = client.post("/oauth/token", data=data, headers=headers)
    assert first.headers["X-RateLimit-Limit"] == "2"
    client.post("/oauth/token", data=data, headers=headers)
    refused = client.post("/oauth/token", data=data, headers=headers)

    oauth_error(refused, "invalid_request", 429)
    assert_limited(refused, 2)


# --- behind a reverse proxy ---------------------------------------------------------------


@pytest.mark.parametrize("trusted", [0, 1])
def test_trusted_proxies_name_the_client_address(app, tmp_path, trusted):
    proxied = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "RATELIMIT_API": "1 per minute",
            "TRUSTED_PROXIES": trusted,
        }
    )
    client = proxied.test_client()

    def call(address: str) -> int:
        forwarded = {"X-Forwarded-For": address}
        return client.get("/api/v1/me", headers=forwarded).status_code

    assert call("198.51.100.1") == 401
    # Behind a trusted proxy each client has its own budget; otherwise the header is
    # the client's to forge, and every request counts against the proxy's address.
    assert call("198.51.100.2") == (401 if trusted else 429)
    with proxied.app_context():
        db.engine.dispose()
