"""The security log: one row per token, consent and policy event of a company.

Rows name what they are about by id only (a personal token, a grant, an app, a
teammate), with no foreign key but the company's: the history outlives the rows it
names (a deleted teammate, purged tokens), so the actor's e-mail and the app's client_id
and name are copied in when the row is written. Never a token's value or hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow
from oauth_server.models.clients import CLIENT_ID_MAX
from oauth_server.models.teammate import EMAIL_MAX

TYPE_MAX = 40
IP_MAX = 45  # an IPv6 address with an IPv4 tail


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # Newest first per company (keyset paging), per event type, per date range.
        Index("ix_audit_events_company_id_id", "company_id", "id"),
        Index("ix_audit_events_company_id_type_id", "company_id", "type", "id"),
        Index("ix_audit_events_company_id_time", "company_id", "time"),
        # Retention deletes the oldest rows of every company.
        Index("ix_audit_events_time", "time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(default=utcnow)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(TYPE_MAX))
    # teammate, app, scim or system (security_log.ActorKind)
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_teammate_id: Mapped[int | None]
    actor_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    door: Mapped[str] = mapped_column(String(12))
    token_id: Mapped[int | None]  # a personal token
    grant_id: Mapped[int | None]  # a partner grant
    # The app the event is about (and the actor when actor_kind is "app").
    client_pk: Mapped[int | None]
    client_id: Mapped[str | None] = mapped_column(String(CLIENT_ID_MAX))
    client_name: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(IP_MAX))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.type}>"
