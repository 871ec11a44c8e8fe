"""Revocation events: one row per event sent to an app's event URL (services/events.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, or waiting for its next try
    DELIVERED = "delivered"  # the app answered 2xx
    FAILED = "failed"  # given up: the retry window is over, or the app refused it (4xx)
    DROPPED = "dropped"  # the app was deleted before it was delivered


class EventDelivery(Base):
    """One event for one app, from its enqueueing to its end.

    ``id`` is the Standard Webhooks ``webhook-id``: every try of the event, a redelivery
    included, carries the same one, so the app can recognise a repeat. ``payload`` is the
    JSON body, without any token or secret.
    """

    __tablename__ = "event_deliveries"
    __table_args__ = (Index("ix_event_deliveries_client_pk_created_at", "client_pk", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<uuid4 hex>
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # The HTTP status of the last try, or None when it got no answer (see last_error).
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_try_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<EventDelivery {self.id} {self.type} {self.status}>"
