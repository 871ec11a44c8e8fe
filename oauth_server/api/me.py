"""``GET /me``: the token itself."""

from __future__ import annotations

from typing import Any

from oauth_server.api import bp
from oauth_server.api.protect import current_principal


@bp.get("/me")
def me() -> dict[str, Any]:
    principal = current_principal()
    teammate = principal.teammate
    app = principal.app
    return {
        "kind": principal.kind,
        "scopes": principal.scopes,
        "company": {"id": principal.company.id, "name": principal.company.name},
        "app": {"client_id": app.client_id, "name": app.name} if app is not None else None,
        "teammate": {"id": teammate.id, "email": teammate.email} if teammate else None,
    }
