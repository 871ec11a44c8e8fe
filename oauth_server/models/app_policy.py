"""A company's third-party app policy: which partner apps its teammates may authorize
(services/app_policy.py holds the rules)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.clients import OAuthClient
    from oauth_server.models.teammate import Teammate


class ThirdPartyApps(enum.StrEnum):
    """ "Third-party apps" under Apps with Access."""

    ALL = "all"  # "Allow all apps" (the default, and the behaviour before the policy)
    APPROVED = "approved"  # "Approved apps only"
    NONE = "none"  # "No third-party apps"


class Approval(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class AppPolicy(Base):
    """One row per company that changed a default; no row: allow all, no trusted domains."""

    __tablename__ = "app_policies"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), primary_key=True)
    third_party_apps: Mapped[str] = mapped_column(
        String(20), default=ThirdPartyApps.ALL.value, server_default=ThirdPartyApps.ALL.value
    )
    # Hosts (lower case, ASCII) a metadata-document app's client_id may be on; empty: any.
    trusted_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )


class AppApproval(Base):
    """A company's word on one app under "Approved apps only": requested by a teammate
    (pending), then approved or declined by an admin. One row per company and app."""

    __tablename__ = "app_approvals"
    __table_args__ = (UniqueConstraint("company_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]

    client: Mapped[OAuthClient] = relationship()
    requested_by: Mapped[Teammate | None] = relationship(foreign_keys=[requested_by_id])


class AppBlock(Base):
    """ "Block app": the app may not be authorized in the company until "Unblock" (which
    deletes the row: the grants it revoked stay revoked)."""

    __tablename__ = "app_blocks"
    __table_args__ = (UniqueConstraint("company_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    blocked_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )

    client: Mapped[OAuthClient] = relationship()
