"""Teams and teammates as an API principal may list them.

``shared`` and ``provisioning`` see the whole company; ``team:<id>`` scopes see those
teams and their members; ``private`` sees the teammates whose private resources it
reaches. Conditions are SQL, so lists filter in the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from oauth_server import scopes
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models import team_memberships
from oauth_server.services import keyset
from oauth_server.services.access import Principal
from oauth_server.services.access import private_owner_condition
from oauth_server.services.access import visible_teams


def teams(principal: Principal) -> Select[Any]:
    return select(Team).where(visible_teams(principal)).options(selectinload(Team.members))


def get_team(principal: Principal, team_id: int) -> Team:
    team: Team | None = db.session.scalar(teams(principal).where(Team.id == team_id))
    if team is None:
        raise NotFound("No such team.")
    return team


def visible_teammates(principal: Principal) -> ColumnElement[bool]:
    """Teammates a principal may list (the company as ``keyset.in_company``: the list pages
    on the index (company_id, id))."""
    in_company = keyset.in_company(Teammate, principal.company.id)
    if principal.reaches_all_teams or principal.has(scopes.PROVISIONING):
        return in_company
    reachable = [private_owner_condition(principal, Teammate.id)]
    if principal.team_ids:
        members = select(team_memberships.c.teammate_id).where(
            team_memberships.c.team_id.in_(sorted(principal.team_ids))
        )
        reachable.append(Teammate.id.in_(members))
    return and_(in_company, or_(*reachable))


def teammates(principal: Principal) -> Select[Any]:
    return select(Teammate).where(visible_teammates(principal))
