"""Partner grants of a company, as "Apps with Access" lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm import joinedload

from oauth_server import ids
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.services import keyset
from oauth_server.services import usage


@dataclass(frozen=True)
class GrantFilter:
    """The admin's filter of Apps with Access: one app, one teammate, and grants not used
    since ``unused_since`` (a grant never used counts from its creation, so a grant made
    yesterday is not stale) or never used at all."""

    client_pk: int | None = None
    teammate_id: int | None = None
    unused_since: datetime | None = None
    never_used: bool = False

    def conditions(self) -> list[Any]:
        where: list[Any] = []
        if self.client_pk is not None:
            where.append(OAuthGrant.client_pk == self.client_pk)
        if self.teammate_id is not None:
            where.append(OAuthGrant.teammate_id == self.teammate_id)
        if self.unused_since is not None:
            where.append(usage.unused_before(OAuthGrant, self.unused_since))
        if self.never_used:
            where.append(OAuthGrant.last_used_at.is_(None))
        return where


def list_live_grants(
    company: Company,
    *,
    before_id: int | None = None,
    limit: int = 50,
    where: GrantFilter | None = None,
) -> tuple[list[OAuthGrant], int | None]:
    """One page of the company's live grants (``GrantRules``), newest first (keyset on
    company_id, id), narrowed by ``where``.

    A grant of a deleted app is not live even if its revocation has not landed yet, nor
    one whose teammate is deactivated (suspended) or gone.
    """
    query = (
        select(OAuthGrant)
        .join(OAuthGrant.client)
        .join(OAuthGrant.teammate)
        .where(
            keyset.in_company(OAuthGrant, company.id),
            OAuthGrant.live_in(OAuthGrant.__table__, OAuthClient.__table__, Teammate.__table__),
            *(where.conditions() if where else ()),
        )
        # The app and teammate from the joins above (one join of each, not two).
        .options(contains_eager(OAuthGrant.client), contains_eager(OAuthGrant.teammate))
    )
    key = keyset.company_key(OAuthGrant)
    query = keyset.newest_below(query, key, limit=limit, before=before_id)
    return keyset.cut(list(db.session.scalars(query)), limit)


def company_grant(company: Company, grant_id: int) -> OAuthGrant:
    """One grant of this company, live or revoked (its page shows the history)."""
    if not ids.is_id(grant_id):
        raise NotFound("No such app grant.")
    grant = db.session.scalar(
        select(OAuthGrant)
        .where(OAuthGrant.company_id == company.id, OAuthGrant.id == grant_id)
        .options(joinedload(OAuthGrant.client), joinedload(OAuthGrant.teammate))
    )
    if grant is None:
        raise NotFound("No such app grant.")
    return grant


def live_scope(teammate: Teammate, client_pk: int) -> str | None:
    """The scope of ``teammate``'s live grant for this app (``GrantRules``), None without
    one: what a new authorization of the app would join."""
    scope: str | None = db.session.scalar(
        select(OAuthGrant.scope)
        .join(OAuthGrant.client)
        .join(OAuthGrant.teammate)
        .where(
            OAuthGrant.company_id == teammate.company_id,
            OAuthGrant.client_pk == client_pk,
            OAuthGrant.teammate_id == teammate.id,
            OAuthGrant.live_in(OAuthGrant.__table__, OAuthClient.__table__, Teammate.__table__),
        )
    )
    return scope


def apps_with_live_grants(company: Company) -> list[OAuthClient]:
    """The apps holding a live grant in the company, by name: the filter's app choices."""
    return list(
        db.session.scalars(
            select(OAuthClient)
            .where(
                select(OAuthGrant.id)
                .join(OAuthGrant.teammate)
                .where(
                    OAuthGrant.company_id == company.id,
                    OAuthGrant.client_pk == OAuthClient.id,
                    OAuthGrant.live_in(
                        OAuthGrant.__table__, OAuthClient.__table__, Teammate.__table__
                    ),
                )
                .exists()
            )
            .order_by(OAuthClient.name, OAuthClient.id)
        )
    )
