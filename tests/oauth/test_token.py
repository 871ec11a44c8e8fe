"""The token endpoint's authorization_code grant and its refusals (RFC 6749 §4.1.3, §5.2; 7636)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.tokens import lookup_hash
from tests.conftest import bearer
from tests.factories import REDIRECT_URI
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import basic
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import post_token
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import rows


def test_confidential_client_redeems_a_code_with_authlib(client, live_server, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email, "shared private")
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="client_secret_basic",
    )

    token = session.fetch_token(live_server.url + "/oauth/token", code=code, code_verifier=verifier)

    assert token["token_type"] == "Bearer"
    assert token["access_token"].startswith("wsp_oat_")
    assert token["refresh_token"].startswith("wsp_ort_")
    assert token["expires_in"] == 3600
    assert token["scope"] == "shared private"
    me = session.get(live_server.url + "/api/v1/me")
    assert me.status_code == 200
    assert me.json()["kind"] == "oauth"
    assert me.json()["teammate"]["email"] == workspace.admin.email
    assert me.json()["app"] == {"client_id": partner.client_id, "name": "Partner App"}
    # Stored: one grant, one pair, only hashes; the code is spent and points at its grant.
    [grant] = rows(OAuthGrant)
    [pair] = rows(OAuthToken)
    [stored_code] = rows(AuthorizationCode)
    assert (grant.teammate_id, grant.company_id, grant.scope) == (
        workspace.admin.id,
        workspace.company.id,
        "shared private",
    )
    assert pair.grant_id == grant.id
    assert pair.access_hash == lookup_hash(token["access_token"])
    assert pair.refresh_hash == lookup_hash(token["refresh_token"])
    assert stored_code.used_at is not None and stored_code.grant_id == grant.id


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_both_secret_methods_are_accepted(client, live_server, workspace, partner, method):
    code, verifier = get_code(client, partner, workspace.admin.email)
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=method,
    )

    token = session.fetch_token(live_server.url + "/oauth/token", code=code, code_verifier=verifier)

    assert token["scope"] == "shared"


def test_public_client_redeems_with_none_and_pkce(client, live_server, workspace, public_partner):
    code, verifier = get_code(client, public_partner, workspace.admin.email)
    session = OAuth2Session(
        public_partner.client_id,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="none",
    )

    token = session.fetch_token(live_server.url + "/oauth/token", code=code, code_verifier=verifier)

    assert token["access_token"].startswith("wsp_oat_")
    assert session.get(live_server.url + "/api/v1/me").status_code == 200


def test_token_response_is_not_cached(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)

    response = exchange(client, partner, code, verifier)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_code_is_single_use_and_a_replay_revokes_what_it_issued(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)
    first = exchange(client, partner, code, verifier).get_json()
    assert me_status(client, first["access_token"]) == 200

    replay = exchange(client, partner, code, verifier)

    oauth_error(replay, "invalid_grant")
    assert me_status(client, first["access_token"]) == 401
    oauth_error(refresh(client, partner, first["refresh_token"]), "invalid_grant")
    [grant] = rows(OAuthGrant)
    assert grant.revoked_at is not None and grant.revoked_via == "code_replay"
    assert count(OAuthToken) == 1  # nothing new issued, the old pair kept as history


@pytest.mark.parametrize("how", ["ttl", "row"])
def test_expired_code_is_refused(client, app, workspace, partner, how):
    if how == "ttl":
        app.config["AUTHORIZATION_CODE_TTL"] = 0
    code, verifier = get_code(client, partner, workspace.admin.email)
    if how == "row":
        db.session.execute(
            update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")
    assert count(OAuthToken) == 0


def test_code_lifetime_is_short(client, workspace, partner):
    get_code(client, partner, workspace.admin.email)
    [stored] = rows(AuthorizationCode)
    assert timedelta(seconds=60) <= stored.expires_at - stored.created_at <= timedelta(minutes=10)


def test_code_is_bound_to_its_client(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)
    other = register(name="Other App")

    oauth_error(exchange(client, other, code, verifier), "invalid_grant")

    assert count(OAuthToken) == 0
    # The intruder's attempt neither burnt the code nor issued anything.
    assert exchange(client, partner, code, verifier).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri", [None, "", "http://127.0.0.1:8765/other", REDIRECT_URI + "/"]
)
def test_code_is_bound_to_its_redirect_uri(client, workspace, redirect_uri):
    partner = register(redirect_uris=[REDIRECT_URI, "http://127.0.0.1:8765/other"])
    code, verifier = get_code(client, partner, workspace.admin.email)

    response = exchange(client, partner, code, verifier, redirect_uri=redirect_uri)
    if redirect_uri is None:
        response = post_token(
            client,
            partner,
            {"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        )

    oauth_error(response, "invalid_grant")
    assert count(OAuthToken) == 0


def test_wrong_verifier_burns_the_code(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)
    wrong = verifier[:-1] + ("A" if verifier[-1] != "A" else "B")

    oauth_error(exchange(client, partner, code, wrong), "invalid_grant")

    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")
    assert count(OAuthToken) == 0
    assert count(OAuthGrant) == 0


@pytest.mark.parametrize(
    ("verifier", "error"),
    [(None, "invalid_request"), ("", "invalid_request"), ("short", "invalid_request")],
)
def test_missing_or_malformed_verifier_is_refused_and_burns_the_code(
    client, workspace, partner, verifier, error
):
    code, right = get_code(client, partner, workspace.admin.email)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier

    oauth_error(post_token(client, partner, data), error)

    oauth_error(exchange(client, partner, code, right), "invalid_grant")


def test_plain_verifier_equal_to_the_challenge_is_refused(client, workspace, partner):
    """The stored S256 challenge itself, sent as a verifier (a plain downgrade), fails."""
    code, _ = get_code(client, partner, workspace.admin.email)
    [stored] = rows(AuthorizationCode)

    oauth_error(exchange(client, partner, code, stored.code_challenge), "invalid_grant")


@pytest.mark.parametrize(
    "auth",
    ["none", "wrong-basic", "wrong-post", "empty-secret", "other-clients-secret"],
)
def test_confidential_client_must_authenticate(client, workspace, partner, auth):
    code, verifier = get_code(client, partner, workspace.admin.email)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers = {}
    if auth == "none":
        data["client_id"] = partner.client_id
    elif auth == "wrong-basic":
        headers = basic(partner.client_id, "wsp_ocs_not-the-secret")
    elif auth == "wrong-post":
        data.update(client_id=partner.client_id, client_secret="nope")
    elif auth == "empty-secret":
        data.update(client_id=partner.client_id, client_secret="")
    else:
        headers = basic(partner.client_id, register(name="Other").client_secret)

    response = client.post("/oauth/token", data=data, headers=headers)

    status = 401 if headers else response.status_code
    oauth_error(response, "invalid_client", status)
    assert response.status_code in (400, 401)
    if headers:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert count(OAuthToken) == 0
    # Client authentication comes first: the code was not touched.
    assert exchange(client, partner, code, verifier).status_code == 200


def test_unknown_client_is_invalid_client(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email)

    response = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        headers=basic("wsp_app_unknown", "secret"),
    )

    oauth_error(response, "invalid_client", 401)


def test_public_client_cannot_invent_a_secret(client, workspace, public_partner):
    code, verifier = get_code(client, public_partner, workspace.admin.email)

    response = exchange(client, public_partner, code, verifier, client_secret="made-up")

    oauth_error(response, "invalid_client", response.status_code)
    assert response.status_code in (400, 401)


def test_deleted_client_cannot_redeem(client, workspace, partner):
    from oauth_server.services import clients

    code, verifier = get_code(client, partner, workspace.admin.email)
    clients.delete_client(partner.row, actor=None, via="test")

    oauth_error(exchange(client, partner, code, verifier), "invalid_client", 401)


def test_rotated_secret_stops_the_old_one(client, workspace, partner):
    from oauth_server.services import clients

    code, verifier = get_code(client, partner, workspace.admin.email)
    new_secret = clients.rotate_secret(partner.row, actor=workspace.admin)

    oauth_error(exchange(client, partner, code, verifier), "invalid_client", 401)
    partner.client_secret = new_secret
    assert exchange(client, partner, code, verifier).status_code == 200


def test_deactivated_teammates_code_issues_nothing(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.teammate.email, "private")
    workspace.teammate.active = False  # no service deactivates teammates yet
    db.session.commit()

    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")
    assert count(OAuthToken) == 0


@pytest.mark.parametrize(
    "grant_type",
    [
        "client_credentials",
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "AUTHORIZATION_CODE",
        'code"\\é',
    ],
)
def test_other_grant_types_are_unsupported(client, workspace, partner, grant_type):
    personal, value = make_personal_token(workspace.company)
    data = {
        "grant_type": grant_type,
        "username": workspace.admin.email,
        "password": "wombat-42-pass",
        "scope": "shared",
        "subject_token": value,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "assertion": value,
        "device_code": value,
    }

    oauth_error(post_token(client, partner, data), "unsupported_grant_type")

    assert count(OAuthToken) == 0 and count(OAuthGrant) == 0


def test_missing_grant_type_is_an_invalid_request(client, partner):
    oauth_error(post_token(client, partner, {"code": "x"}), "invalid_request")


# --- personal tokens never act as OAuth grants ------------------------------------------------


@pytest.fixture
def personal(workspace):
    return make_personal_token(workspace.company, "shared")


def _untouched(client, personal):
    row, value = personal
    db.session.expire_all()
    assert db.session.get(PersonalToken, row.id).revoked_at is None
    assert me_status(client, value) == 200
    assert count(OAuthToken) == 0 and count(OAuthGrant) == 0


def test_personal_token_is_no_refresh_token(client, workspace, partner, personal):
    oauth_error(refresh(client, partner, personal[1]), "invalid_grant")
    _untouched(client, personal)


def test_personal_token_is_no_code(client, workspace, partner, personal):
    oauth_error(exchange(client, partner, personal[1], "v" * 43), "invalid_grant")
    _untouched(client, personal)


@pytest.mark.parametrize("method", ["basic", "post"])
def test_personal_token_is_no_client_secret(client, workspace, partner, personal, method):
    code, verifier = get_code(client, partner, workspace.admin.email)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers = {}
    if method == "basic":
        headers = basic(partner.client_id, personal[1])
    else:
        data.update(client_id=partner.client_id, client_secret=personal[1])

    response = client.post("/oauth/token", data=data, headers=headers)

    oauth_error(response, "invalid_client", 401)
    _untouched(client, personal)


def test_personal_token_is_no_subject_token(client, workspace, partner, personal):
    data = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": personal[1],
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token",
    }

    oauth_error(post_token(client, partner, data), "unsupported_grant_type")
    _untouched(client, personal)


def test_personal_token_as_bearer_gets_nothing_from_the_token_endpoint(client, workspace, personal):
    response = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": personal[1]},
        headers=bearer(personal[1]),
    )

    oauth_error(response, "invalid_client", response.status_code)
    _untouched(client, personal)


# --- access token lifetime ----------------------------------------------------------------------


def test_access_token_lifetime_follows_config_and_expired_tokens_get_401(
    client, app, workspace, partner, clock
):
    app.config["ACCESS_TOKEN_TTL"] = 600
    token = issue(client, partner, workspace.admin.email)
    assert token["expires_in"] == 600
    [pair] = rows(OAuthToken)
    assert (
        timedelta(seconds=595) <= pair.access_expires_at - pair.issued_at <= timedelta(seconds=600)
    )
    assert me_status(client, token["access_token"]) == 200

    clock.advance(601)

    response = client.get("/api/v1/me", headers=bearer(token["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # The refresh token outlives it: a new access token is one refresh away.
    new = refresh(client, partner, token["refresh_token"])
    assert new.status_code == 200
    clock.reset()
    assert me_status(client, new.get_json()["access_token"]) == 200


def test_hand_built_token_request_matches_authlib(client, live_server, workspace, partner):
    """The refusals above are hand-built; the same request shape succeeds over HTTP."""
    code, verifier = get_code(client, partner, workspace.admin.email)

    response = requests.post(
        live_server.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(partner.client_id, partner.client_secret),
        timeout=10,
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "shared"


# --- rate limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_protocol_endpoints_are_rate_limited(client, app, partner, endpoint):
    app.config["RATELIMIT_TOKEN"] = "3 per minute"
    data = {"grant_type": "refresh_token", "refresh_token": "wsp_ort_unknown", "token": "x"}
    headers = basic(partner.client_id, partner.client_secret)

    answers = [client.post(endpoint, data=data, headers=headers) for _ in range(4)]

    assert all(a.status_code != 429 for a in answers[:3])
    limited = answers[3]
    oauth_error(limited, "invalid_request", 429)
    assert int(limited.headers["Retry-After"]) > 0
    # Per client (and address): another app is not held back by this one.
    other = register(name="Other App")
    assert (
        client.post(
            endpoint, data=data, headers=basic(other.client_id, other.client_secret)
        ).status_code
        != 429
    )


def test_a_client_id_alone_cannot_spend_another_apps_allowance(client, app, partner):
    """A client_id is public; the key also holds the caller's address."""
    app.config["RATELIMIT_TOKEN"] = "2 per minute"
    data = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": partner.client_id}
    for _ in range(3):
        client.post("/oauth/token", data=data, environ_base={"REMOTE_ADDR": "203.0.113.9"})

    response = refresh(client, partner, "wsp_ort_unknown")

    assert response.status_code == 400
