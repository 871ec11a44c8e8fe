"""one live grant per teammate and app

Authorizing an app again now joins the teammate's unrevoked grant for it (the scope
becomes the union) instead of adding a grant. A partial unique index on oauth_grants
(company_id, client_pk, teammate_id) WHERE revoked_at IS NULL keeps it to one row, also
against two code exchanges at once.

Existing duplicates are merged first, so that every row is covered and "Apps with Access"
shows one row per teammate and app: per (company, app, teammate), the oldest unrevoked
grant is kept, its scope becomes the union of the group's (in grant order, each scope
once), and the tokens and codes of the others move to it. Every token keeps its own scope
and keeps working; a later revocation of the kept grant ends all of them. The others are
stamped revoked with ``revoked_via = 'merged'`` (rows are never deleted): they own nothing
any more. The downgrade drops the index; merged grants stay merged.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:00:00

"""

from collections import defaultdict
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "uq_oauth_grants_one_live"
UNREVOKED = sa.text("revoked_at IS NULL")

grants = sa.table(
    "oauth_grants",
    sa.column("id", sa.Integer),
    sa.column("company_id", sa.Integer),
    sa.column("client_pk", sa.Integer),
    sa.column("teammate_id", sa.Integer),
    sa.column("scope", sa.String),
    sa.column("revoked_at", sa.DateTime),
    sa.column("revoked_via", sa.String),
)
tokens = sa.table("oauth_tokens", sa.column("grant_id", sa.Integer))
codes = sa.table("oauth_authorization_codes", sa.column("grant_id", sa.Integer))


def _union(scopes: list[str]) -> str:
    return " ".join(dict.fromkeys(s for scope in scopes for s in scope.split()))


def _duplicates(connection: sa.Connection) -> list[list[tuple[int, str]]]:
    """Groups of unrevoked grants of one teammate for one app, oldest first."""
    rows = connection.execute(
        sa.select(
            grants.c.id,
            grants.c.company_id,
            grants.c.client_pk,
            grants.c.teammate_id,
            grants.c.scope,
        )
        .where(grants.c.revoked_at.is_(None), grants.c.teammate_id.is_not(None))
        .order_by(grants.c.id)
    )
    groups: dict[tuple[int, int, int], list[tuple[int, str]]] = defaultdict(list)
    for grant_id, company_id, client_pk, teammate_id, scope in rows:
        groups[(company_id, client_pk, teammate_id)].append((grant_id, scope))
    return [group for group in groups.values() if len(group) > 1]


def _merge(connection: sa.Connection, group: list[tuple[int, str]], now: datetime) -> None:
    kept, _ = group[0]
    others = [grant_id for grant_id, _ in group[1:]]
    union = _union([scope for _, scope in group])
    connection.execute(grants.update().where(grants.c.id == kept).values(scope=union))
    for table in (tokens, codes):
        connection.execute(table.update().where(table.c.grant_id.in_(others)).values(grant_id=kept))
    connection.execute(
        grants.update().where(grants.c.id.in_(others)).values(revoked_at=now, revoked_via="merged")
    )


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as the models store it there (models/base.py)
    for group in _duplicates(connection):
        _merge(connection, group, now)
    op.create_index(
        INDEX,
        "oauth_grants",
        ["company_id", "client_pk", "teammate_id"],
        unique=True,
        sqlite_where=UNREVOKED,
        postgresql_where=UNREVOKED,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="oauth_grants")
