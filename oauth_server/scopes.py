"""The scope catalogue: wire names, labels, when each is offered; parsing and checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from oauth_server.models import Company
from oauth_server.models import Team

SHARED = "shared"
PRIVATE = "private"
PROVISIONING = "provisioning"
SCIM = "scim"
TEAM_PREFIX = "team:"

LABELS = {
    SHARED: "Shared resources",
    PRIVATE: "Private resources",
    PROVISIONING: "Provisioning",
    SCIM: "Auto-provisioning",
}
DESCRIPTIONS = {
    SHARED: "Access to all team resources, across all teams.",
    PRIVATE: "Access to the private resources of teammates who allow API access.",
    PROVISIONING: "Control teammate access to teams and inboxes, and manage shifts.",
    SCIM: "Access to the SCIM server, to sync users across systems.",
}
_TEAM_RE = re.compile(r"^team:([1-9][0-9]{0,17})$")
_STATIC = (SHARED, PRIVATE, PROVISIONING, SCIM)


class Offering(Protocol):
    """What decides the scopes a company is offered: a ``Company`` row, or the snapshot of
    it that an API request authenticates with (services/principals.py)."""

    @property
    def on_scale_plan(self) -> bool: ...

    @property
    def teams_feature(self) -> bool: ...

    @property
    def team_ids(self) -> Set[int]: ...


@dataclass(frozen=True)
class ScopeChoice:
    value: str
    label: str
    description: str


def team_scope(team_id: int) -> str:
    return f"{TEAM_PREFIX}{team_id}"


def team_id_of(scope: str) -> int | None:
    """The team id of a ``team:<id>`` scope, or None for any other string."""
    match = _TEAM_RE.match(scope)
    return int(match.group(1)) if match else None


def is_well_formed(scope: str) -> bool:
    return scope in _STATIC or team_id_of(scope) is not None


def parse(scope_string: str | None) -> list[str]:
    """Split a space-separated scope string, keeping order and dropping repeats."""
    seen: dict[str, None] = {}
    for item in (scope_string or "").split():
        seen.setdefault(item, None)
    return list(seen)


def offered(company: Company) -> list[ScopeChoice]:
    """The scopes this company may use now, in the order the settings form shows them."""
    choices = [ScopeChoice(s, LABELS[s], DESCRIPTIONS[s]) for s in (SHARED, PRIVATE, PROVISIONING)]
    if company.on_scale_plan:
        choices.append(ScopeChoice(SCIM, LABELS[SCIM], DESCRIPTIONS[SCIM]))
    if company.teams_feature:
        for team in company.teams:
            choices.append(
                ScopeChoice(
                    team_scope(team.id),
                    f"Team: {team.name}",
                    f"Access to the resources of the {team.name} team only.",
                )
            )
    return choices


def is_offered(company: Offering, scope: str) -> bool:
    """Whether ``scope`` is offered to ``company`` right now (plan, Teams feature, own team)."""
    if scope in (SHARED, PRIVATE, PROVISIONING):
        return True
    if scope == SCIM:
        return company.on_scale_plan
    team_id = team_id_of(scope)
    if team_id is None or not company.teams_feature:
        return False
    return team_id in company.team_ids


def effective(company: Offering, scopes: Iterable[str]) -> list[str]:
    """The part of a token's scopes its company is still offered.

    A token keeps its stored scopes, but stops reaching what the company lost (Scale
    plan, Teams feature, a deleted team) until the company has it again.
    """
    return [s for s in scopes if is_offered(company, s)]


def label(scope: str, teams: Iterable[Team] = ()) -> str:
    """A scope's label in the UI: ``Team: Sales`` for a team scope."""
    if scope in LABELS:
        return LABELS[scope]
    team_id = team_id_of(scope)
    for team in teams:
        if team.id == team_id:
            return f"Team: {team.name}"
    return f"Team #{team_id}" if team_id is not None else scope
