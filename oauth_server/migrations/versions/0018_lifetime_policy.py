"""lifetime policy

A company's "Maximum token lifetime" and "Revoke tokens unused for" beside "Require
two-factor for admins" (``security_policies``); per personal token, the stamp of the
lifecycle job that found it past the maximum (``expired_by_policy_at``) and the last
expiry reminder sent (``expiry_reminded_days``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# Should SQLite copy a table (batch mode), the copy keeps AUTOINCREMENT (ids never given
# again) only when asked.
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("security_policies") as batch:
        batch.add_column(sa.Column("max_token_lifetime_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revoke_unused_after_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("personal_tokens", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(
            sa.Column("expired_by_policy_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("expiry_reminded_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("personal_tokens", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("expiry_reminded_days")
        batch.drop_column("expired_by_policy_at")
    with op.batch_alter_table("security_policies") as batch:
        batch.drop_column("revoke_unused_after_days")
        batch.drop_column("max_token_lifetime_days")
