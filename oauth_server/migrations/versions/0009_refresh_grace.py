"""refresh grace: a per-app window in which a just-spent refresh token answers again

``oauth_clients.refresh_grace_seconds`` (0 to 120; 0, every existing app's value, keeps
reuse detection as strict as before). ``oauth_tokens.predecessor_id`` names the pair
whose refresh token was spent for a pair, and ``oauth_tokens.sealed_response`` keeps the
pair's token response encrypted with TOKEN_ENCRYPTION_KEY while its predecessor may be
presented again; both NULL on every existing row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(
            sa.Column("refresh_grace_seconds", sa.Integer(), server_default="0", nullable=False)
        )
    # The foreign key makes SQLite copy the table; the copy keeps AUTOINCREMENT (ids never
    # given again) only when asked.
    with op.batch_alter_table("oauth_tokens", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("predecessor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sealed_response", sa.LargeBinary(), nullable=True))
        batch.create_index(batch.f("ix_oauth_tokens_predecessor_id"), ["predecessor_id"])
        batch.create_foreign_key(
            batch.f("fk_oauth_tokens_predecessor_id_oauth_tokens"),
            "oauth_tokens",
            ["predecessor_id"],
            ["id"],
        )


def downgrade() -> None:
    # The foreign key makes SQLite copy the table; the copy keeps AUTOINCREMENT (ids never
    # given again) only when asked.
    with op.batch_alter_table("oauth_tokens", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_constraint(
            batch.f("fk_oauth_tokens_predecessor_id_oauth_tokens"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_oauth_tokens_predecessor_id"))
        batch.drop_column("sealed_response")
        batch.drop_column("predecessor_id")
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("refresh_grace_seconds")
