"""Who an API token speaks for, and what it may see.

``authenticate_bearer`` turns a bearer string into a ``Principal`` with one indexed
query (token, company and creator together). The visibility functions turn the
principal's scopes into SQL conditions, so lists and lookups filter in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from oauth_server import scopes
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import OwnedResource
from oauth_server.models import PersonalToken
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import consent
from oauth_server.services import usage


@dataclass
class Principal:
    """An authenticated API caller."""

    kind: str  # "personal" or "oauth"
    token_id: int
    company: Company
    granted_scopes: list[str]
    teammate: Teammate | None
    app: Any = None
    # A partner token granted by a non-admin reaches only that teammate's private items:
    # their consent is their allowance.
    private_owner_id: int | None = None
    scopes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.scopes = scopes.effective(self.company, self.granted_scopes)

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def team_ids(self) -> set[int]:
        """Teams reachable through ``team:<id>`` scopes (not through ``shared``)."""
        ids = (scopes.team_id_of(s) for s in self.scopes)
        return {i for i in ids if i is not None}

    @property
    def reaches_all_teams(self) -> bool:
        return self.has(scopes.SHARED)

    @property
    def reaches_team_items(self) -> bool:
        return self.reaches_all_teams or bool(self.team_ids)

    def reaches_team(self, team_id: int) -> bool:
        return self.reaches_all_teams or team_id in self.team_ids


def authenticate_bearer(value: str) -> Principal | None:
    """The principal of a live token string, or None (unknown, revoked, expired, malformed)."""
    kind = tokens.kind_of(value)
    if kind is tokens.Kind.PERSONAL:
        return _personal_principal(value)
    if kind is tokens.Kind.ACCESS:
        return _oauth_principal(value)
    return None  # refresh tokens, codes and client secrets are never bearer tokens


def _oauth_principal(value: str) -> Principal | None:
    context = live_access(value)
    if context is None:
        return None
    teammate = context.teammate
    return Principal(
        kind="oauth",
        token_id=context.token.id,
        company=context.company,
        granted_scopes=effective_grant_scopes(context),
        teammate=teammate,
        app=context.client,
        private_owner_id=None if teammate.is_admin else teammate.id,
    )


def _personal_principal(value: str) -> Principal | None:
    row = db.session.execute(
        select(PersonalToken)
        .join(PersonalToken.company)
        .outerjoin(PersonalToken.created_by)
        .options(contains_eager(PersonalToken.company), contains_eager(PersonalToken.created_by))
        .where(PersonalToken.lookup_hash == tokens.lookup_hash(value))
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or not row.is_live(now):
        return None
    if row.created_by is not None and not row.created_by.active:
        # Suspended, not revoked: a deactivated creator's tokens work again on reactivation.
        return None
    usage.record_use(row, now)
    return Principal(
        kind="personal",
        token_id=row.id,
        company=row.company,
        granted_scopes=row.scopes,
        teammate=row.created_by,
    )


@dataclass
class AccessContext:
    token: OAuthToken
    grant: OAuthGrant
    company: Company
    client: OAuthClient
    teammate: Teammate


def live_access(value: str) -> AccessContext | None:
    """The live context of an access token string, in one indexed query, or None."""
    row = db.session.execute(
        select(OAuthToken, OAuthGrant, Company, OAuthClient, Teammate)
        .join(OAuthGrant, OAuthToken.grant_id == OAuthGrant.id)
        .join(Company, OAuthGrant.company_id == Company.id)
        .join(OAuthClient, OAuthToken.client_pk == OAuthClient.id)
        .join(Teammate, OAuthGrant.teammate_id == Teammate.id)
        .where(OAuthToken.access_hash == tokens.lookup_hash(value))
    ).one_or_none()
    if row is None:
        return None
    token, grant, company, client, teammate = row
    now = utcnow()
    if (
        token.revoked_at is not None
        or token.access_revoked_at is not None
        or token.access_expires_at <= now
        or grant.revoked_at is not None
        or client.deleted_at is not None
        or not teammate.active
    ):
        return None
    usage.record_use(grant, now)
    return AccessContext(token, grant, company, client, teammate)


def effective_grant_scopes(context: AccessContext) -> list[str]:
    """Never more than the teammate may delegate today (a lost team or admin role counts)."""
    return consent.delegable(context.teammate, context.token.scope.split())


def private_owner_condition(principal: Principal, owner_column: Any) -> ColumnElement[bool]:
    """SQL condition on an owner column: private items this principal may reach."""
    if not principal.has(scopes.PRIVATE):
        return false()
    if principal.private_owner_id is not None:
        return owner_column == principal.private_owner_id
    allowing = select(Teammate.id).where(
        Teammate.company_id == principal.company.id,
        Teammate.private_api_access.is_(True),
    )
    return owner_column.in_(allowing)


def team_condition(principal: Principal, team_column: Any) -> ColumnElement[bool]:
    if principal.reaches_all_teams:
        return team_column.is_not(None)
    if principal.team_ids:
        return team_column.in_(sorted(principal.team_ids))
    return false()


def visible(model: type[OwnedResource], principal: Principal) -> ColumnElement[bool]:
    """Rows of ``model`` this principal may see: its company's, by scope and allowance."""
    return and_(
        model.company_id == principal.company.id,
        or_(
            team_condition(principal, model.team_id),
            private_owner_condition(principal, model.owner_id),
        ),
    )


def may_reach_owner(principal: Principal, owner: Teammate) -> bool:
    if owner.company_id != principal.company.id or not principal.has(scopes.PRIVATE):
        return False
    if principal.private_owner_id is not None:
        return owner.id == principal.private_owner_id
    return owner.private_api_access


def visible_teams(principal: Principal) -> ColumnElement[bool]:
    """Teams a principal may list: all with shared or provisioning, else its team scopes."""
    if principal.reaches_all_teams or principal.has(scopes.PROVISIONING):
        return Team.company_id == principal.company.id
    return and_(Team.company_id == principal.company.id, team_condition(principal, Team.id))
