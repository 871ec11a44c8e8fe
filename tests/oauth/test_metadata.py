"""``/.well-known/oauth-authorization-server`` (RFC 8414, with RFC 9207's flag)."""

from __future__ import annotations

import pytest
from authlib.oauth2 import rfc8414
from authlib.oauth2 import rfc9207

from tests.flows import ISSUER

METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture
def metadata(client):
    response = client.get(METADATA)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_metadata_validates_with_authlib(metadata):
    rfc8414.AuthorizationServerMetadata(metadata).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata]
    )


def test_metadata_has_every_field_of_the_spec(metadata):
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert metadata["token_endpoint"] == ISSUER + "/oauth/token"
    assert metadata["revocation_endpoint"] == ISSUER + "/oauth/revoke"
    assert metadata["introspection_endpoint"] == ISSUER + "/oauth/introspect"
    assert {"shared", "private", "provisioning", "scim"} <= set(metadata["scopes_supported"])
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(metadata["revocation_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    # Only confidential resource servers introspect.
    assert set(metadata["introspection_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert metadata["authorization_response_iss_parameter_supported"] is True


def test_issuer_follows_the_oauth_issuer_setting(client, app):
    app.config["OAUTH_ISSUER"] = "https://auth.example.com"

    metadata = client.get(METADATA).get_json()

    assert metadata["issuer"] == "https://auth.example.com"
    assert metadata["token_endpoint"] == "https://auth.example.com/oauth/token"
    rfc8414.AuthorizationServerMetadata(metadata).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata]
    )


def test_advertised_endpoints_answer(client, metadata):
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        response = client.post(metadata[key].removeprefix(ISSUER))
        assert response.status_code in (400, 401)
        assert response.get_json()["error"] in ("invalid_request", "invalid_client")
    authorize = client.get(metadata["authorization_endpoint"].removeprefix(ISSUER))
    assert authorize.status_code == 400  # no client_id: an error page, not a 404


def test_metadata_may_be_cached_but_carries_no_secret(client):
    response = client.get(METADATA)

    assert "max-age" in response.headers["Cache-Control"]
    assert "wsp_" not in response.get_data(as_text=True)
