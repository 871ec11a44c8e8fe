"""access levels: a maximum scope set per app

``oauth_clients.max_scope``: the most an app may ask for, space-separated scopes (a
read-only scope counts as within its bare one); NULL, every existing app's value, sets no
maximum. The read-only scopes (``shared:read``...), ``messages:send`` and ``tokens`` need
no change of data: the bare scopes of existing tokens and grants keep read and write.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(sa.Column("max_scope", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("max_scope")
