"""Workspace resources reached through the API.

Every resource of the six collections is owned either by a team (a team resource) or by
one teammate (a private resource), never both: a check constraint keeps that true.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow
from oauth_server.models.teammate import Teammate


class OwnedResource:
    """Columns shared by team-or-private resources."""

    __tablename__: str  # each model's own

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr
    def company_id(cls) -> Mapped[int]:
        # Indexed with the id, see __table_args__.
        return mapped_column(ForeignKey("companies.id"))

    @declared_attr
    def team_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)

    @declared_attr
    def owner_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("teammates.id", ondelete="CASCADE"), index=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            CheckConstraint("(team_id IS NULL) <> (owner_id IS NULL)", name="one_owner"),
            # The API's lists, newest first (services/keyset.py); also the company's rows.
            Index(f"ix_{cls.__tablename__}_company_id_id", "company_id", "id"),
        )

    @property
    def is_private(self) -> bool:
        return self.owner_id is not None


inbox_access = Table(
    "inbox_access",
    Base.metadata,
    Column("inbox_id", ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("teammate_id", ForeignKey("teammates.id", ondelete="CASCADE"), primary_key=True),
)


class Inbox(OwnedResource, Base):
    __tablename__ = "inboxes"
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(320))
    teammates: Mapped[list[Teammate]] = relationship(secondary=inbox_access, order_by="Teammate.id")


class Channel(OwnedResource, Base):
    __tablename__ = "channels"
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30), default="email")
    address: Mapped[str | None] = mapped_column(String(320))


class Conversation(OwnedResource, Base):
    __tablename__ = "conversations"
    subject: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="open")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    __tablename__ = "messages"
    # A conversation's messages, newest first (the API's list) or oldest first.
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Contact(OwnedResource, Base):
    __tablename__ = "contacts"
    name: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)


class Tag(OwnedResource, Base):
    __tablename__ = "tags"
    name: Mapped[str] = mapped_column(String(200))
    highlight: Mapped[str | None] = mapped_column(String(20))


class Rule(OwnedResource, Base):
    __tablename__ = "rules"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)


shift_teammates = Table(
    "shift_teammates",
    Base.metadata,
    Column("shift_id", ForeignKey("shifts.id", ondelete="CASCADE"), primary_key=True),
    Column("teammate_id", ForeignKey("teammates.id", ondelete="CASCADE"), primary_key=True),
)


class Shift(Base):
    """Working hours of some teammates: weekly time ranges in one time zone."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_company_id_id", "company_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"day": "mon", "start": "09:00", "end": "17:00"}, ...]
    ranges: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    teammates: Mapped[list[Teammate]] = relationship(
        secondary=shift_teammates, order_by="Teammate.id"
    )


RESOURCE_MODELS: dict[str, type[OwnedResource]] = {
    "inboxes": Inbox,
    "channels": Channel,
    "conversations": Conversation,
    "contacts": Contact,
    "tags": Tag,
    "rules": Rule,
}
