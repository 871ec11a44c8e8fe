"""browser sessions

Sessions are rows a sign-in creates and a sign-out deletes (services/sessions.py): the
cookie carries a secret, no teammate id. ``teammates.session_version`` served the
cookies that named a teammate and a counter; they sign nobody in any more.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:02:17.530114

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teammate_id", sa.Integer(), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["teammate_id"],
            ["teammates.id"],
            name=op.f("fk_browser_sessions_teammate_id_teammates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_browser_sessions_lookup_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_browser_sessions_teammate_id"), ["teammate_id"], unique=False
        )

    # SQLite copies the table: say AUTOINCREMENT again, reflection does not carry it over.
    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("session_version")


def downgrade() -> None:
    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("session_version", server_default=None)

    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_teammate_id"))

    op.drop_table("browser_sessions")
