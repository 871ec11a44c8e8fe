"""Every API route is declared once, through ``route``: URL rule, scope gate and docs.

``route`` adds the view to the blueprint, wraps it in the scope check it documents, and
records an ``Operation`` that the OpenAPI document is built from. A route added with a
plain ``bp.route`` is missing from the document, and the OpenAPI test says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from typing import TypeVar

from pydantic import BaseModel

from oauth_server import scopes as scopes_module
from oauth_server.api import protect
from oauth_server.api.blueprint import PUBLIC_ENDPOINTS
from oauth_server.api.blueprint import bp

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one method of one URL rule."""

    endpoint: str  # "api.list_inboxes"
    rule: str  # Flask rule inside the blueprint: "/inboxes/<id:item_id>"
    method: str
    summary: str
    tag: str
    scopes: tuple[str, ...]  # any one of them (ORed); empty: any valid token
    level: str  # scopes.READ, WRITE or SEND: what read-only scopes may do here
    public: bool
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    paged: bool
    description: str
    parameters: tuple[dict[str, Any], ...] = ()  # query parameters, as OpenAPI writes them


OPERATIONS: list[Operation] = []


PAGE_TOKEN = "Cursor of the next page, as found in `_pagination.next`."


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter, as OpenAPI writes it (``route(parameters=...)``)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def route(
    rule: str,
    method: str,
    *,
    endpoint: str,
    summary: str,
    tag: str,
    scopes: tuple[str, ...] = (),
    public: bool = False,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    paged: bool = False,
    description: str = "",
    level: str | None = None,
    parameters: tuple[dict[str, Any], ...] = (),
) -> Callable[[F], F]:
    """Register ``view`` as ``method rule`` of the API, gated by ``scopes`` at ``level``.

    The level is READ for GET (and HEAD), WRITE for any other method unless the route
    says otherwise (posting a message: SEND).
    """
    at: str = level or (scopes_module.READ if method.upper() == "GET" else scopes_module.WRITE)
    full_endpoint = f"{bp.name}.{endpoint}"
    # The document must not call a route public while the blueprint asks it for a token.
    if public != (full_endpoint in PUBLIC_ENDPOINTS):
        raise ValueError(f"{full_endpoint}: public routes are exactly PUBLIC_ENDPOINTS")

    def decorate(view: F) -> F:
        @wraps(view)
        def gated(*args: Any, **kwargs: Any) -> Any:
            if not public:
                protect.require_any(scopes, at)
            return view(*args, **kwargs)

        bp.add_url_rule(rule, endpoint=endpoint, view_func=gated, methods=[method])
        OPERATIONS.append(
            Operation(
                endpoint=full_endpoint,
                rule=rule,
                method=method.upper(),
                summary=summary,
                tag=tag,
                scopes=scopes,
                level=at,
                public=public,
                body=body,
                response=response,
                status=status,
                paged=paged,
                description=description,
                parameters=parameters,
            )
        )
        return view

    return decorate
