"""resource indicators (RFC 8707): the resources a code and a token pair are bound to

``oauth_authorization_codes.resource`` keeps the resources a client named at
``/oauth/authorize``; ``oauth_tokens.audience`` the resources its access token is good
at. Both are space-separated resource URLs; NULL means no binding (every resource the
scopes reach), which is what every existing row keeps.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 06:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_authorization_codes") as batch:
        batch.add_column(sa.Column("resource", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.add_column(sa.Column("audience", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("audience")
    with op.batch_alter_table("oauth_authorization_codes") as batch:
        batch.drop_column("resource")
