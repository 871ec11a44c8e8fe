"""Who reaches /scim/v2: tokens with the scim scope of a company on the Scale plan only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import companies
from oauth_server.services import revocation
from tests.factories import make_admin
from tests.factories import make_personal_token
from tests.factories import make_team
from tests.factories import register
from tests.flows import issue
from tests.isolation import isolated_client
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import patch_op

BARE_CHALLENGE = (
    'Bearer realm="scim", '
    'resource_metadata="http://localhost/.well-known/oauth-protected-resource/scim/v2"'
)
ENDPOINTS = [
    ("GET", "/Users"),
    ("POST", "/Users"),
    ("GET", "/Users/1"),
    ("PUT", "/Users/1"),
    ("PATCH", "/Users/1"),
    ("DELETE", "/Users/1"),
    ("GET", "/Groups"),
    ("POST", "/Groups"),
    ("GET", "/Groups/1"),
    ("PATCH", "/Groups/1"),
    ("DELETE", "/Groups/1"),
    ("GET", "/ServiceProviderConfig"),
    ("GET", "/ResourceTypes"),
    ("GET", "/Schemas"),
    ("GET", "/Nowhere"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_token_is_401_with_a_bare_challenge(
    scim: Scim, acme: Acme, method: str, path: str
) -> None:
    response = scim.client.open("/scim/v2" + path, method=method)
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"] == BARE_CHALLENGE


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wsp_pat_unknownunknownunknownunknown00",
        "Bearer not-a-token",
        "Bearer two tokens",
        "Bearer ",
    ],
)
def test_a_bad_token_is_401_invalid_token(scim: Scim, header: str) -> None:
    response = scim.client.get("/scim/v2/Users", headers={"Authorization": header})
    assert_scim_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_another_scheme_is_no_token(scim: Scim) -> None:
    response = scim.client.get("/scim/v2/Users", headers={"Authorization": "Basic YTpi"})
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"] == BARE_CHALLENGE


def test_a_token_in_the_query_string_is_refused(scim: Scim, acme: Acme) -> None:
    response = scim.client.get(f"/scim/v2/Users?access_token={acme.token}")
    assert_scim_error(response, 400)


def test_revoked_and_expired_tokens_are_401(scim: Scim, acme: Acme) -> None:
    row, value = make_personal_token(acme.company, "scim", actor=acme.admin)
    revocation.revoke(row, actor=acme.admin, via="settings")
    db.session.commit()
    assert_scim_error(scim.get("/Users", token=value), 401)

    row, value = make_personal_token(acme.company, "scim", actor=acme.admin, expires_in_days=7)
    db.session.get(PersonalToken, row.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_scim_error(scim.get("/Users", token=value), 401)


@pytest.mark.parametrize("scope", ["shared", "private", "provisioning", "team"])
def test_a_token_without_scim_is_403(scim: Scim, acme: Acme, scope: str) -> None:
    if scope == "team":
        scope = f"team:{acme.team.id}"
    _, value = make_personal_token(acme.company, scope, actor=acme.admin)
    body = assert_scim_error(scim.get("/Users", token=value), 403)
    assert "scim" in body["detail"]
    response = scim.get("/Users", token=value)
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="scim"' in response.headers["WWW-Authenticate"]


def test_leaving_the_scale_plan_stops_scim_at_once(scim: Scim, acme: Acme) -> None:
    assert scim.get("/Users").status_code == 200
    companies.update_company(acme.company, plan="growth")
    body = assert_scim_error(scim.get("/Users"), 403)
    assert "Scale plan" in body["detail"]
    assert_scim_error(scim.get("/ServiceProviderConfig"), 403)
    # Nothing was revoked: back on Scale, the same token works again.
    companies.update_company(acme.company, plan="scale")
    assert scim.get("/Users").status_code == 200


def test_a_deactivated_creators_token_is_401_until_reactivation(scim: Scim, acme: Acme) -> None:
    # The token's own creator is deactivated through SCIM with another admin's token.
    other_admin = make_admin(acme.company, email="second@acme.test")
    _, second = make_personal_token(acme.company, "scim", actor=other_admin)
    off = patch_op({"op": "replace", "path": "active", "value": False})
    assert scim.patch(f"/Users/{acme.admin.id}", off, token=second).status_code == 200
    assert_scim_error(scim.get("/Users"), 401)
    on = patch_op({"op": "replace", "path": "active", "value": True})
    assert scim.patch(f"/Users/{acme.admin.id}", on, token=second).status_code == 200
    assert scim.get("/Users").status_code == 200


def test_ids_of_another_company_are_404(scim: Scim, acme: Acme) -> None:
    other_team = make_team(acme.other, "Elsewhere", members=[acme.other_admin])
    assert_scim_error(scim.get(f"/Users/{acme.other_admin.id}"), 404)
    assert_scim_error(scim.delete(f"/Users/{acme.other_admin.id}"), 404)
    assert_scim_error(scim.get(f"/Groups/{other_team.id}"), 404)
    listed = scim.get("/Users").get_json()["Resources"]
    assert acme.other_admin.email not in {user["userName"] for user in listed}
    filtered = scim.get('/Users?filter=userName eq "admin@other.test"').get_json()
    assert filtered["totalResults"] == 0


# --- partner (OAuth) tokens ---------------------------------------------------------------
# SPEC: an admin may grant any scope offered to the company, scim included, and the scope
# gives the SCIM server. So a partner token an admin granted with scim reaches SCIM, for
# as long as that admin could still grant it (admin, active) and the company is on Scale.


def test_a_partner_token_granted_by_an_admin_with_scim_reaches_scim(
    app: Flask, scim: Scim, acme: Acme
) -> None:
    partner = register()
    token = issue(isolated_client(app), partner, acme.admin.email, "scim")["access_token"]
    assert scim.get("/Users", token=token).status_code == 200

    # The admin loses the admin role: they can no longer delegate scim.
    acme.admin.is_admin = False
    db.session.commit()
    assert_scim_error(scim.get("/Users", token=token), 403)


def test_a_partner_token_without_scim_is_403(app: Flask, scim: Scim, acme: Acme) -> None:
    partner = register()
    token = issue(isolated_client(app), partner, acme.admin.email, "shared")["access_token"]
    assert_scim_error(scim.get("/Users", token=token), 403)


def test_rate_limit_answers_a_scim_429(app: Flask, scim: Scim) -> None:
    app.config["RATELIMIT_API"] = "2 per minute"
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users").status_code == 200
    response = scim.get("/Users")
    assert_scim_error(response, 429)
    assert response.headers.get("Retry-After")
