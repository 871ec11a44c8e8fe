"""A company (tenant): its plan and features."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy import true
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.team import Team
    from oauth_server.models.teammate import Teammate


class Plan(enum.StrEnum):
    STARTER = "starter"
    GROWTH = "growth"
    SCALE = "scale"


class CompanyRules:
    """What a company's plan allows, written once for its row (``Company``) and for the
    snapshot an API request reads (``services/principals.CompanyRef``)."""

    if TYPE_CHECKING:
        plan: str

    @property
    def on_scale_plan(self) -> bool:
        return self.plan == Plan.SCALE.value


class Company(Base, CompanyRules):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan: Mapped[str] = mapped_column(String(20), default=Plan.STARTER.value)
    teams_feature: Mapped[bool] = mapped_column(default=False)
    # Company settings > Teammates: a teammate created by SCIM gets an invitation e-mail.
    scim_invitations: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    teammates: Mapped[list[Teammate]] = relationship(back_populates="company")
    teams: Mapped[list[Team]] = relationship(back_populates="company", order_by="Team.name")

    @property
    def team_ids(self) -> set[int]:
        return {team.id for team in self.teams}

    def __repr__(self) -> str:
        return f"<Company {self.id} {self.name!r}>"
