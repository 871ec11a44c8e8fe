"""Personal API tokens made by a company admin in settings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import UsedAndRevocable
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.company import Company
    from oauth_server.models.teammate import Teammate


class PersonalToken(UsedAndRevocable, Base):
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

    def is_live(self, now: datetime) -> bool:
        return self.live(self.revoked_at, self.expires_at, now)

    @staticmethod
    def live(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
        """The rule of ``is_live``, for a token read as plain columns (the bearer path)."""
        return revoked_at is None and (expires_at is None or expires_at > now)

    def __repr__(self) -> str:  # never the value
        return f"<PersonalToken {self.id} {self.name!r}>"
