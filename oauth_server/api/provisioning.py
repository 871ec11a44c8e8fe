"""Provisioning: teammates' membership of teams and access to team inboxes.

``PUT`` adds and ``DELETE`` removes; both are idempotent and answer 204 whether or not
anything changed, so an identity provider can replay them safely. Only tokens with the
provisioning scope reach these routes.
"""

from __future__ import annotations

from flask import Response

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.models import Teammate
from oauth_server.services import memberships

PROVISIONING = (scopes.PROVISIONING,)
TEAM_MEMBER = "/teams/<id:team_id>/teammates/<id:teammate_id>"
INBOX_TEAMMATES = "/inboxes/<id:inbox_id>/teammates"
INBOX_TEAMMATE = INBOX_TEAMMATES + "/<id:teammate_id>"

_IDEMPOTENT = "Idempotent: 204 whether or not anything changed."
_NOT_FOUND = "A team or teammate of another company, or an unknown id, is a 404."
_TEAM_INBOX = (
    "Team inboxes only: a private inbox belongs to its owner and answers 404, like an "
    "unknown id or an inbox or teammate of another company."
)


@route(
    TEAM_MEMBER,
    "PUT",
    endpoint="add_team_member",
    summary="Make a teammate a member of a team",
    tag="provisioning",
    scopes=PROVISIONING,
    status=204,
    description=(
        f"{_IDEMPOTENT} {_NOT_FOUND} Takes effect on the next request: the teammate may "
        "grant team:<id> on the consent page, and team:<id> tokens list them."
    ),
)
def add_team_member(team_id: int, teammate_id: int) -> Response:
    memberships.set_team_member(current_principal(), team_id, teammate_id, member=True)
    return Response(status=204)


@route(
    TEAM_MEMBER,
    "DELETE",
    endpoint="remove_team_member",
    summary="Take a teammate out of a team",
    tag="provisioning",
    scopes=PROVISIONING,
    status=204,
    description=(
        f"{_IDEMPOTENT} {_NOT_FOUND} Takes effect on the next request: partner grants "
        "the teammate authorized for team:<id> (as a non-admin) stop reaching the team."
    ),
)
def remove_team_member(team_id: int, teammate_id: int) -> Response:
    memberships.set_team_member(current_principal(), team_id, teammate_id, member=False)
    return Response(status=204)


@route(
    INBOX_TEAMMATES,
    "GET",
    endpoint="list_inbox_teammates",
    summary="List the teammates with access to a team inbox, newest first",
    tag="provisioning",
    scopes=PROVISIONING,
    response=schemas.Teammate,
    paged=True,
    description=_TEAM_INBOX,
)
def list_inbox_teammates(inbox_id: int) -> Response:
    query = memberships.inbox_teammates(current_principal(), inbox_id)
    return page(
        query,
        (Teammate.company_id, Teammate.id),
        lambda teammate: schemas.dump(schemas.Teammate, teammate),
        inbox_id=inbox_id,
    )


@route(
    INBOX_TEAMMATE,
    "PUT",
    endpoint="grant_inbox_access",
    summary="Give a teammate access to a team inbox",
    tag="provisioning",
    scopes=PROVISIONING,
    status=204,
    description=f"{_IDEMPOTENT} {_TEAM_INBOX}",
)
def grant_inbox_access(inbox_id: int, teammate_id: int) -> Response:
    memberships.set_inbox_access(current_principal(), inbox_id, teammate_id, allowed=True)
    return Response(status=204)


@route(
    INBOX_TEAMMATE,
    "DELETE",
    endpoint="revoke_inbox_access",
    summary="Take a teammate's access to a team inbox away",
    tag="provisioning",
    scopes=PROVISIONING,
    status=204,
    description=f"{_IDEMPOTENT} {_TEAM_INBOX}",
)
def revoke_inbox_access(inbox_id: int, teammate_id: int) -> Response:
    memberships.set_inbox_access(current_principal(), inbox_id, teammate_id, allowed=False)
    return Response(status=204)
