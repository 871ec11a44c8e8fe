"""What an API principal may see, as SQL conditions, so lists and lookups filter in the
database.

Owned resources (inboxes, conversations and the rest) are visible by team scope and by
private allowance (``visible``, ``visibility``); teams and teammates as the API lists
them: ``shared`` and ``provisioning`` see the whole company, ``team:<id>`` scopes see
those teams and their members, ``private`` sees the teammates whose private resources it
reaches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from typing import cast

from sqlalchemy import ColumnElement
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import false
from sqlalchemy import or_
from sqlalchemy import select

from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import OwnedResource
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.team import team_memberships
from oauth_server.services import keyset
from oauth_server.services.principals import Principal

_teammates = Teammate.__table__


@dataclass(frozen=True)
class Reach:
    """What a principal may see, as a shape without its values: which teams (all, some,
    none) and which private items (none, one owner's, those of teammates who allow API
    access). The key of the statements built once per shape (``visibility``)."""

    teams: str  # "all", "some" or "none"
    private: str  # "none", "owner" or "allowed"


def reach(principal: Principal) -> tuple[Reach, dict[str, Any]]:
    """The shape of ``principal``'s visibility, and the values its statements bind:
    ``company_id``, and ``team_ids`` or ``owner_id`` when the shape needs them."""
    params: dict[str, Any] = {"company_id": principal.company.id}
    if principal.reaches_all_teams:
        teams = "all"
    elif principal.team_ids:
        teams = "some"
        params["team_ids"] = sorted(principal.team_ids)
    else:
        teams = "none"
    if not principal.has(scopes.PRIVATE):
        private = "none"
    elif principal.private_owner_id is not None:
        private = "owner"
        params["owner_id"] = principal.private_owner_id
    else:
        private = "allowed"
    return Reach(teams, private), params


def _value(name: str, params: dict[str, Any] | None, **options: Any) -> Any:
    """The bind parameter ``name``: left to bind (``params`` None, a statement built once)
    or holding its value (a statement built for one request; unique, so that two such
    clauses never clash in one statement)."""
    if params is None:
        return bindparam(name, **options)
    return bindparam(name, params[name], unique=True, **options)


def _team_clause(teams: str, team_column: Any, params: dict[str, Any] | None) -> Any:
    if teams == "all":
        return team_column.is_not(None)
    if teams == "some":
        return team_column.in_(_value("team_ids", params, expanding=True))
    return false()


def _private_clause(private: str, owner_column: Any, params: dict[str, Any] | None) -> Any:
    if private == "owner":
        return owner_column == _value("owner_id", params)
    if private == "allowed":
        allowing = select(_teammates.c.id).where(
            _teammates.c.company_id == _value("company_id", params),
            _teammates.c.private_api_access.is_(True),
        )
        return owner_column.in_(allowing)
    return false()


def _visibility(
    table: Table, shape: Reach, dialect: str, params: dict[str, Any] | None
) -> ColumnElement[bool]:
    return and_(
        keyset.within(table.c.company_id, _value("company_id", params), dialect=dialect),
        or_(
            _team_clause(shape.teams, table.c.team_id, params),
            _private_clause(shape.private, table.c.owner_id, params),
        ),
    )


@functools.cache
def visibility(table: Table, shape: Reach, dialect: str) -> ColumnElement[bool]:
    """Rows of ``table`` (an owned resource's) a principal of this shape may see: its
    company's, by scope and allowance. Built once per table, shape and database, the
    values of ``reach`` left to bind; the company is a ``keyset.within`` condition, so
    that a list pages on the index (company_id, id)."""
    return _visibility(table, shape, dialect, None)


def private_owner_condition(principal: Principal, owner_column: Any) -> ColumnElement[bool]:
    """SQL condition on an owner column: private items this principal may reach."""
    shape, params = reach(principal)
    return _private_clause(shape.private, owner_column, params)  # type: ignore[no-any-return]


def team_condition(principal: Principal, team_column: Any) -> ColumnElement[bool]:
    shape, params = reach(principal)
    return _team_clause(shape.teams, team_column, params)  # type: ignore[no-any-return]


def visible(model: type[OwnedResource], principal: Principal) -> ColumnElement[bool]:
    """Rows of ``model`` this principal may see (``visibility``, its values in place)."""
    shape, params = reach(principal)
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    return _visibility(table, shape, db.engine.dialect.name, params)


def may_reach_owner(principal: Principal, owner: Teammate) -> bool:
    if owner.company_id != principal.company.id or not principal.has(scopes.PRIVATE):
        return False
    if principal.private_owner_id is not None:
        return owner.id == principal.private_owner_id
    return owner.private_api_access


def visible_teams(principal: Principal) -> ColumnElement[bool]:
    """Teams a principal may list: all with shared or provisioning, else its team scopes.

    The company is a ``keyset.in_company`` condition, as in ``visible``.
    """
    in_company = keyset.in_company(Team, principal.company.id)
    if principal.reaches_all_teams or principal.has(scopes.PROVISIONING):
        return in_company
    return and_(in_company, team_condition(principal, Team.id))


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
