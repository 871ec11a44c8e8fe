"""A teammate: a person who signs in to a company's workspace."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ColumnElement
from sqlalchemy import ForeignKey
from sqlalchemy import FromClause
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import validates

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow

if TYPE_CHECKING:
    from oauth_server.models.company import Company
    from oauth_server.models.team import Team

EMAIL_MAX = 320
USER_NAME_MAX = 255
EXTERNAL_ID_MAX = 255


def identity_key(value: str) -> str:
    """The form in which e-mails and userNames are compared: NFC, then case folded.

    "é" written as one code point or as "e" and a combining accent is one letter, and
    "Straße" is "STRASSE". Case folding can break NFC, so NFC is applied again.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


class TeammateRules:
    """Whether a teammate's credentials speak for them, written once for the row
    (``Teammate``), the snapshot an API request reads (``services/principals.TeammateRef``)
    and the statements that read ``teammates`` (``acting_in``)."""

    if TYPE_CHECKING:
        active: bool

    @property
    def is_active(self) -> bool:  # Flask-Login too: a deactivated teammate cannot sign in
        return self.acts(self.active)

    @staticmethod
    def acts(active: bool | None) -> bool:
        """For a column read: None is no teammate (an outer join found none)."""
        return active is True

    @staticmethod
    def acting_in(teammates: FromClause) -> ColumnElement[bool]:
        """``acts`` in SQL, over ``teammates`` (the table or an alias of it)."""
        return teammates.c.active.is_(True)


class Teammate(Base, TeammateRules):
    """Flask-Login's user: the properties it reads are spelled out below, rather than
    UserMixin's, whose ``__eq__`` compares ``get_id()`` (here a session, not a row)."""

    __tablename__ = "teammates"
    __table_args__ = (
        Index("ix_teammates_company_id_id", "company_id", "id"),
        # RFC 7643 §4.1: userName is unique within the service provider's tenant.
        UniqueConstraint("company_id", "user_name_key"),
        # Identity providers match accounts by externalId (Okta, Entra).
        Index("ix_teammates_company_id_external_id", "company_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    # E-mail is the sign-in name, so it is unique across companies (stored lower-cased,
    # NFC); ``email_key`` is the form it is compared in (``identity_key``).
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    # SCIM's userName as the identity provider sent it (a UPN, an employee number...);
    # None: the sign-in e-mail stands for it. ``user_name_key`` is the compared form of
    # whichever of the two is the userName, unique in the company.
    user_name: Mapped[str | None] = mapped_column(String(USER_NAME_MAX))
    user_name_key: Mapped[str] = mapped_column(String(USER_NAME_MAX))
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX))
    # SCIM's emails as sent ({"value", "type", "primary", "display"}); None: never sent.
    emails: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    name: Mapped[str] = mapped_column(String(200), default="")
    # SCIM's name parts and displayName as sent ({"name": {...}, "displayName": "..."});
    # None: never sent, ``name`` stands for both.
    scim_names: Mapped[dict[str, Any] | None] = mapped_column(JSON)
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

    # The keys follow the values they are computed from, whoever sets them.
    @validates("email")
    def _key_email(self, _attribute: str, value: str) -> str:
        self.email_key = identity_key(value)
        if self.user_name is None:
            self.user_name_key = self.email_key
        return value

    @validates("user_name")
    def _key_user_name(self, _attribute: str, value: str | None) -> str | None:
        if value is not None:
            self.user_name_key = identity_key(value)
        elif self.email is not None:
            self.user_name_key = identity_key(self.email)
        return value

    @property
    def scim_user_name(self) -> str:
        return self.user_name if self.user_name is not None else self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email

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

    @property
    def password_confirmed_at(self) -> datetime | None:
        """Not a column: when the password was last entered in this browser session,
        set by services/sessions with ``session_secret``."""
        moment: datetime | None = self.__dict__.get("_password_confirmed_at")
        return moment

    @password_confirmed_at.setter
    def password_confirmed_at(self, moment: datetime | None) -> None:
        self.__dict__["_password_confirmed_at"] = moment

    def __repr__(self) -> str:
        return f"<Teammate {self.id} {self.email!r}>"
