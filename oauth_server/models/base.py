"""Declarative base: naming convention for stable migrations, UTC timestamps."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import TypeDecorator
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import registry

from oauth_server import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    # Looked up at each call: a test that moves ``clock.now`` moves every caller.
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """None with psycopg: it reads ``timestamptz`` as aware datetimes in the session's
        time zone, which every connection sets to UTC (connections.py), so there is nothing
        left to convert. A list of 50 items would otherwise make 100 calls."""
        if dialect.driver == "psycopg":
            return None
        return super().result_processor(dialect, coltype)


METADATA = MetaData(naming_convention=NAMING_CONVENTION)


@event.listens_for(Table, "after_parent_attach")
def _ids_never_reused(table: Table, parent: Any) -> None:
    """Every table of ours: SQLite's AUTOINCREMENT on a single integer primary key.

    Without it SQLite gives a deleted row's id to the next row, and whatever still names
    the old id (a ``team:<id>`` scope, a log line, a link) names the new row. PostgreSQL
    sequences never go back. SQLite ignores the option on other primary keys.
    """
    if parent is METADATA:
        table.dialect_kwargs["sqlite_autoincrement"] = True


class Base(DeclarativeBase):
    registry = registry(
        metadata=METADATA,
        type_annotation_map={datetime: UTCDateTime()},
    )


class UsedAndRevocable:
    """Columns of what a company can monitor and revoke: personal tokens, partner grants.

    Rows are stamped, never deleted (services/revocation.py); "last used" is written at
    most once per resolution (services/usage.py).
    """

    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_via: Mapped[str | None] = mapped_column(String(20))

    @declared_attr
    def revoked_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("teammates.id", ondelete="SET NULL"))
