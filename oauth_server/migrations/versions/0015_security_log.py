"""security log

Company settings > Security log, ``GET /api/v1/audit-events``: one row per token,
consent and policy event (``audit_events``). A new table; nothing existing changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_teammate_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("door", sa.String(length=12), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("client_pk", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("client_name", sa.String(length=100), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_audit_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audit_events_company_id_id", "audit_events", ["company_id", "id"], unique=False
    )
    op.create_index(
        "ix_audit_events_company_id_type_id",
        "audit_events",
        ["company_id", "type", "id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_company_id_time", "audit_events", ["company_id", "time"], unique=False
    )
    op.create_index("ix_audit_events_time", "audit_events", ["time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_time", table_name="audit_events")
    op.drop_index("ix_audit_events_company_id_time", table_name="audit_events")
    op.drop_index("ix_audit_events_company_id_type_id", table_name="audit_events")
    op.drop_index("ix_audit_events_company_id_id", table_name="audit_events")
    op.drop_table("audit_events")
