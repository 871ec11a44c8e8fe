"""A teammate: a person who signs in to a company's workspace."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
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


class Teammate(UserMixin, Base):
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
    # Bumped to end every session of this teammate (sign-out everywhere, deactivation).
    session_version: Mapped[int] = mapped_column(default=0)
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

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def team_ids(self) -> set[int]:
        return {team.id for team in self.teams}

    def __repr__(self) -> str:
        return f"<Teammate {self.id} {self.email!r}>"
