"""Who belongs where: teammates' membership of teams and access to team inboxes.

The provisioning scope's changes. Every function takes the API principal and plain
values and raises our domain errors. Rows are always fetched by company and id, so an id
of another company is ``NotFound`` like an unknown one. Changes are idempotent: adding
what is there already or removing what is not changes nothing and is no error. They take
effect on the next request: scopes are checked against ``Teammate.teams`` at every
request (``consent.delegable``), never copied into tokens.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from oauth_server import scopes
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Inbox
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models import team_memberships
from oauth_server.models.resources import inbox_access
from oauth_server.services import teammates
from oauth_server.services import teams
from oauth_server.services.principals import Principal
from oauth_server.services.principals import require_scope

log = logging.getLogger("oauth_server.audit")


def _team(principal: Principal, team_id: int) -> Team:
    return teams.in_company(principal.company, team_id)


def _teammate(principal: Principal, teammate_id: int) -> Teammate:
    return teammates.in_company(principal.company, teammate_id)


def _team_inbox(principal: Principal, inbox_id: int) -> Inbox:
    """A team inbox of the company. A private inbox belongs to its owner alone: it is not
    shared through provisioning, and answers like an unknown id so that a token without
    ``private`` never learns it exists."""
    inbox = db.session.scalar(
        select(Inbox).where(
            Inbox.company_id == principal.company.id,
            Inbox.id == inbox_id,
            Inbox.team_id.is_not(None),
        )
    )
    if inbox is None:
        raise NotFound("No such team inbox.")
    return inbox


def _link(table: Table, owner_column: str, owner_id: int, teammate_id: int) -> bool:
    """Insert a (owner, teammate) row unless it is there; True when it was added."""
    where = (table.c[owner_column] == owner_id, table.c.teammate_id == teammate_id)
    if db.session.scalar(select(exists().where(*where))):
        return False
    try:
        db.session.execute(
            insert(table).values({owner_column: owner_id, "teammate_id": teammate_id})
        )
        db.session.commit()
    except IntegrityError:
        # A concurrent request added the same row first: the outcome asked for holds.
        db.session.rollback()
        return False
    return True


def _unlink(table: Table, owner_column: str, owner_id: int, teammate_id: int) -> bool:
    """Delete a (owner, teammate) row; True when there was one."""
    result = db.session.execute(
        delete(table).where(table.c[owner_column] == owner_id, table.c.teammate_id == teammate_id)
    )
    db.session.commit()
    return bool(getattr(result, "rowcount", 0))


def _set_link(
    principal: Principal,
    table: Table,
    owner_column: str,
    owner_id: int,
    teammate_id: int,
    *,
    linked: bool,
    event: str,
) -> bool:
    """Link the teammate to the owner (a team, an inbox) or unlink them; True when that
    changed anything, which is then logged as ``event``."""
    teammate = _teammate(principal, teammate_id)
    changed = (_link if linked else _unlink)(table, owner_column, owner_id, teammate.id)
    if changed:
        log.info(
            event,
            extra={
                "company_id": principal.company.id,
                "token_kind": principal.kind,
                "token_id": principal.token_id,
                "teammate_id": teammate.id,
                owner_column: owner_id,
            },
        )
    return changed


def set_team_member(principal: Principal, team_id: int, teammate_id: int, *, member: bool) -> bool:
    """Make a teammate a member of a team, or take them out; True if that changed anything.

    Partner grants a removed member authorized for ``team:<id>`` stop reaching the team on
    their next request (``consent.delegable``).
    """
    require_scope(principal, scopes.PROVISIONING)
    team = _team(principal, team_id)
    event = "team member added" if member else "team member removed"
    return _set_link(
        principal, team_memberships, "team_id", team.id, teammate_id, linked=member, event=event
    )


def inbox_teammates(principal: Principal, inbox_id: int) -> Select[Any]:
    """The teammates with access to a team inbox."""
    require_scope(principal, scopes.PROVISIONING)
    inbox = _team_inbox(principal, inbox_id)
    with_access = select(inbox_access.c.teammate_id).where(inbox_access.c.inbox_id == inbox.id)
    return select(Teammate).where(
        Teammate.company_id == principal.company.id, Teammate.id.in_(with_access)
    )


def set_inbox_access(
    principal: Principal, inbox_id: int, teammate_id: int, *, allowed: bool
) -> bool:
    """Give a teammate access to a team inbox, or take it away; True if that changed
    anything."""
    require_scope(principal, scopes.PROVISIONING)
    inbox = _team_inbox(principal, inbox_id)
    event = "inbox access granted" if allowed else "inbox access removed"
    return _set_link(
        principal, inbox_access, "inbox_id", inbox.id, teammate_id, linked=allowed, event=event
    )
