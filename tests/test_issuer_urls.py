"""Links we hand out name the configured issuer, never the request's Host.

A client writes ``Host`` and ``X-Forwarded-Host`` as it likes; a next page, a
``Location`` or a SCIM ``meta.location`` built from them would send the next request (or
a cache's copy of the answer) to a host of the client's choosing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import make_team
from tests.factories import make_teammate

ISSUER = "https://auth.example.com"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
SCIM_JSON = "application/scim+json"


@pytest.fixture(autouse=True)
def _issuer(app: Flask) -> None:
    app.config["OAUTH_ISSUER"] = ISSUER


def _urls(value: Any) -> list[str]:
    """Every string in ``value`` that looks like an absolute URL."""
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    if isinstance(value, str) and "://" in value:
        return [value]
    return []


def _assert_issuer_only(response: Any) -> list[str]:
    body = response.get_data(as_text=True)
    assert "evil.example" not in body
    assert "evil.example" not in response.headers.get("Location", "")
    urls = _urls(json.loads(body)) if body else []
    for url in [*urls, *([response.headers["Location"]] if "Location" in response.headers else [])]:
        assert url == ISSUER or url.startswith(ISSUER + "/"), url
    return urls


def _api(client: FlaskClient, method: str, path: str, token: str, **kwargs: Any) -> Any:
    return client.open(path, method=method, headers={**bearer(token), **FORGED}, **kwargs)


def test_api_next_links_and_locations_name_the_issuer(client: FlaskClient) -> None:
    company = make_company("Acme", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@acme.test")
    team = make_team(company, "Support", members=[admin])
    for _ in range(3):
        make_resource("tags", company, team=team)
    _, token = make_personal_token(company, "shared", actor=admin)
    _, provisioning = make_personal_token(company, "provisioning", actor=admin)

    listed = _api(client, "GET", "/api/v1/tags?limit=2", token)
    assert listed.status_code == 200
    assert listed.get_json()["_pagination"]["next"].startswith(f"{ISSUER}/api/v1/tags?")
    _assert_issuer_only(listed)

    created = _api(client, "POST", "/api/v1/tags", token, json={"name": "New", "team_id": team.id})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"] == f"{ISSUER}/api/v1/tags/{created.get_json()['id']}"

    shift = _api(
        client,
        "POST",
        "/api/v1/shifts",
        provisioning,
        json={"name": "Days", "timezone": "UTC", "ranges": [], "teammate_ids": []},
    )
    assert shift.status_code == 201, shift.get_data(as_text=True)
    assert shift.headers["Location"] == f"{ISSUER}/api/v1/shifts/{shift.get_json()['id']}"

    document = client.get("/api/v1/openapi.json", headers=FORGED)
    assert document.get_json()["servers"] == [{"url": f"{ISSUER}/api/v1"}]


def test_scim_locations_and_references_name_the_issuer(client: FlaskClient) -> None:
    company = make_company("Acme", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@acme.test", name="Ada Admin")
    alice = make_teammate(company, email="alice@acme.test", name="Alice Liddell")
    make_team(company, "Support", members=[alice])
    _, token = make_personal_token(company, "scim", actor=admin)

    def scim(method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": json.dumps(body), "content_type": SCIM_JSON}
        return _api(client, method, "/scim/v2" + path, token, **kwargs)

    user = scim(
        "POST",
        "/Users",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.test"},
    )
    assert user.status_code == 201, user.get_data(as_text=True)
    user_id = user.get_json()["id"]
    assert user.headers["Location"] == f"{ISSUER}/scim/v2/Users/{user_id}"
    assert user.get_json()["meta"]["location"] == f"{ISSUER}/scim/v2/Users/{user_id}"
    _assert_issuer_only(user)

    group = scim(
        "POST",
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Sales",
            "members": [{"value": str(alice.id)}],
        },
    )
    assert group.status_code == 201, group.get_data(as_text=True)
    group_id = group.get_json()["id"]
    assert group.headers["Location"] == f"{ISSUER}/scim/v2/Groups/{group_id}"
    assert group.get_json()["meta"]["location"] == f"{ISSUER}/scim/v2/Groups/{group_id}"
    _assert_issuer_only(group)

    for path in (
        f"/Users/{alice.id}",
        f"/Groups/{group_id}",
        "/Users",
        "/Groups",
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
    ):
        answer = scim("GET", path)
        assert answer.status_code == 200, (path, answer.get_data(as_text=True))
        assert _assert_issuer_only(answer), path  # each names at least one URL


def test_authorization_server_metadata_names_the_issuer(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server", headers=FORGED)
    urls = _assert_issuer_only(metadata)
    assert f"{ISSUER}/oauth/token" in urls
