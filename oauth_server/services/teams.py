"""Teams: names, members, and what goes when a team goes.

One set of rules for every door (the command line, the demo, an identity provider
through SCIM, the API): a team's name is unique in its company, compared case-blind;
members are teammates of the same company; a team that still owns items cannot be
deleted, and deleting one revokes what its scope reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from oauth_server import text
from oauth_server.errors import Conflict
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import identities
from oauth_server.services import revocation
from oauth_server.services import teammates
from oauth_server.services.principals import AnyCompany
from oauth_server.services.principals import Principal
from oauth_server.services.revocation import Via
from oauth_server.services.transactions import commit_or_conflict
from oauth_server.services.visibility import visible_teams

log = logging.getLogger("oauth_server.audit")

MEMBERS_MAX = 10_000


def of_company(company: AnyCompany) -> Select[Any]:
    """The company's teams, members loaded, in id order (stable pages)."""
    return (
        select(Team)
        .where(Team.company_id == company.id)
        .options(selectinload(Team.members))
        .order_by(Team.id)
    )


def in_company(company: AnyCompany, team_id: int | None) -> Team:
    """The team of this id in ``company``; one of another company is not found either."""
    team: Team | None = (
        db.session.scalar(select(Team).where(Team.company_id == company.id, Team.id == team_id))
        if team_id is not None
        else None
    )
    if team is None:
        raise NotFound("No such team.")
    return team


def visible_to(principal: Principal) -> Select[Any]:
    """The teams an API principal may list (``visibility.visible_teams``)."""
    return select(Team).where(visible_teams(principal)).options(selectinload(Team.members))


def visible(principal: Principal, team_id: int) -> Team:
    team: Team | None = db.session.scalar(visible_to(principal).where(Team.id == team_id))
    if team is None:
        raise NotFound("No such team.")
    return team


def members(company: AnyCompany, teammate_ids: Iterable[int]) -> list[Teammate]:
    """The company's teammates of these ids, in order, to be a team's members.

    A repeated id counts once; an id that names no teammate of this company is refused,
    so a team never holds a teammate of another company.
    """
    wanted = list(dict.fromkeys(teammate_ids))
    if len(wanted) > MEMBERS_MAX:
        raise ValidationFailed(f"A team has at most {MEMBERS_MAX} members.", field="members")
    found, missing = teammates.by_ids(company, wanted)
    if missing:
        raise ValidationFailed(f"No teammate with id {str(missing[0])!r}.", field="members")
    return found


def _name_conflict(name: str) -> Conflict:
    return Conflict(f"A team named {name!r} exists already.", field="team_name")


def check_name(company: AnyCompany, name: str | None, *, other_than: int | None = None) -> str:
    """A team name as stored, free in ``company`` (compared case-blind)."""
    value = text.name(name, "Team name", field="team_name")
    query = select(Team.id).where(
        Team.company_id == company.id, func.lower(Team.name) == value.lower()
    )
    if other_than is not None:
        query = query.where(Team.id != other_than)
    if db.session.scalar(query) is not None:
        raise _name_conflict(value)
    return value


def create_team(
    company: AnyCompany,
    *,
    name: str,
    members: list[Teammate],
    external_id: str = "",
    via: str,
) -> Team:
    name = check_name(company, name)
    team = Team(
        company_id=company.id,
        name=name,
        members=members,
        external_id=identities.external_id(external_id),
    )
    db.session.add(team)
    commit_or_conflict(_name_conflict(name))
    log.info("team created", extra={"team_id": team.id, "company_id": company.id, "via": via})
    return team


def update_team(
    team: Team,
    *,
    name: str | None = None,
    members: list[Teammate] | None = None,
    external_id: str | None = None,
    via: str,
) -> Team:
    """Rename a team or set its members or external id; None leaves a field as it is."""
    if external_id is not None:
        team.external_id = identities.external_id(external_id)
    renamed = name is not None and name.strip() != team.name
    if renamed:
        team.name = check_name(team.company, name, other_than=team.id)
    if members is not None:
        before = {m.id for m in team.members}
        team.members = members
        after = {m.id for m in members}
        if before != after:
            log.info(
                "team members changed",
                extra={
                    "team_id": team.id,
                    "company_id": team.company_id,
                    "added": sorted(after - before),
                    "removed": sorted(before - after),
                    "via": via,
                },
            )
    if renamed:
        commit_or_conflict(_name_conflict(team.name))
    else:  # two requests adding the same member at once: one of them loses
        commit_or_conflict(Conflict("The team changed meanwhile: send the request again."))
    return team


def owns_items(team: Team) -> bool:
    return any(
        db.session.scalar(select(exists().where(model.team_id == team.id)))
        for model in RESOURCE_MODELS.values()
    )


def delete_team(team: Team, *, via: Via) -> None:
    """Delete a team that owns no items; its memberships go with it, and so do the
    personal tokens of its scope and its scope in partner grants (``revocation``).

    A team's inboxes, conversations and other items would go too (ON DELETE CASCADE),
    which no identity provider means by removing a group: refused while it owns any.
    """
    if owns_items(team):
        raise Conflict(
            "This team still owns inboxes, conversations or other items: move or delete "
            "them in the workspace first.",
            field="id",
        )
    team_id, company_id = team.id, team.company_id
    # What the team's scope reached ends with it, in the same transaction.
    revocation.revoke_all_for(team, actor=None, via=via)
    db.session.execute(delete(Team).where(Team.id == team_id))
    db.session.commit()
    db.session.expire_all()
    log.info("team deleted", extra={"team_id": team_id, "company_id": company_id, "via": via})
