"""The OpenAPI document is true: every route in it, nothing else, well formed, and the
answers of the API match its schemas and scopes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import COLLECTIONS
from tests.api.conftest import TITLE

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _routes(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every rule of the app under /api/v1."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    return routes


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_api_route_is_documented(app, doc):
    missing = _routes(app) - _documented(doc)
    assert not missing, f"add these with oauth_server.api.registry.route(...): {sorted(missing)}"


def test_every_documented_route_exists(app, doc):
    assert _documented(doc) - _routes(app) == set()


def test_the_spec_routes_are_there(doc):
    documented = _documented(doc)
    for path, method in [
        ("/me", "get"),
        ("/teams", "get"),
        ("/teams/{team_id}", "get"),
        ("/teammates", "get"),
        ("/openapi.json", "get"),
        ("/conversations/{conversation_id}/messages", "get"),
        ("/conversations/{conversation_id}/messages", "post"),
        ("/teams/{team_id}/teammates/{teammate_id}", "put"),
        ("/teams/{team_id}/teammates/{teammate_id}", "delete"),
        ("/inboxes/{inbox_id}/teammates/{teammate_id}", "put"),
        ("/inboxes/{inbox_id}/teammates/{teammate_id}", "delete"),
        ("/shifts", "get"),
        ("/shifts", "post"),
        ("/shifts/{shift_id}", "get"),
        ("/shifts/{shift_id}", "patch"),
        ("/shifts/{shift_id}", "delete"),
    ]:
        assert (path, method) in documented
    for collection in COLLECTIONS:
        for method in ("get", "post"):
            assert (f"/{collection}", method) in documented
        for method in ("get", "patch", "delete"):
            assert (f"/{collection}/{{item_id}}", method) in documented


def test_document_structure(doc):
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"][0]["url"] == "http://localhost/api/v1"
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert "_error" in doc["components"]["schemas"]["Error"]["properties"]
    operation_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in HTTP_METHODS
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            assert operation["responses"], (path, method)
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status)
                assert response["description"]
            names = set(re.findall(r"{(\w+)}", path))
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert params == names, (path, method)
            for security in operation["security"]:
                assert set(security) == {"bearer"}
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves(doc):
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/")
        target: Any = doc
        for part in ref[2:].split("/"):
            assert part in target, ref
            target = target[part]


def test_security_per_operation(doc):
    paths = doc["paths"]
    assert paths["/openapi.json"]["get"]["security"] == []
    assert paths["/me"]["get"]["security"] == [{"bearer": []}]
    inbox_scopes = [s["bearer"][0] for s in paths["/inboxes"]["get"]["security"]]
    assert inbox_scopes == [
        "shared",
        "shared:read",
        "private",
        "private:read",
        "team:{team_id}",
        "team:{team_id}:read",
    ]
    team_scopes = [s["bearer"][0] for s in paths["/teams"]["get"]["security"]]
    assert team_scopes == [
        "shared",
        "shared:read",
        "provisioning",
        "team:{team_id}",
        "team:{team_id}:read",
    ]
    assert "403" in paths["/inboxes"]["post"]["responses"]
    assert "401" not in paths["/openapi.json"]["get"]["responses"]
    assert "401" in paths["/me"]["get"]["responses"]


def test_request_schemas_come_from_the_validation_models(doc):
    schemas = doc["components"]["schemas"]
    create = schemas["InboxCreate"]
    assert create["additionalProperties"] is False
    assert create["required"] == ["name"]
    assert create["properties"]["name"]["maxLength"] == 200
    assert schemas["ConversationCreate"]["properties"]["subject"]["maxLength"] == 500
    assert schemas["MessageCreate"]["properties"]["body"]["maxLength"] == 100_000
    assert "team_id" not in schemas["InboxUpdate"]["properties"]
    body = doc["paths"]["/inboxes"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InboxCreate"
    }


# A small JSON Schema check, enough for the schemas pydantic writes for our responses.
def _conforms(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str = "$") -> None:
    if "$ref" in schema:
        target: Any = doc
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        _conforms(value, target, doc, where)
        return
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _conforms(value, option, doc, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {errors}")
    if "enum" in schema:
        assert value in schema["enum"], where
    kinds = schema.get("type")
    if kinds is None:
        return
    kinds = kinds if isinstance(kinds, list) else [kinds]
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    assert any(checks[k](value) for k in kinds), f"{where}: {value!r} is not {kinds}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{where}: {name} missing"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                _conforms(item, properties[name], doc, f"{where}.{name}")
            else:
                # Responses carry exactly the documented fields, unless a map is documented.
                assert isinstance(extra, dict), f"{where}: {name} undocumented"
                _conforms(item, extra, doc, f"{where}.{name}")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _conforms(item, schema.get("items", {}), doc, f"{where}[{index}]")


def _success_schema(doc, path, method, status):
    response = doc["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def test_answers_match_their_documented_schemas(client, world, doc):
    headers = world.headers("shared")
    calls = [("/me", "/me"), ("/teams", "/teams"), ("/teammates", "/teammates")]
    calls.append((f"/teams/{world.team_a.id}", "/teams/{team_id}"))
    for collection in COLLECTIONS:
        item = world.items[collection]["team_a"].id
        calls.append((f"/{collection}", f"/{collection}"))
        calls.append((f"/{collection}/{item}", f"/{collection}/{{item_id}}"))
    conversation = world.items["conversations"]["team_a"].id
    client.post(
        f"/api/v1/conversations/{conversation}/messages", json={"body": "hi"}, headers=headers
    )
    calls.append(
        (f"/conversations/{conversation}/messages", "/conversations/{conversation_id}/messages")
    )
    for url, path in calls:
        response = client.get(f"/api/v1{url}", headers=headers)
        assert response.status_code == 200, url
        _conforms(response.get_json(), _success_schema(doc, path, "get", 200), doc, url)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_created_and_error_answers_match_their_schemas(client, world, doc, collection):
    headers = world.headers("shared")
    response = client.post(
        f"/api/v1/{collection}",
        json={TITLE[collection]: "Documented", "team_id": world.team_a.id},
        headers=headers,
    )
    assert response.status_code == 201
    schema = _success_schema(doc, f"/{collection}", "post", 201)
    _conforms(response.get_json(), schema, doc)
    bad = client.post(f"/api/v1/{collection}", json={"nope": 1}, headers=headers)
    assert bad.status_code == 400
    _conforms(bad.get_json(), _success_schema(doc, f"/{collection}", "post", 400), doc)


def test_documented_scopes_are_the_enforced_ones(app, client, world, doc):
    """A token with none of an operation's scopes gets 403 naming the first one."""
    headers = world.headers("scim")  # reaches nothing but /me
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            scopes = [s["bearer"][0] for s in operation["security"] if s["bearer"]]
            url = "/api/v1" + re.sub(r"{\w+}", "1", path)
            response = client.open(url, method=method.upper(), json={}, headers=headers)
            if scopes:
                assert response.status_code == 403, (method, path)
                assert f'scope="{scopes[0]}"' in response.headers["WWW-Authenticate"]
            else:
                assert response.status_code == 200, (method, path)


def test_provisioning_answers_match_their_schemas(client, world, doc):
    headers = world.headers("provisioning")
    inbox = world.items["inboxes"]["team_a"].id
    put = client.put(f"/api/v1/inboxes/{inbox}/teammates/{world.bob.id}", headers=headers)
    assert put.status_code == 204
    assert "204" in doc["paths"]["/inboxes/{inbox_id}/teammates/{teammate_id}"]["put"]["responses"]
    created = client.post(
        "/api/v1/shifts",
        json={
            "name": "Documented",
            "timezone": "Europe/Paris",
            "ranges": [{"day": "mon", "start": "09:00", "end": "24:00"}],
            "teammate_ids": [world.alice.id],
        },
        headers=headers,
    )
    assert created.status_code == 201
    _conforms(created.get_json(), _success_schema(doc, "/shifts", "post", 201), doc)
    shift = created.get_json()["id"]
    for url, path in [
        (f"/inboxes/{inbox}/teammates", "/inboxes/{inbox_id}/teammates"),
        ("/shifts", "/shifts"),
        (f"/shifts/{shift}", "/shifts/{shift_id}"),
    ]:
        response = client.get(f"/api/v1{url}", headers=headers)
        assert response.status_code == 200, url
        _conforms(response.get_json(), _success_schema(doc, path, "get", 200), doc, url)
    bad = client.post("/api/v1/shifts", json={"timezone": "Mars/Olympus"}, headers=headers)
    assert bad.status_code == 400
    _conforms(bad.get_json(), _success_schema(doc, "/shifts", "post", 400), doc)
    time_range = doc["components"]["schemas"]["TimeRange"]
    assert time_range["additionalProperties"] is False
    assert time_range["properties"]["end"]["pattern"]
