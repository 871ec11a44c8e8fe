"""``/teams``: the company's teams, as far as the token reaches them."""

from __future__ import annotations

from typing import Any

from flask import Response

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.models import Team
from oauth_server.services import teams

# A private-only token has no business with teams: 403 naming shared.
TEAM_SCOPES = (scopes.SHARED, scopes.PROVISIONING, scopes.ANY_TEAM)
_VISIBILITY = "shared and provisioning see every team; team:<id> scopes see their own teams."


def _serialize(team: Team) -> dict[str, Any]:
    return schemas.dump(
        schemas.Team,
        {
            "id": team.id,
            "name": team.name,
            "teammate_ids": [member.id for member in team.members],
            "created_at": team.created_at,
        },
    )


@route(
    "/teams",
    "GET",
    endpoint="list_teams",
    summary="List teams, newest first",
    tag="teams",
    scopes=TEAM_SCOPES,
    response=schemas.Team,
    paged=True,
    description=_VISIBILITY,
)
def list_teams() -> Response:
    return page(teams.visible_to(current_principal()), (Team.company_id, Team.id), _serialize)


@route(
    "/teams/<id:team_id>",
    "GET",
    endpoint="get_team",
    summary="Read one team",
    tag="teams",
    scopes=TEAM_SCOPES,
    response=schemas.Team,
    description=_VISIBILITY + " Other teams answer 404.",
)
def get_team(team_id: int) -> dict[str, Any]:
    return _serialize(teams.visible(current_principal(), team_id))
