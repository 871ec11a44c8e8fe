"""The scope catalogue: wire names, labels, when each is offered; parsing and checks.

Levels: ``shared``, ``private`` and ``team:<id>`` each have a read-only form
(``shared:read``...) that reaches the same items with GET and HEAD only; the bare scope
keeps read and write. ``messages:send`` lets a token post messages where it can read.
``reach`` turns the scopes a token holds into the bare scopes it may use at one level,
once per request (services/principals.py).
"""

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
READ_SUFFIX = ":read"
SHARED_READ = SHARED + READ_SUFFIX
PRIVATE_READ = PRIVATE + READ_SUFFIX
MESSAGES_SEND = "messages:send"
TOKENS = "tokens"

# The levels a route works at (api/registry.route): GET and HEAD read; the other methods
# write; posting a message "sends" (a read-only scope with messages:send is enough).
READ = "read"
WRITE = "write"
SEND = "send"
LEVELS = (READ, WRITE, SEND)

LABELS = {
    SHARED: "Shared resources",
    PRIVATE: "Private resources",
    PROVISIONING: "Provisioning",
    SCIM: "Auto-provisioning",
    MESSAGES_SEND: "Send messages",
    TOKENS: "Token inventory",
}
READ_ONLY_LABEL = " (read only)"
DESCRIPTIONS = {
    SHARED: "Access to all team resources, across all teams.",
    PRIVATE: "Access to the private resources of teammates who allow API access.",
    PROVISIONING: "Control teammate access to teams and inboxes, and manage shifts.",
    SCIM: "Access to the SCIM server, to sync users across systems.",
    MESSAGES_SEND: "Post messages on the conversations the token can read.",
    TOKENS: "List and revoke the company's API tokens and partner app access (admins only).",
}
READ_ONLY_DESCRIPTION = " Read only: GET requests."
_TEAM_RE = re.compile(r"^team:([1-9][0-9]{0,17})(?::read)?$")
# Stands for "any team:<id> scope" in a list of accepted scopes (api/protect.py).
ANY_TEAM = "team:{team_id}"
#: Every scope, as the OpenAPI document lists them (``team:{team_id}`` for any team).
CATALOGUE = (
    SHARED,
    SHARED_READ,
    PRIVATE,
    PRIVATE_READ,
    PROVISIONING,
    SCIM,
    ANY_TEAM,
    ANY_TEAM + READ_SUFFIX,
    MESSAGES_SEND,
    TOKENS,
)
# The scopes that name no team: every one well formed, and all but SCIM always offered.
_STATIC = frozenset(s for s in CATALOGUE if not s.startswith(TEAM_PREFIX))
#: Scopes a personal token may hold but consent never grants (never in a partner grant).
PERSONAL_ONLY = frozenset({TOKENS})
#: What a partner app may ask for in every workspace (metadata ``scopes_supported``);
#: ``team:<id>`` and ``team:<id>:read`` are per workspace, and SCIM is its own resource.
PARTNER_API_SCOPES = (SHARED, SHARED_READ, PRIVATE, PRIVATE_READ, PROVISIONING, MESSAGES_SEND)


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
    """The team id of a ``team:<id>`` or ``team:<id>:read`` scope, or None for any other."""
    if not scope.startswith(TEAM_PREFIX):
        return None
    match = _TEAM_RE.match(scope)
    return int(match.group(1)) if match else None


def is_read_only(scope: str) -> bool:
    """``shared:read``, ``private:read``, ``team:<id>:read``."""
    return scope.endswith(READ_SUFFIX)


def bare(scope: str) -> str:
    """The scope a level belongs to: ``shared`` for ``shared:read``; others as they are."""
    return scope[: -len(READ_SUFFIX)] if scope.endswith(READ_SUFFIX) else scope


def read_only(scope: str) -> str:
    """The read-only form of a resource scope: ``shared`` -> ``shared:read``."""
    return bare(scope) + READ_SUFFIX


def has_levels(scope: str) -> bool:
    """``shared``, ``private`` and team scopes have a read-only form; the others do not."""
    return scope in (SHARED, PRIVATE) or scope.startswith(TEAM_PREFIX)


def is_well_formed(scope: str) -> bool:
    return scope in _STATIC or team_id_of(scope) is not None


def parse(scope_string: str | None) -> list[str]:
    """Split a space-separated scope string, keeping order and dropping repeats."""
    seen: dict[str, None] = {}
    for item in (scope_string or "").split():
        seen.setdefault(item, None)
    return list(seen)


def _with_read_only(value: str, label: str, description: str) -> list[ScopeChoice]:
    return [
        ScopeChoice(value, label, description),
        ScopeChoice(read_only(value), label + READ_ONLY_LABEL, description + READ_ONLY_DESCRIPTION),
    ]


def offered(company: Company) -> list[ScopeChoice]:
    """The scopes a personal token may be created with now, in the order the settings form
    shows them: each resource scope followed by its read-only form. ``messages:send`` goes
    with a read-only choice; the form offers it apart (settings/forms.py)."""
    choices = [
        *_with_read_only(SHARED, LABELS[SHARED], DESCRIPTIONS[SHARED]),
        *_with_read_only(PRIVATE, LABELS[PRIVATE], DESCRIPTIONS[PRIVATE]),
        ScopeChoice(PROVISIONING, LABELS[PROVISIONING], DESCRIPTIONS[PROVISIONING]),
        ScopeChoice(TOKENS, LABELS[TOKENS], DESCRIPTIONS[TOKENS]),
    ]
    if company.on_scale_plan:
        choices.append(ScopeChoice(SCIM, LABELS[SCIM], DESCRIPTIONS[SCIM]))
    if company.teams_feature:
        for team in company.teams:
            choices.extend(
                _with_read_only(
                    team_scope(team.id),
                    f"Team: {team.name}",
                    f"Access to the resources of the {team.name} team only.",
                )
            )
    return choices


def is_offered(company: Offering, scope: str) -> bool:
    """Whether ``scope`` is offered to ``company`` right now (plan, Teams feature, own team)."""
    if scope == SCIM:
        return company.on_scale_plan
    if scope in _STATIC:
        return True
    team_id = team_id_of(scope)
    if team_id is None or not company.teams_feature:
        return False
    return team_id in company.team_ids


def is_offered_to_partners(company: Offering, scope: str) -> bool:
    """``is_offered``, less what consent never grants (``tokens``): an authorization
    request for it is refused as for any scope the workspace is not offered."""
    return scope not in PERSONAL_ONLY and is_offered(company, scope)


def effective(company: Offering, scopes: Iterable[str]) -> list[str]:
    """The part of a token's scopes its company is still offered.

    A token keeps its stored scopes, but stops reaching what the company lost (Scale
    plan, Teams feature, a deleted team) until the company has it again.
    """
    return [s for s in scopes if is_offered(company, s)]


def reach(held: Iterable[str], level: str) -> frozenset[str]:
    """The bare scopes ``held`` may use at ``level``: at READ every scope, read-only ones as
    their bare scope; at WRITE only bare scopes; at SEND as at READ when ``messages:send``
    is held, else as at WRITE. ``messages:send`` itself reaches nothing."""
    held = list(held)
    if level == READ or (level == SEND and MESSAGES_SEND in held):
        return frozenset(bare(s) for s in held if s != MESSAGES_SEND)
    return frozenset(s for s in held if s != MESSAGES_SEND and not is_read_only(s))


def within_maximum(scope: str, maximum: Iterable[str]) -> bool:
    """Whether an app whose maximum scope set is ``maximum`` may ask for ``scope``: a
    read-only scope counts as within its bare scope, never the other way round."""
    allowed = set(maximum)
    return scope in allowed or (is_read_only(scope) and bare(scope) in allowed)


def beyond_maximum(requested: Iterable[str], maximum: str | None) -> list[str]:
    """The requested scopes an app's maximum (space-separated; None: no maximum) leaves out."""
    if maximum is None:
        return []
    limit = parse(maximum)
    return [s for s in requested if not within_maximum(s, limit)]


def label(scope: str, teams: Iterable[Team] = ()) -> str:
    """A scope's label in the UI: ``Team: Sales`` for a team scope, ``Shared resources (read
    only)`` for a read-only one."""
    if scope in LABELS:
        return LABELS[scope]
    if is_read_only(scope) and bare(scope) != scope:
        return label(bare(scope), teams) + READ_ONLY_LABEL
    team_id = team_id_of(scope)
    for team in teams:
        if team.id == team_id:
            return f"Team: {team.name}"
    return f"Team #{team_id}" if team_id is not None else scope


def labels(scope_string: str, teams: Iterable[Team] = ()) -> str:
    """The labels of a space-separated scope string, comma-separated."""
    teams = list(teams)
    return ", ".join(label(s, teams) for s in scope_string.split())


def generic_label(scope: str) -> str:
    """A label without a workspace (the OpenAPI document): ``team:{team_id}`` is any team."""
    if bare(scope) == ANY_TEAM:
        suffix = READ_ONLY_LABEL if is_read_only(scope) else ""
        return "Team: {team name}" + suffix
    return label(scope)
