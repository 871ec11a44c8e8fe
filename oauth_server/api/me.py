"""``GET /me``: the token itself."""

from __future__ import annotations

from typing import Any

from oauth_server.api import schemas
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route


@route(
    "/me",
    "GET",
    endpoint="me",
    summary="The token making the request",
    tag="me",
    response=schemas.Me,
    description="Any valid token may call this, whatever its scopes.",
)
def me() -> dict[str, Any]:
    principal = current_principal()
    teammate = principal.teammate
    app = principal.app
    return schemas.dump(
        schemas.Me,
        {
            "kind": principal.kind,
            "scopes": principal.scopes,
            "company": {"id": principal.company.id, "name": principal.company.name},
            "app": {"client_id": app.client_id, "name": app.name} if app is not None else None,
            "teammate": {"id": teammate.id, "email": teammate.email} if teammate else None,
        },
    )
