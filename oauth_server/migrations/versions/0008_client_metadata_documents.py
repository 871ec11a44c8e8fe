"""client ID metadata documents: apps known by the URL of their metadata document

``oauth_clients.client_id`` grows to 255 characters, room for the https URL such an app
uses as its client_id; ``oauth_clients.metadata_expires_at`` is set for those apps only:
the stored copy of their document is used until then, and fetched again after.
On SQLite the batch copies the table: ``sqlite_autoincrement`` keeps ids never reused
(0004). A downgrade fails on PostgreSQL while a client_id longer than 64 is stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table(
        "oauth_clients", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.alter_column(
            "client_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column("metadata_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table(
        "oauth_clients", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("metadata_expires_at")
        batch.alter_column(
            "client_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
