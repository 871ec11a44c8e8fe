"""ServiceProviderConfig, ResourceTypes, Schemas (RFC 7644 §4); media types; 404/405/501."""

from __future__ import annotations

import pytest

from tests.scim.conftest import GROUP
from tests.scim.conftest import LIST
from tests.scim.conftest import SCIM_JSON
from tests.scim.conftest import USER
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def test_service_provider_config(scim: Scim) -> None:
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response.mimetype == SCIM_JSON
    body = response.get_json()
    assert body["schemas"] == [SPC]
    assert body["patch"] == {"supported": True}
    assert body["filter"] == {"supported": True, "maxResults": 200}
    assert body["bulk"]["supported"] is False
    assert body["sort"] == {"supported": False}
    assert body["etag"] == {"supported": False}
    assert body["changePassword"] == {"supported": False}
    (scheme,) = body["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken" and scheme["primary"] is True
    assert body["meta"]["location"] == "http://localhost/scim/v2/ServiceProviderConfig"


def test_resource_types(scim: Scim) -> None:
    body = scim.get("/ResourceTypes").get_json()
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == 2
    by_name = {rt["name"]: rt for rt in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schema"] == USER
    assert by_name["Group"]["endpoint"] == "/Groups"
    assert by_name["Group"]["schema"] == GROUP
    assert all(rt["schemas"] == [RESOURCE_TYPE] for rt in body["Resources"])
    single = scim.get("/ResourceTypes/User").get_json()
    assert single["meta"]["location"] == "http://localhost/scim/v2/ResourceTypes/User"
    assert_scim_error(scim.get("/ResourceTypes/Robot"), 404)


def test_schemas_list_what_is_stored(scim: Scim) -> None:
    body = scim.get("/Schemas").get_json()
    assert body["totalResults"] == 2
    schemas = {s["id"]: s for s in body["Resources"]}
    assert set(schemas) == {USER, GROUP}
    user = {a["name"]: a for a in schemas[USER]["attributes"]}
    assert set(user) == {"userName", "name", "displayName", "active", "emails", "groups", "roles"}
    # Teammates sign in by e-mail, and are active or not.
    assert user["emails"]["required"] is True and user["active"]["required"] is True
    assert {s["name"] for s in user["roles"]["subAttributes"]} == {"value"}
    assert user["userName"]["uniqueness"] == "server"
    assert user["userName"]["caseExact"] is False
    assert user["groups"]["mutability"] == "readOnly"
    assert {s["name"] for s in user["name"]["subAttributes"]} == {
        "formatted",
        "givenName",
        "familyName",
    }
    group = {a["name"]: a for a in schemas[GROUP]["attributes"]}
    assert set(group) == {"displayName", "members"}
    assert {s["name"] for s in group["members"]["subAttributes"]} == {"value", "$ref", "type"}
    assert all(s["schemas"] == [SCHEMA] for s in body["Resources"])


@pytest.mark.parametrize("schema_id", [USER, USER.upper()])
def test_one_schema(scim: Scim, schema_id: str) -> None:
    body = scim.get(f"/Schemas/{schema_id}").get_json()
    assert body["id"] == USER
    assert body["meta"]["location"] == f"http://localhost/scim/v2/Schemas/{USER}"


def test_an_unknown_schema_is_404(scim: Scim) -> None:
    assert_scim_error(scim.get("/Schemas/urn:example:nothing"), 404)


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"])
def test_discovery_takes_no_filter(scim: Scim, path: str) -> None:
    # RFC 7644 §4: a filter here SHOULD be refused with 403.
    assert_scim_error(scim.get(f'{path}?filter=name eq "User"'), 403)


def test_a_client_that_asks_for_application_json_gets_it(scim: Scim) -> None:
    response = scim.get("/Users", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    response = scim.get("/Users", headers={"Accept": "application/scim+json, application/json"})
    assert response.mimetype == SCIM_JSON
    assert scim.get("/Users", headers={"Accept": "*/*"}).mimetype == SCIM_JSON


@pytest.mark.parametrize("path", ["/Nothing", "/Users/1/extra", "/", "/Users/"])
def test_unknown_paths_are_scim_404s(scim: Scim, path: str) -> None:
    assert_scim_error(scim.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/ServiceProviderConfig", "GET"),
        ("PUT", "/Users", "GET, POST"),
        ("POST", "/Users/1", "DELETE, GET, PATCH, PUT"),
        ("PATCH", "/Schemas", "GET"),
    ],
)
def test_other_methods_are_scim_405s(scim: Scim, method: str, path: str, allow: str) -> None:
    response = scim(method, path)
    assert_scim_error(response, 405)
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("path", ["/Me", "/Bulk", "/Users/.search", "/.search"])
def test_what_is_not_supported_is_501(scim: Scim, path: str) -> None:
    assert_scim_error(scim.post(path, {}), 501)
