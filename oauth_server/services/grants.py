"""Partner grants of a company, as "Apps with Access" lists them."""

from __future__ import annotations

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


def list_live_grants(
    company: Company, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[OAuthGrant], int | None]:
    """One page of the company's live grants (``GrantRules``), newest first (keyset on
    company_id, id).

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
