"""Personal API tokens made by a company admin in settings."""

from __future__ import annotations

from datetime import datetime
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
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import UsedAndRevocable
from oauth_server.models.base import utcnow
from oauth_server.models.teammate import TeammateRules

if TYPE_CHECKING:
    from oauth_server.models.company import Company
    from oauth_server.models.teammate import Teammate


class PersonalTokenRules:
    """When a personal token works, written once: in SQL (``live_in``, over the table or an
    alias) and for columns already read (``live``, ``suspended``).

    A live token is refused while its creator is deactivated: suspended, not revoked, it
    works again on reactivation.
    """

    if TYPE_CHECKING:
        revoked_at: datetime | None
        expires_at: datetime | None
        created_by: Teammate | None

    @staticmethod
    def live(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
        return revoked_at is None and not PersonalTokenRules.expired(expires_at, now)

    @staticmethod
    def expired(expires_at: datetime | None, now: datetime) -> bool:
        return expires_at is not None and expires_at <= now

    @staticmethod
    def live_in(tokens: FromClause, now: Any) -> ColumnElement[bool]:
        """``live`` in SQL; ``now`` a value or a bind parameter."""
        return and_(
            tokens.c.revoked_at.is_(None),
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
        )

    @staticmethod
    def suspended(creator_id: int | None, creator_active: bool | None) -> bool:
        """Its creator is deactivated (a token whose creator is gone is not suspended)."""
        return creator_id is not None and not TeammateRules.acts(creator_active)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expired(self.expires_at, now)

    def is_live(self, now: datetime) -> bool:
        return self.live(self.revoked_at, self.expires_at, now)

    def is_suspended(self) -> bool:
        creator = self.created_by
        return creator is not None and not creator.is_active


class PersonalToken(UsedAndRevocable, Base, PersonalTokenRules):
    __tablename__ = "personal_tokens"
    __table_args__ = (Index("ix_personal_tokens_company_id_id", "company_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token string: the one indexed lookup of every API call.
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The value itself, only encrypted with TOKEN_ENCRYPTION_KEY, so an admin can copy it again.
    encrypted_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]

    company: Mapped[Company] = relationship()
    created_by: Mapped[Teammate | None] = relationship(foreign_keys=[created_by_id])

    kind = "personal"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def __repr__(self) -> str:  # never the value
        return f"<PersonalToken {self.id} {self.name!r}>"
