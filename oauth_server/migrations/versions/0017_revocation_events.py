"""revocation events

An app's event URL and its Standard Webhooks signing secret, encrypted, with the previous
secret kept for a rotation's overlap (``oauth_clients.events_*``); one row per event sent
to an app (``event_deliveries``): its ``webhook-id``, body, status, tries and next try.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Should SQLite copy a table (batch mode), the copy keeps AUTOINCREMENT (ids never given
# again) only when asked.
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("events_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("events_secret", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("events_previous_secret", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("events_previous_until", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_event_deliveries_client_pk_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_event_deliveries_client_pk_created_at",
        "event_deliveries",
        ["client_pk", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_event_deliveries_client_pk_created_at", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    with op.batch_alter_table("oauth_clients", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("events_previous_until")
        batch.drop_column("events_previous_secret")
        batch.drop_column("events_secret")
        batch.drop_column("events_url")
