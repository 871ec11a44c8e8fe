"""``/teammates``: the company's teammates, as far as the token reaches them."""

from __future__ import annotations

from typing import Any

from flask import Response

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.models import Teammate
from oauth_server.services import teammates


def _serialize(teammate: Teammate) -> dict[str, Any]:
    return schemas.dump(schemas.Teammate, teammate)


@route(
    "/teammates",
    "GET",
    endpoint="list_teammates",
    summary="List teammates, newest first",
    tag="teammates",
    scopes=(scopes.SHARED, scopes.PROVISIONING, scopes.PRIVATE, scopes.ANY_TEAM),
    response=schemas.Teammate,
    paged=True,
    description=(
        "shared and provisioning see every teammate; team:<id> scopes see their teams' "
        "members; private sees the teammates whose private resources it reaches."
    ),
)
def list_teammates() -> Response:
    return page(
        teammates.visible_to(current_principal()), (Teammate.company_id, Teammate.id), _serialize
    )
