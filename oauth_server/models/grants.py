"""Partner grants: a teammate's consent, its authorization codes and token pairs."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import ForeignKey
from sqlalchemy import FromClause
from sqlalchemy import Index
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import UsedAndRevocable
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient
from oauth_server.models.teammate import TeammateRules

if TYPE_CHECKING:
    from oauth_server.models.clients import OAuthClient
    from oauth_server.models.company import Company
    from oauth_server.models.teammate import Teammate


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _unexpired_in(column: Any, now: Any) -> ColumnElement[bool]:
    """``not _expired`` in SQL."""
    return or_(column.is_(None), column > now)


class GrantRules:
    """When a grant is in force, written once: in SQL (``live_in``, over the tables or
    aliases the caller joined) and for columns already read (``live``).

    Not revoked, its app not deleted, its teammate there and active (while the teammate
    is deactivated, the grant is suspended: it works again on reactivation). And for a
    refresh, within its absolute lifetime (GRANT_LIFETIME_DAYS from its creation:
    ``within_lifetime``, ``within_lifetime_in``): the app must ask the teammate again.
    """

    if TYPE_CHECKING:
        revoked_at: datetime | None
        client: OAuthClient
        teammate: Teammate | None

    @staticmethod
    def live(
        revoked_at: datetime | None,
        client_deleted_at: datetime | None,
        teammate_active: bool | None,
    ) -> bool:
        """``teammate_active`` None: the teammate is gone."""
        return (
            revoked_at is None and client_deleted_at is None and TeammateRules.acts(teammate_active)
        )

    @staticmethod
    def live_in(
        grants: FromClause, clients: FromClause, teammates: FromClause
    ) -> ColumnElement[bool]:
        """``live`` in SQL; the caller joins ``clients`` and ``teammates`` to ``grants``."""
        return and_(
            grants.c.revoked_at.is_(None),
            clients.c.deleted_at.is_(None),
            TeammateRules.acting_in(teammates),
        )

    @staticmethod
    def ends_at(created_at: datetime, lifetime_days: int) -> datetime:
        """The end of a grant's absolute lifetime."""
        return created_at + timedelta(days=lifetime_days)

    @staticmethod
    def within_lifetime(created_at: datetime, lifetime_days: int, now: datetime) -> bool:
        return now < GrantRules.ends_at(created_at, lifetime_days)

    @staticmethod
    def within_lifetime_in(grants: FromClause, born_after: Any) -> ColumnElement[bool]:
        """``within_lifetime`` in SQL; ``born_after`` is now less the lifetime (a value or a
        bind parameter: the lifetime is one setting, so no date arithmetic in SQL)."""
        within: ColumnElement[bool] = grants.c.created_at > born_after
        return within

    def is_live(self) -> bool:
        teammate = self.teammate
        return self.live(
            self.revoked_at, self.client.deleted_at, teammate.active if teammate else None
        )


class OAuthGrant(UsedAndRevocable, Base, GrantRules):
    """One consent: listed under "Apps with Access", revoked as a whole.

    A teammate has at most one unrevoked grant per app: authorizing the app again joins it
    (``oauth_tokens.store_claimed``), so the list shows one row per teammate and app, and
    its "Revoke access" ends every token the app holds for them. The partial unique index
    holds that against two code exchanges at once.
    """

    __tablename__ = "oauth_grants"
    __table_args__ = (
        Index("ix_oauth_grants_company_id_id", "company_id", "id"),
        Index(
            "uq_oauth_grants_one_live",
            "company_id",
            "client_pk",
            "teammate_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    teammate_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    company: Mapped[Company] = relationship()
    client: Mapped[OAuthClient] = relationship()
    teammate: Mapped[Teammate | None] = relationship(foreign_keys=[teammate_id])

    kind = "grant"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class CodeRules:
    """Authlib's ``AuthorizationCodeMixin`` and when a code can be redeemed, written once
    for its row (``AuthorizationCode``) and the claim's (``oauth_tokens.ClaimedCode``)."""

    if TYPE_CHECKING:
        redirect_uri: str
        scope: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    @staticmethod
    def pending_in(codes: FromClause) -> ColumnElement[bool]:
        """Neither redeemed nor revoked (expired or not): what a revocation stamps."""
        return and_(codes.c.used_at.is_(None), codes.c.revoked_at.is_(None))

    @staticmethod
    def redeemable_in(codes: FromClause, now: Any) -> ColumnElement[bool]:
        """Pending and unexpired: what a claim may redeem."""
        return and_(CodeRules.pending_in(codes), codes.c.expires_at > now)


class AuthorizationCode(Base, CodeRules):
    """A single-use code bound to client, redirect URI, PKCE challenge and teammate."""

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    teammate_id: Mapped[int] = mapped_column(ForeignKey("teammates.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    # RFC 8707: the resources named at /oauth/authorize, space-separated; None: unbound.
    resource: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The grant this code was redeemed for: a replayed code revokes it.
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("oauth_grants.id"), index=True)

    client: Mapped[OAuthClient] = relationship()


class PairRules:
    """Authlib's ``TokenMixin`` and when each token of a pair works, written once for the
    row (``OAuthToken``) and its plain-row forms (``oauth_tokens.PresentedToken``,
    ``oauth_tokens.ClaimedRefresh``): in SQL (``*_live_in``, over the table or an alias)
    and for columns already read. The pair's part of the rule: its grant's is
    ``GrantRules``.
    """

    if TYPE_CHECKING:
        client_pk: int
        scope: str

    def check_client(self, client: AnyClient) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    @staticmethod
    def access_revoked(revoked_at: datetime | None, access_revoked_at: datetime | None) -> bool:
        return revoked_at is not None or access_revoked_at is not None

    @staticmethod
    def refresh_spent(revoked_at: datetime | None, refresh_used_at: datetime | None) -> bool:
        """Revoked, or used (rotated) already."""
        return revoked_at is not None or refresh_used_at is not None

    @staticmethod
    def expired(expires_at: datetime | None, now: datetime) -> bool:
        return _expired(expires_at, now)

    @staticmethod
    def access_live(
        revoked_at: datetime | None,
        access_revoked_at: datetime | None,
        access_expires_at: datetime,
        now: datetime,
    ) -> bool:
        return not PairRules.access_revoked(revoked_at, access_revoked_at) and not _expired(
            access_expires_at, now
        )

    @staticmethod
    def refresh_live(
        revoked_at: datetime | None,
        refresh_used_at: datetime | None,
        refresh_expires_at: datetime | None,
        now: datetime,
    ) -> bool:
        return not PairRules.refresh_spent(revoked_at, refresh_used_at) and not _expired(
            refresh_expires_at, now
        )

    @staticmethod
    def access_live_in(tokens: FromClause, now: Any) -> ColumnElement[bool]:
        return and_(
            tokens.c.revoked_at.is_(None),
            tokens.c.access_revoked_at.is_(None),
            tokens.c.access_expires_at > now,
        )

    @staticmethod
    def refresh_live_in(tokens: FromClause, now: Any) -> ColumnElement[bool]:
        return and_(
            tokens.c.revoked_at.is_(None),
            tokens.c.refresh_used_at.is_(None),
            _unexpired_in(tokens.c.refresh_expires_at, now),
        )


class OAuthToken(Base, PairRules):
    """An access token and the refresh token issued with it.

    A refresh rotates: the pair's refresh token is marked used and a new pair is issued
    under the same grant. Presenting a used refresh token again revokes the grant.
    """

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("oauth_grants.id"), index=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    scope: Mapped[str] = mapped_column(String(1000))
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    refresh_used_at: Mapped[datetime | None]
    access_revoked_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # RFC 8707: the resources the access token is good at, space-separated; None: every
    # resource its scopes reach (a token issued without ``resource``).
    audience: Mapped[str | None] = mapped_column(String(1000))
    # Refresh grace (OAuthClient.refresh_grace_seconds): the pair whose refresh token was
    # spent for this one, and this pair's token response encrypted with TOKEN_ENCRYPTION_KEY
    # (only for an app with a grace period), so that the spent refresh token presented
    # again within the window answers with this same pair. The sealed response is erased
    # when this pair's refresh token is spent in its turn or its grant is revoked.
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("oauth_tokens.id"), index=True)
    sealed_response: Mapped[bytes | None] = mapped_column(LargeBinary)

    grant: Mapped[OAuthGrant] = relationship()
    client: Mapped[OAuthClient] = relationship()

    kind = "oauth"

    def is_revoked(self, part: str) -> bool:
        """The ``part`` of this pair ("access_token" or "refresh_token") is revoked, or its
        grant is no longer in force."""
        if part == "access_token":
            revoked = self.access_revoked(self.revoked_at, self.access_revoked_at)
        else:
            revoked = self.refresh_spent(self.revoked_at, self.refresh_used_at)
        return revoked or not self.grant.is_live()

    def expires_at(self, part: str) -> datetime | None:
        return self.access_expires_at if part == "access_token" else self.refresh_expires_at

    # --- Authlib TokenMixin (and PairRules) -------------------------------------------------
    def get_client(self) -> OAuthClient:
        return self.client
