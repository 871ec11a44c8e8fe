"""Partner tokens: redeeming codes, rotating refresh tokens, reading access tokens.

Every claim is a conditional UPDATE (``... WHERE used_at IS NULL``), so two concurrent
redemptions of one code or one refresh token give exactly one winner on every backend;
the loser is treated as a replay and revokes the grant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow

log = logging.getLogger("oauth_server.audit")


@dataclass
class PresentedToken:
    """An OAuth token string as presented to revocation or introspection."""

    row: OAuthToken
    part: str  # "access_token" or "refresh_token"
    kind = "oauth"

    # The row's identity, for revocation's audit line (services/revocation.Revocable).
    @property
    def id(self) -> int:
        return self.row.id

    @property
    def company_id(self) -> int:
        return self.row.company_id

    # Authlib TokenMixin
    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_pk == client.id

    def get_scope(self) -> str:
        return self.row.scope

    def is_revoked(self) -> bool:
        row = self.row
        if row.revoked_at is not None or row.grant.revoked_at is not None:
            return True
        if self.part == "access_token":
            return row.access_revoked_at is not None
        return row.refresh_used_at is not None

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at if self.expires_at else False

    @property
    def expires_at(self) -> datetime | None:
        if self.part == "access_token":
            return self.row.access_expires_at
        return self.row.refresh_expires_at


def generate_bearer(
    grant_type: str,
    client: OAuthClient,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Authlib's token generator: our prefixed strings and lifetimes."""
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": tokens.generate(tokens.Kind.ACCESS),
        "expires_in": expires_in or current_app.config["ACCESS_TOKEN_TTL"],
        "scope": scope or "",
    }
    if include_refresh_token:
        token["refresh_token"] = tokens.generate(tokens.Kind.REFRESH)
    return token


def claim_code(code: str, client: OAuthClient) -> AuthorizationCode | None:
    """Mark a code used, once. A second use revokes the grant the first use created."""
    if tokens.kind_of(code) is not tokens.Kind.CODE:
        return None
    code_hash = tokens.lookup_hash(code)
    now = utcnow()
    claimed = db.session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_hash == code_hash,
            AuthorizationCode.client_pk == client.id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.revoked_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    # populate_existing: the row as the UPDATE left it, not a copy the session read before.
    row = db.session.scalar(
        select(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return row
    if row is not None and row.client_pk == client.id and row.used_at is not None:
        _replayed_code(row)
    return None


def _replayed_code(row: AuthorizationCode) -> None:
    from oauth_server.services import revocation

    log.warning("authorization code replayed", extra={"code_id": row.id, "grant_id": row.grant_id})
    if row.grant_id is not None:
        grant = db.session.get(OAuthGrant, row.grant_id)
        if grant is not None:
            revocation.revoke(grant, actor=None, via="code_replay")


def peek_refresh(value: str, client: OAuthClient) -> OAuthToken | None:
    """The unspent pair of a refresh token of ``client``, read only (claim it to use it)."""
    if tokens.kind_of(value) is not tokens.Kind.REFRESH:
        return None
    return db.session.scalar(
        select(OAuthToken).where(
            OAuthToken.refresh_hash == tokens.lookup_hash(value),
            OAuthToken.client_pk == client.id,
            OAuthToken.refresh_used_at.is_(None),
            OAuthToken.revoked_at.is_(None),
        )
    )


def claim_refresh(value: str, client: OAuthClient) -> OAuthToken | None:
    """Rotate: mark this refresh token used, once. Reuse revokes its whole grant."""
    if tokens.kind_of(value) is not tokens.Kind.REFRESH:
        return None  # never a personal token, an access token or a code
    refresh_hash = tokens.lookup_hash(value)
    now = utcnow()
    # Only grants still in force and whose teammate is active: a refresh during a
    # deactivation is refused without spending the refresh token.
    live_grants = (
        select(OAuthGrant.id)
        .join(Teammate, OAuthGrant.teammate_id == Teammate.id)
        .where(OAuthGrant.revoked_at.is_(None), Teammate.active.is_(True))
    )
    claimed = db.session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.refresh_hash == refresh_hash,
            OAuthToken.client_pk == client.id,
            OAuthToken.refresh_used_at.is_(None),
            OAuthToken.revoked_at.is_(None),
            or_(OAuthToken.refresh_expires_at.is_(None), OAuthToken.refresh_expires_at > now),
            OAuthToken.grant_id.in_(live_grants),
        )
        .values(refresh_used_at=now)
        .execution_options(synchronize_session=False)
    )
    # populate_existing: the row as the UPDATE left it, not the copy peek_refresh read, so
    # that a concurrent winner's refresh_used_at is seen and the duplicate counts as reuse.
    row = db.session.scalar(
        select(OAuthToken)
        .where(OAuthToken.refresh_hash == refresh_hash)
        .execution_options(populate_existing=True)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        grant = row.grant if row else None
        teammate = grant.teammate if grant else None
        if teammate is None or not teammate.active:
            return None
        return row
    if row is not None and row.client_pk == client.id and row.refresh_used_at is not None:
        from oauth_server.services import revocation

        log.warning("refresh token reused", extra={"grant_id": row.grant_id})
        revocation.revoke(row.grant, actor=None, via="refresh_reuse")
    return None


def store_issued(
    token: dict[str, Any],
    *,
    client: OAuthClient,
    code: AuthorizationCode | None = None,
    previous: OAuthToken | None = None,
) -> OAuthToken:
    """Save an issued pair under a new grant (code) or the previous pair's grant (refresh).

    Adds to the session only: the token endpoint commits once per exchange.
    """
    now = utcnow()
    if code is not None:
        grant = OAuthGrant(
            company_id=code.company_id,
            client_pk=client.id,
            teammate_id=code.teammate_id,
            scope=code.scope,
            created_at=now,
            last_used_at=None,
        )
        db.session.add(grant)
        db.session.flush()
        code.grant_id = grant.id
        grant_id, company_id = grant.id, code.company_id
    elif previous is not None:
        grant_id, company_id = previous.grant_id, previous.company_id
    else:  # pragma: no cover - Authlib only calls us from the two grants
        raise ValueError("a token needs a code or a previous token")
    refresh_ttl = current_app.config["REFRESH_TOKEN_TTL"]
    row = OAuthToken(
        grant_id=grant_id,
        client_pk=client.id,
        company_id=company_id,
        scope=token.get("scope", ""),
        access_hash=tokens.lookup_hash(token["access_token"]),
        refresh_hash=(
            tokens.lookup_hash(token["refresh_token"]) if "refresh_token" in token else None
        ),
        issued_at=now,
        access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
        refresh_expires_at=now + timedelta(seconds=refresh_ttl) if refresh_ttl else None,
    )
    db.session.add(row)
    return row


def find_presented(value: str, hint: str | None = None) -> PresentedToken | None:
    """An OAuth access or refresh token by its string (revocation, introspection)."""
    kind = tokens.kind_of(value)
    digest = tokens.lookup_hash(value) if kind else None
    if kind is tokens.Kind.ACCESS:
        row = db.session.scalar(select(OAuthToken).where(OAuthToken.access_hash == digest))
        return PresentedToken(row, "access_token") if row else None
    if kind is tokens.Kind.REFRESH:
        row = db.session.scalar(select(OAuthToken).where(OAuthToken.refresh_hash == digest))
        return PresentedToken(row, "refresh_token") if row else None
    return None
