"""A browser session: one sign-in of a teammate, ended on the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow


class BrowserSession(Base):
    """The cookie carries a random secret; the database keeps only its SHA-256.

    Ending a session deletes its row (services/sessions.py); so does deleting the teammate.
    """

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    teammate_id: Mapped[int] = mapped_column(
        ForeignKey("teammates.id", ondelete="CASCADE"), index=True
    )
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written at most once a minute (services/sessions.SEEN_RESOLUTION).
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the teammate last entered their password in this session (sign-in included):
    # sudo mode (auth/sudo.py) lasts SUDO_MODE_SECONDS from it, and ends with the session.
    password_confirmed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<BrowserSession {self.id} of teammate {self.teammate_id}>"
