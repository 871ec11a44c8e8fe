"""A password link: the single-use code e-mailed to set a password (invitation, reset)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.teammate import Teammate


class Purpose(enum.StrEnum):
    INVITE = "invite"
    RESET = "reset"


class PasswordLink(Base):
    """Only the code's SHA-256 is kept (``tokens.lookup_hash``); the code itself is in the
    e-mail alone. A link works while it is unused, not cancelled and not expired; issuing a
    new one for a teammate cancels the ones before (services/password_links.py)."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    teammate_id: Mapped[int] = mapped_column(
        ForeignKey("teammates.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(10))
    # Where the invitation came from ("settings", "scim"), kept by every re-sent link of
    # it; "forgot" for a reset. Cancelling a "settings" invitation removes the teammate.
    via: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )

    teammate: Mapped[Teammate] = relationship(foreign_keys=[teammate_id])

    def live_at(self, moment: datetime) -> bool:
        return self.used_at is None and self.cancelled_at is None and self.expires_at > moment

    def __repr__(self) -> str:
        return f"<PasswordLink {self.id} {self.purpose} of teammate {self.teammate_id}>"
