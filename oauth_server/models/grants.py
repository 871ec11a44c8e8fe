"""Partner grants: a teammate's consent, its authorization codes and token pairs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import UsedAndRevocable
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient

if TYPE_CHECKING:
    from oauth_server.models.clients import OAuthClient
    from oauth_server.models.company import Company
    from oauth_server.models.teammate import Teammate


class OAuthGrant(UsedAndRevocable, Base):
    """One consent: listed under "Apps with Access", revoked as a whole."""

    __tablename__ = "oauth_grants"
    __table_args__ = (Index("ix_oauth_grants_company_id_id", "company_id", "id"),)

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


class AuthorizationCode(Base):
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The grant this code was redeemed for: a replayed code revokes it.
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("oauth_grants.id"), index=True)

    client: Mapped[OAuthClient] = relationship()

    # --- Authlib AuthorizationCodeMixin ---------------------------------------------------
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class OAuthToken(Base):
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

    grant: Mapped[OAuthGrant] = relationship()
    client: Mapped[OAuthClient] = relationship()

    kind = "oauth"

    # --- Authlib TokenMixin -----------------------------------------------------------------
    def check_client(self, client: AnyClient) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_client(self) -> OAuthClient:
        return self.client
