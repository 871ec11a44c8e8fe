"""invitations and password reset

The ``password_links`` table: the single-use codes e-mailed to set a password (an
invitation, a reset), kept as SHA-256 only; and the company setting that sends an
invitation to each teammate created by SCIM (on for every existing company).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# SQLite: a table copied by batch mode keeps AUTOINCREMENT (ids never given again).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "password_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teammate_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["teammates.id"],
            name=op.f("fk_password_links_created_by_id_teammates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["teammate_id"],
            ["teammates.id"],
            name=op.f("fk_password_links_teammate_id_teammates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_links")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_password_links_code_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_password_links_teammate_id"), "password_links", ["teammate_id"], unique=False
    )
    with op.batch_alter_table("companies", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("scim_invitations", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("companies", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.drop_column("scim_invitations")
    op.drop_index(op.f("ix_password_links_teammate_id"), table_name="password_links")
    op.drop_table("password_links")
