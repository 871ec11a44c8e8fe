"""A teammate: a person who signs in to a company's workspace."""

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
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.company import Company
    from oauth_server.models.team import Team


class Teammate(Base):
    """Flask-Login's user: the properties it reads are spelled out below, rather than
    UserMixin's, whose ``__eq__`` compares ``get_id()`` (here a session, not a row)."""

    __tablename__ = "teammates"
    __table_args__ = (Index("ix_teammates_company_id_id", "company_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    # E-mail is the sign-in name, so it is unique across companies (stored lower-cased).
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # "Allow API access to my private resources": off until the teammate or an admin says so.
    private_api_access: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    company: Mapped[Company] = relationship(back_populates="teammates")
    teams: Mapped[list[Team]] = relationship(
        secondary="team_memberships", back_populates="members", order_by="Team.name"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated teammate cannot sign in
        return self.active

    @property
    def is_authenticated(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_anonymous(self) -> bool:  # Flask-Login
        return False

    @property
    def session_secret(self) -> str | None:
        """Not a column: the secret of the browser session this teammate was signed in with,
        set by services/sessions. Flask-Login keeps it in the cookie as the "user id"."""
        secret: str | None = self.__dict__.get("_session_secret")
        return secret

    @session_secret.setter
    def session_secret(self, secret: str) -> None:
        self.__dict__["_session_secret"] = secret

    def get_id(self) -> str:
        """The browser session's secret: the cookie names a session, never a row id."""
        if not self.session_secret:
            raise RuntimeError("sign in through services.sessions.start_session")
        return self.session_secret

    @property
    def team_ids(self) -> set[int]:
        return {team.id for team in self.teams}

    def __repr__(self) -> str:
        return f"<Teammate {self.id} {self.email!r}>"
