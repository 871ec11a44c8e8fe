"""``GET /openapi.json``: the OpenAPI 3.1 document of the API, public.

Built from ``registry.OPERATIONS`` (what each route declared when it was added) and the
pydantic models the routes validate and serialize with, so it follows the code.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from typing import cast

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from oauth_server import scopes
from oauth_server.api.blueprint import bp
from oauth_server.api.pagination import MAX_LIMIT
from oauth_server.api.registry import OPERATIONS
from oauth_server.api.registry import PAGE_TOKEN
from oauth_server.api.registry import Operation
from oauth_server.api.registry import query_parameter
from oauth_server.api.registry import route
from oauth_server.urls import issuer

SCHEME = "bearer"
REF = "#/components/schemas/{model}"
_PARAM_RE = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>\w+)>")

_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "minimum": 1},
    "int": {"type": "integer", "minimum": 0},
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer of the API.",
    "required": ["_error"],
    "properties": {
        "_error": {
            "type": "object",
            "required": ["status", "title", "message"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status again."},
                "title": {"type": "string"},
                "message": {"type": "string", "description": "What went wrong, for a person."},
                "fields": {
                    "type": "object",
                    "description": "Invalid request fields, each with its problem.",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}
PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["next"],
    "properties": {
        "next": {
            "type": ["string", "null"],
            "format": "uri",
            "description": "URL of the next page, or null on the last page.",
        }
    },
}
ERROR_RESPONSES = {
    400: "Invalid input: `_error.fields` names each bad field.",
    401: "No token (bare `WWW-Authenticate: Bearer` challenge), or an unknown, malformed, "
    'expired or revoked token (`error="invalid_token"`).',
    403: 'The token lacks a scope (`error="insufficient_scope"`, with the needed `scope`).',
    404: "No such item, or one the token cannot see.",
    415: "The body is not `application/json`.",
    429: "Too many requests; see `Retry-After`.",
}
PAGING_PARAMETERS: list[dict[str, Any]] = [
    query_parameter(
        "limit",
        f"Items per page, 1 to {MAX_LIMIT}.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 25},
    ),
    query_parameter("page_token", PAGE_TOKEN, {"type": "integer", "minimum": 1}),
]


@route(
    "/openapi.json",
    "GET",
    endpoint="openapi",
    summary="This OpenAPI 3.1 document",
    tag="meta",
    public=True,
    description="Public: no token needed.",
)
def openapi() -> dict[str, Any]:
    server = issuer() + (bp.url_prefix or "")
    return {**document(), "servers": [{"url": server}]}


def openapi_path(rule: str) -> str:
    """``/inboxes/<id:item_id>`` -> ``/inboxes/{item_id}``."""
    return _PARAM_RE.sub(lambda m: "{" + m.group("name") + "}", rule)


@cache
def document() -> dict[str, Any]:
    """The document without ``servers`` (the configured issuer's API URL)."""
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method.lower()] = _operation(op, refs)
    tags = sorted({op.tag for op in OPERATIONS})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Workspace API",
            "version": "1",
            "description": (
                "Send `Authorization: Bearer <token>` (a personal API token or a partner's "
                "OAuth access token); a token in the query string is refused. Each "
                "operation lists the scopes that let a token call it, any one of them; "
                "`team:{team_id}` stands for the scope of one team. A read-only scope "
                "(`shared:read`, `private:read`, `team:{team_id}:read`) reaches what its bare "
                "scope reaches, with GET only; with `messages:send` beside it, it may also post "
                "messages. Scopes and their labels:\n\n"
                + "\n".join(f"- `{s}`: {scopes.generic_label(s)}" for s in scopes.CATALOGUE)
            ),
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": tag} for tag in tags],
        "security": [{SCHEME: []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (wsp_pat_...) or an OAuth access "
                    "token (wsp_oat_...).",
                    # The scopes a token may hold, each with its label in the product.
                    "x-scopes": {s: scopes.generic_label(s) for s in scopes.CATALOGUE},
                }
            },
            "schemas": schemas,
        },
    }


def _schemas() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    inputs = {op.body for op in OPERATIONS if op.body is not None}
    outputs = {op.response for op in OPERATIONS if op.response is not None}
    pairs: list[tuple[type[BaseModel], Any]] = [
        *((model, "validation") for model in sorted(inputs, key=lambda m: m.__name__)),
        *((model, "serialization") for model in sorted(outputs, key=lambda m: m.__name__)),
    ]
    by_model, definitions = models_json_schema(pairs, ref_template=REF)
    refs = {cast(type[BaseModel], model): ref for (model, _mode), ref in by_model.items()}
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))
    schemas["Error"] = ERROR_SCHEMA
    schemas["Pagination"] = PAGINATION_SCHEMA
    return refs, schemas


def _operation(op: Operation, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    parameters = [
        {
            "name": match.group("name"),
            "in": "path",
            "required": True,
            "schema": _PARAM_SCHEMAS.get(match.group("converter") or "", {"type": "string"}),
        }
        for match in _PARAM_RE.finditer(op.rule)
    ]
    own = {p["name"] for p in op.parameters}
    parameters.extend(op.parameters)
    if op.paged:
        parameters.extend(p for p in PAGING_PARAMETERS if p["name"] not in own)
    alternatives = accepted_scopes(op)
    item: dict[str, Any] = {
        "operationId": op.endpoint.removeprefix(f"{bp.name}."),
        "summary": op.summary,
        "tags": [op.tag],
        # Security requirements are alternatives: any one of them lets the call in; the
        # scopes inside one are all needed (a read-only scope with messages:send).
        "security": [] if op.public else [{SCHEME: a} for a in alternatives] or [{SCHEME: []}],
        "x-required-scopes": [" ".join(a) for a in alternatives],
        "responses": _responses(op, refs),
    }
    description = op.description
    if op.scopes:
        listed = ", ".join(" + ".join(a) for a in alternatives)
        description = f"Scopes (any one): {listed}. {description}".strip()
    if description:
        item["description"] = description
    if parameters:
        item["parameters"] = parameters
    if op.body is not None:
        item["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[op.body]}},
        }
    return item


def accepted_scopes(op: Operation) -> list[list[str]]:
    """The scope sets that let a token call ``op``, any one of them: each declared scope,
    its read-only form at the READ level, and at SEND a read-only form with messages:send."""
    alternatives: list[list[str]] = []
    for scope in op.scopes:
        alternatives.append([scope])
        if op.level == scopes.READ and scopes.has_levels(scope):
            alternatives.append([scopes.read_only(scope)])
    if op.level == scopes.SEND:
        alternatives += [
            [scopes.read_only(s), scopes.MESSAGES_SEND] for s in op.scopes if scopes.has_levels(s)
        ]
    return alternatives


def _responses(op: Operation, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _success(op, refs)}
    codes: list[int] = []
    if op.body is not None or op.paged:
        codes.append(400)
    if not op.public:
        codes.append(401)
    if op.scopes:
        codes.append(403)
    if "<" in op.rule:
        codes.append(404)
    if op.body is not None:
        codes.append(415)
    codes.append(429)
    error = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    for code in codes:
        entry: dict[str, Any] = {"description": ERROR_RESPONSES[code], "content": error}
        if code in (401, 403):
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": "The RFC 6750 bearer challenge; its `resource_metadata` "
                    "(RFC 9728) is the URL of this API's protected resource metadata.",
                    "schema": {"type": "string"},
                }
            }
        responses[str(code)] = entry
    return responses


def _success(op: Operation, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    if op.status == 204:
        return {"description": "Done; no body."}
    if op.response is None:
        schema: dict[str, Any] = {"type": "object"}
    elif op.paged:
        schema = {
            "type": "object",
            "required": ["_results", "_pagination"],
            "properties": {
                "_results": {"type": "array", "items": refs[op.response]},
                "_pagination": {"$ref": REF.format(model="Pagination")},
            },
        }
    else:
        schema = refs[op.response]
    description = "Created." if op.status == 201 else "OK."
    return {"description": description, "content": {"application/json": {"schema": schema}}}
