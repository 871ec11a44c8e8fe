from __future__ import annotations

import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.factories import REDIRECT_URI
from tests.flows import get_code


def test_code_exchange_refresh_and_revoke_with_authlib_client(
    client, live_server, workspace, partner
):
    code, verifier = get_code(client, partner, workspace.admin.email, "shared private")
    session = OAuth2Session(
        partner.client_id,
        partner.client_secret,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    token = session.fetch_token(
        live_server.url + "/oauth/token",
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
    )
    assert token["access_token"].startswith("wsp_oat_")
    assert token["scope"] == "shared private"
    me = session.get(live_server.url + "/api/v1/me").json()
    assert me["kind"] == "oauth" and me["app"]["client_id"] == partner.client_id
    new = session.refresh_token(
        live_server.url + "/oauth/token", refresh_token=token["refresh_token"]
    )
    assert new["refresh_token"] != token["refresh_token"]
    reuse = requests.post(
        live_server.url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(partner.client_id, partner.client_secret),
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert session.get(live_server.url + "/api/v1/me").status_code == 401
