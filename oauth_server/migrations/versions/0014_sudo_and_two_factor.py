"""sudo mode and two-factor sign-in

Sudo mode: each browser session keeps when its teammate last entered their password
(``browser_sessions.password_confirmed_at``; existing sessions have none, so their next
sensitive action asks for the password). Two-factor sign-in: a teammate's encrypted TOTP
secret, when it was turned on and the time step of the last code accepted (``two_factor``,
one row per teammate who set it up), and their hashed single-use recovery codes
(``recovery_codes``). "Require two-factor for admins" (``security_policies``, one row
per company that turned it on: no row is what every company had before, optional).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Should SQLite copy a table (batch mode), the copy keeps AUTOINCREMENT (ids never given
# again) only when asked.
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("browser_sessions", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(
            sa.Column("password_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "two_factor",
        sa.Column("teammate_id", sa.Integer(), nullable=False),
        sa.Column("encrypted_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["teammate_id"],
            ["teammates.id"],
            name=op.f("fk_two_factor_teammate_id_teammates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("teammate_id", name=op.f("pk_two_factor")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teammate_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["teammate_id"],
            ["teammates.id"],
            name=op.f("fk_recovery_codes_teammate_id_teammates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_recovery_codes_teammate_id"), "recovery_codes", ["teammate_id"], unique=False
    )
    op.create_table(
        "security_policies",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("require_two_factor_for_admins", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_security_policies_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["teammates.id"],
            name=op.f("fk_security_policies_updated_by_id_teammates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_security_policies")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("security_policies")
    op.drop_index(op.f("ix_recovery_codes_teammate_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
    with op.batch_alter_table("browser_sessions", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("password_confirmed_at")
