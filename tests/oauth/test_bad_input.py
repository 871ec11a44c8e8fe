"""Malformed requests to the form endpoints: the RFC's 400 error as JSON, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from tests.conftest import login
from tests.factories import REDIRECT_URI
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import pkce
from tests.isolation import count

ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]
FORM = "application/x-www-form-urlencoded"
BIG = "A" * 10_240


@pytest.fixture
def caller():
    """A confidential client that may call all three endpoints."""
    return register(name="Caller", introspection=True)


def valid_body(endpoint: str) -> dict[str, str]:
    if endpoint == "/oauth/token":
        return {"grant_type": "refresh_token", "refresh_token": "wsp_ort_" + "A" * 38}
    return {"token": "wsp_oat_" + "A" * 38}


def send(client, caller, endpoint, body, content_type=FORM, query="", headers=None):
    return client.post(
        endpoint + query,
        data=body,
        content_type=content_type,
        headers=headers if headers is not None else basic(caller.client_id, caller.client_secret),
    )


def invalid_request(response):
    oauth_error(response, "invalid_request")


def raw(params: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(params).encode()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("param", ["first", "client_id", "client_secret", "token_type_hint"])
def test_duplicate_parameters(client, caller, endpoint, param):
    body = valid_body(endpoint)
    key = next(iter(body)) if param == "first" else param
    extra = f"&{key}=one&{key}=two" if param != "first" else f"&{key}={body[key]}"

    invalid_request(send(client, caller, endpoint, raw(body) + extra.encode()))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("where", ["value", "key", "client_id"])
def test_oversized_values(client, caller, endpoint, where):
    body = valid_body(endpoint)
    if where == "value":
        body[next(iter(body))] = BIG
    elif where == "key":
        body[BIG] = "x"
    else:
        body["client_id"] = BIG

    invalid_request(send(client, caller, endpoint, raw(body)))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_too_many_parameters(client, caller, endpoint):
    body = raw(valid_body(endpoint)) + b"".join(b"&p%d=x" % i for i in range(100))

    invalid_request(send(client, caller, endpoint, body))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "tail",
    [
        b"&x=\xff\xfe",
        b"&\xc3\x28=1",
        b"&x=%FF%FE",
        b"&x=%C3%28",
        b"&x=\xed\xa0\x80",  # an encoded surrogate
    ],
    ids=["raw-value", "raw-key", "escaped-value", "escaped-truncated", "surrogate"],
)
def test_invalid_utf8(client, caller, endpoint, tail):
    invalid_request(send(client, caller, endpoint, raw(valid_body(endpoint)) + tail))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "value", ["a\x00b", "a\x01b", "line\nbreak"], ids=["nul", "ctrl", "newline"]
)
def test_control_characters(client, caller, endpoint, value):
    body = valid_body(endpoint)
    body[next(iter(body))] = value

    invalid_request(send(client, caller, endpoint, raw(body)))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_json_body(client, caller, endpoint):
    body = json.dumps(valid_body(endpoint))

    invalid_request(send(client, caller, endpoint, body, content_type="application/json"))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", None])
def test_other_content_types(client, caller, endpoint, content_type):
    body = raw(valid_body(endpoint))

    invalid_request(send(client, caller, endpoint, body, content_type=content_type))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("query", ["?client_id=x", "?token=x", "?code=x", "?"])
def test_parameters_in_the_query_string(client, caller, endpoint, query):
    response = send(client, caller, endpoint, raw(valid_body(endpoint)), query=query)

    if query == "?":
        assert response.status_code != 500  # an empty query is no parameter
    else:
        invalid_request(response)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("content_type", [FORM, None])
def test_empty_body(client, caller, endpoint, content_type):
    """Without a required parameter, or without client authentication: RFC 6749 §5.2 codes."""
    response = send(client, caller, endpoint, b"", content_type=content_type)

    oauth_error(response, "invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_empty_body_without_client_authentication(client, caller, endpoint):
    response = send(client, caller, endpoint, b"", headers={})

    if endpoint == "/oauth/token":
        oauth_error(response, "invalid_request")  # no grant_type comes first
    else:
        oauth_error(response, "invalid_client", 401)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"%00:%00").decode(),
        "Basic " + base64.b64encode(b"%FF:%FF").decode(),
        "Basic " + base64.b64encode(("x" * 10_000 + ":y").encode()).decode(),
        "Basic",
        "Digest username=x",
    ],
    ids=[
        "not-utf8",
        "not-base64",
        "no-colon",
        "nul",
        "escaped-not-utf8",
        "huge",
        "empty",
        "digest",
    ],
)
def test_malformed_client_authentication(client, caller, endpoint, header):
    response = send(
        client, caller, endpoint, raw(valid_body(endpoint)), headers={"Authorization": header}
    )

    body = oauth_error(response, "invalid_client", response.status_code)
    assert response.status_code in (400, 401), body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("client_id", ["a\x00b", "é", "x" * 200, "'; drop table oauth_clients; --"])
def test_odd_client_ids(client, caller, endpoint, client_id):
    body = {**valid_body(endpoint), "client_id": client_id}

    response = send(client, caller, endpoint, raw(body), headers={})

    assert response.status_code in (400, 401)
    assert response.get_json()["error"] in ("invalid_request", "invalid_client")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_oversized_body_is_refused_as_json(client, caller, endpoint):
    body = raw(valid_body(endpoint)) + b"&pad=" + b"A" * (2 * 1024 * 1024)

    response = send(client, caller, endpoint, body)

    assert response.status_code == 413
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_refused_as_json(client, endpoint, method):
    response = client.open(endpoint, method=method)

    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "invalid_request"
    assert "POST" in response.headers["Allow"]


def test_bad_input_issues_nothing_and_spends_nothing(client, workspace, partner):
    """A refused request leaves the code and the refresh token as they were."""
    token = issue(client, partner, workspace.admin.email)
    code, verifier = get_code(client, partner, None)
    good = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }

    for body in (
        raw(good) + b"&code=" + code.encode(),
        raw(good) + b"&x=\xff",
        raw({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}) + b"&x=%00",
    ):
        invalid_request(send(client, partner, "/oauth/token", body))

    assert count(OAuthGrant) == 1 and count(OAuthToken) == 1
    assert me_status(client, token["access_token"]) == 200
    redeemed = send(client, partner, "/oauth/token", raw(good))
    assert redeemed.status_code == 200


@pytest.mark.parametrize("value", ["a\x00b", "x" * 10_000, "%FF", 'q"uo\\te'])
@pytest.mark.parametrize("param", ["client_id", "redirect_uri", "scope", "state", "response_type"])
def test_authorize_never_fails_on_odd_values(client, workspace, partner, param, value):
    _, challenge = pkce()
    login(client, workspace.admin.email)
    params = {"scope": "shared", param: value}

    response = client.get(authorize_url(partner, params.pop("scope"), challenge, **params))

    assert response.status_code in (200, 302, 400), response.status_code
    if response.status_code == 200:
        assert param == "state"  # opaque to us: the consent page, and it is echoed back
    elif response.status_code == 302:
        assert response.headers["Location"].startswith(REDIRECT_URI + "?")
        assert "error=" in response.headers["Location"] or param == "state"
    else:
        assert "<code>invalid_" in response.get_data(as_text=True)
