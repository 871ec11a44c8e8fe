"""Who an API token speaks for: bearer authentication of the API and of SCIM.

``authenticate_bearer`` turns a bearer string into a ``Principal`` with one indexed
query: token, company and teammate (and the app, for a partner token) in one row. The
statements are plain SQLAlchemy Core, built once at import and sent through
``prepared.run``, and their rows become small frozen snapshots rather than ORM
objects: nothing of the ORM session's identity map or lazy loading runs on the bearer
path, and nothing in it can be written back by mistake.
Only a token with ``team:<id>`` scopes pays a second query, for the team ids.

What a principal may see is ``visibility``'s concern.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from functools import lru_cache
from typing import Any

from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import select

from oauth_server import prepared
from oauth_server import scopes
from oauth_server import tokens
from oauth_server.errors import ScopeRequired
from oauth_server.extensions import db
from oauth_server.extensions import engine_for_reads
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models import SecurityPolicy
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.company import CompanyRules
from oauth_server.models.team import team_memberships
from oauth_server.models.teammate import TeammateRules
from oauth_server.services import consent
from oauth_server.services import usage


@dataclass(frozen=True)
class CompanyRef(CompanyRules):
    """The caller's company as its token's row read it (scopes.Offering)."""

    id: int
    name: str
    plan: str
    teams_feature: bool

    @cached_property
    def team_ids(self) -> Set[int]:
        """Asked only for a ``team:<id>`` scope: one query, once per request."""
        return frozenset(db.session.scalars(select(Team.id).where(Team.company_id == self.id)))


# Services that need only a company's id take either the row or the snapshot.
AnyCompany = Company | CompanyRef


@dataclass(frozen=True)
class TeammateRef(TeammateRules):
    """The teammate a token speaks for (consent.Delegating): a partner token's grantor, a
    personal token's creator."""

    id: int
    email: str
    is_admin: bool
    active: bool

    @cached_property
    def team_ids(self) -> Set[int]:
        """Asked only for a ``team:<id>`` scope of a non-admin's grant."""
        return frozenset(
            db.session.scalars(
                select(team_memberships.c.team_id).where(team_memberships.c.teammate_id == self.id)
            )
        )


@dataclass(frozen=True)
class AppRef:
    """The partner app of a partner token."""

    client_id: str
    name: str


# What a scope set reaches at each level: the bare scopes, and the teams of its team scopes.
Levels = dict[str, tuple[frozenset[str], frozenset[int]]]


@lru_cache(maxsize=4096)
def _levels_of(held: tuple[str, ...]) -> Levels:
    """Computed once per distinct scope set (tokens share a handful), not per request.
    The dict is shared: read it, never change it."""
    levels: Levels = {}
    for level in scopes.LEVELS:
        reach = scopes.reach(held, level)
        ids = (scopes.team_id_of(s) for s in reach)
        levels[level] = (reach, frozenset(i for i in ids if i is not None))
    return levels


@dataclass
class Principal:
    """An authenticated API caller.

    ``scopes`` are the token's effective scopes as held (``shared:read`` stays so);
    ``reach`` the bare scopes it may use at the level of the current request (``use``),
    precomputed for every level once, at authentication: the per-request check is set
    membership.
    """

    kind: str  # "personal" or "oauth"
    token_id: int
    company: CompanyRef
    granted_scopes: list[str]
    teammate: TeammateRef | None
    app: AppRef | None = None
    # A partner token granted by a non-admin reaches only that teammate's private items:
    # their consent is their allowance.
    private_owner_id: int | None = None
    # RFC 8707: the resources a partner token was issued for, space-separated; None for a
    # token bound to none (and every personal token): good wherever its scopes reach.
    audience: str | None = None
    scopes: list[str] = field(init=False)
    level: str = field(init=False)
    reach: frozenset[str] = field(init=False)
    # Teams reachable through ``team:<id>`` scopes at this level (not through ``shared``).
    team_ids: frozenset[int] = field(init=False)
    _levels: Levels = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.scopes = scopes.effective(self.company, self.granted_scopes)
        self._levels = _levels_of(tuple(self.scopes))
        # Until a route says otherwise, the strictest level.
        self.use(scopes.WRITE)

    def use(self, level: str) -> None:
        """Check scopes at ``level`` (scopes.READ, WRITE or SEND) from now on."""
        self.level = level
        self.reach, self.team_ids = self._levels[level]

    def has(self, scope: str) -> bool:
        """Whether the token may use the bare ``scope`` at the current level."""
        return scope in self.reach

    def read_only_holding(self, scope: str) -> str | None:
        """The read-only scope of the token whose bare scope is ``scope`` (any team scope
        for ``scopes.ANY_TEAM``), if it holds one: what a refusal at a write level names."""
        for held in self.scopes:
            if not scopes.is_read_only(held):
                continue
            wanted = scopes.bare(held)
            if wanted == scope or (scope == scopes.ANY_TEAM and scopes.team_id_of(held)):
                return wanted
        return None

    @property
    def reaches_all_teams(self) -> bool:
        return self.has(scopes.SHARED)

    @property
    def reaches_team_items(self) -> bool:
        return self.reaches_all_teams or bool(self.team_ids)

    def reaches_team(self, team_id: int) -> bool:
        return self.reaches_all_teams or team_id in self.team_ids


class PastLifetime(Exception):
    """A personal token older than its company's maximum token lifetime: refused like any
    dead token, but saying why (the policy "applies when used")."""

    def __init__(self, max_days: int) -> None:
        super().__init__(f"past the maximum token lifetime ({max_days} days)")
        self.max_days = max_days


def authenticate_bearer(value: str) -> Principal | None:
    """The principal of a live token string, or None (unknown, revoked, expired, malformed).
    ``PastLifetime`` for a personal token its company's lifetime policy stopped."""
    kind = tokens.kind_of(value)
    if kind is tokens.Kind.PERSONAL:
        return _personal_principal(value)
    if kind is tokens.Kind.ACCESS:
        return _oauth_principal(value)
    return None  # refresh tokens, codes and client secrets are never bearer tokens


# Tables, not mapped classes: a select of table columns is a Core statement, which the
# ORM session executes without its entity machinery.
_tokens = PersonalToken.__table__
_companies = Company.__table__
_teammates = Teammate.__table__
_pairs = OAuthToken.__table__
_grants = OAuthGrant.__table__
_clients = OAuthClient.__table__
_policies = SecurityPolicy.__table__

_COMPANY = (
    _companies.c.id.label("company_id"),
    _companies.c.name.label("company_name"),
    _companies.c.plan,
    _companies.c.teams_feature,
)
_TEAMMATE = (
    _teammates.c.id.label("teammate_id"),
    _teammates.c.email,
    _teammates.c.is_admin,
    _teammates.c.active,
)

# The token by its lookup hash (a unique index), with its company, its company's maximum
# token lifetime (the policy row, by its primary key, if there is one) and creator.
PERSONAL_LOOKUP = (
    select(
        _tokens.c.id,
        _tokens.c.scope,
        _tokens.c.created_at,
        _tokens.c.expires_at,
        _tokens.c.revoked_at,
        _tokens.c.last_used_at,
        _policies.c.max_token_lifetime_days,
        *_COMPANY,
        *_TEAMMATE,
    )
    .select_from(_tokens)
    .join(_companies, _companies.c.id == _tokens.c.company_id)
    .outerjoin(_policies, _policies.c.company_id == _tokens.c.company_id)
    .outerjoin(_teammates, _teammates.c.id == _tokens.c.created_by_id)
    .where(_tokens.c.lookup_hash == bindparam("digest"))
)

# The access token by its lookup hash (a unique index), with its grant, the grant's
# company and teammate, and the app.
PARTNER_LOOKUP = (
    select(
        _pairs.c.id,
        _pairs.c.scope,
        _pairs.c.revoked_at,
        _pairs.c.access_revoked_at,
        _pairs.c.access_expires_at,
        _pairs.c.audience,
        _grants.c.id.label("grant_id"),
        _grants.c.revoked_at.label("grant_revoked_at"),
        _grants.c.last_used_at.label("grant_last_used_at"),
        _clients.c.client_id,
        _clients.c.name.label("client_name"),
        _clients.c.deleted_at.label("client_deleted_at"),
        *_COMPANY,
        *_TEAMMATE,
    )
    .select_from(_pairs)
    .join(_grants, _grants.c.id == _pairs.c.grant_id)
    .join(_companies, _companies.c.id == _grants.c.company_id)
    .join(_clients, _clients.c.id == _pairs.c.client_pk)
    .join(_teammates, _teammates.c.id == _grants.c.teammate_id)
    .where(_pairs.c.access_hash == bindparam("digest"))
)


def _lookup(statement: Select[Any], value: str) -> Any:
    """The token's row, on the connection of the request's transaction if it has begun
    one, else on a connection of its own (in autocommit mode for a request that reads
    without a transaction), given back at once: most API reads need the database for
    this row alone, and a session (its transaction, its identity map) costs more than
    the query."""
    params = {"digest": tokens.lookup_hash(value)}
    if db.session.registry.has() and db.session().in_transaction():
        return prepared.run(db.session.connection(), statement, params).first()
    with engine_for_reads().connect() as connection:
        return prepared.run(connection, statement, params).first()


def _company(row: Any) -> CompanyRef:
    return CompanyRef(row.company_id, row.company_name, row.plan, row.teams_feature)


def _personal_principal(value: str) -> Principal | None:
    row = _lookup(PERSONAL_LOOKUP, value)
    now = utcnow()
    if row is None:
        return None
    max_days = row.max_token_lifetime_days
    if not PersonalToken.live(
        row.revoked_at, row.expires_at, now, row.created_at, max_days
    ) or PersonalToken.suspended(row.teammate_id, row.active):
        # The refused path only: say why when the policy is the reason.
        if PersonalToken.live(row.revoked_at, row.expires_at, now):
            if PersonalToken.past_lifetime(row.created_at, max_days, now):
                raise PastLifetime(max_days)
        return None
    usage.record_use(PersonalToken, row.id, row.last_used_at, now)
    creator = (
        TeammateRef(row.teammate_id, row.email, row.is_admin, row.active)
        if row.teammate_id
        else None
    )
    return Principal(
        kind="personal",
        token_id=row.id,
        company=_company(row),
        granted_scopes=row.scope.split(),
        teammate=creator,
    )


def _oauth_principal(value: str) -> Principal | None:
    row = _lookup(PARTNER_LOOKUP, value)
    now = utcnow()
    if (
        row is None
        or not OAuthToken.access_live(
            row.revoked_at, row.access_revoked_at, row.access_expires_at, now
        )
        or not OAuthGrant.live(row.grant_revoked_at, row.client_deleted_at, row.active)
    ):
        return None
    usage.record_use(OAuthGrant, row.grant_id, row.grant_last_used_at, now)
    teammate = TeammateRef(row.teammate_id, row.email, row.is_admin, row.active)
    return Principal(
        kind="oauth",
        token_id=row.id,
        company=_company(row),
        # Never more than the teammate may delegate today (a lost team or admin role counts).
        granted_scopes=consent.delegable(teammate, row.scope.split()),
        teammate=teammate,
        app=AppRef(row.client_id, row.client_name),
        private_owner_id=None if teammate.is_admin else teammate.id,
        audience=row.audience,
    )


def require_scope(principal: Principal, scope: str) -> None:
    """Refuse a principal without ``scope``: the routes check it, and a service keeps the
    rule for any other door."""
    if not principal.has(scope):
        raise ScopeRequired(f"This token needs the {scope} scope for this request.", scope=scope)
